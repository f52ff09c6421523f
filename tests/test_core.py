"""Shared pieces: segments schema, atomic writes, manifests, the stage runner, languages."""

from __future__ import annotations

import errno
import json
import logging
import os
from types import SimpleNamespace

import pytest
from cinesub import fileio, languages, manifest, runner, segments
from cinesub.errors import CinesubError
from snakemake.iocontainers import Namedlist


def seg(i, start, end, text="hello"):
    return {
        "id": i,
        "start": start,
        "end": end,
        "text": text,
        "words": [{"word": text, "start": start, "end": end, "probability": 0.9}],
    }


def test_new_document_orders_and_renumbers(tmp_path):
    doc = segments.new_document("j", "en", "04_asr", [seg(5, 3.0, 4.0), seg(9, 1.0, 2.0)], duration=5.0)
    assert [s["id"] for s in doc["segments"]] == [0, 1] and doc["segments"][0]["start"] == 1.0
    path = tmp_path / "s.json"
    segments.save(path, doc)
    assert segments.load(path) == doc
    derived = segments.derive(doc, "05_ner", doc["segments"][:1], meta={"model": "x"})
    assert derived["stage"] == "05_ner" and derived["meta"]["05_ner"] == {"model": "x"}
    assert derived["duration"] == 5.0


def test_schema_rejects_bad_documents():
    doc = segments.new_document("j", "en", "04_asr", [seg(0, 1.0, 2.0)])
    doc["segments"][0]["colour"] = "red"
    with pytest.raises(CinesubError, match="segments/0"):
        segments.validate(doc)
    backwards = segments.new_document("j", "en", "04_asr", [seg(0, 2.0, 1.0)])
    with pytest.raises(CinesubError, match="ends before it starts"):
        segments.validate(backwards)


def test_set_flag_keeps_other_stages():
    s = seg(0, 0, 1)
    segments.set_flag(s, "06", "a", 1)
    segments.set_flag(s, "07", "b", 2)
    segments.set_flag(s, "06", "c", 3)
    assert s["flags"] == {"06": {"a": 1, "c": 3}, "07": {"b": 2}}


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    fileio.write_json_atomic(target, {"a": "ä"})
    assert fileio.read_json(target) == {"a": "ä"}
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_manifest_hashes_and_redacts(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("abc")
    started = manifest.now()
    record = manifest.build(
        "01_demux",
        "j",
        [str(data)],
        [str(tmp_path), str(tmp_path / "missing")],
        {"api_key": "SECRET", "nested": {"token": "T", "ok": [1, {"password": "p"}]}},
        started,
        manifest.now(),
        packages=("pytest", "not-a-package"),
    )
    assert record["inputs"][0]["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert record["outputs"][0]["size"] == 3 and record["outputs"][1]["missing"]
    assert "SECRET" not in json.dumps(record) and "pytest" in record["versions"]
    assert record["params"]["nested"]["ok"][1]["password"] == "<redacted>"


def fake_snakemake(tmp_path, **outputs):
    out = Namedlist(fromdict={**outputs, "manifest": str(tmp_path / "manifest.json")})
    return SimpleNamespace(
        wildcards=Namedlist(fromdict={"job": "j9"}),
        log=Namedlist([str(tmp_path / "s.log")]),
        input=Namedlist([]),
        output=out,
        params=Namedlist(fromdict={"x": 1}),
        threads=1,
        resources=Namedlist(),
    )


def test_runner_success_writes_manifest(tmp_path):
    smk = fake_snakemake(tmp_path, result=str(tmp_path / "r.txt"))

    def stage(ctx):
        fileio.write_text_atomic(ctx.output.result, "done")
        ctx.models["m"] = "tiny"

    runner.run_stage(smk, "99_test", stage)
    record = manifest.load(tmp_path / "manifest.json")
    assert record["stage"] == "99_test" and record["job"] == "j9" and record["models"] == {"m": "tiny"}
    assert [o["path"] for o in record["outputs"]] == [str(tmp_path / "r.txt")]


@pytest.mark.parametrize(
    "exc, expected",
    [
        (CinesubError("media file is empty"), "cinesub: job j9: 99_test: media file is empty"),
        (
            OSError(errno.ENOSPC, "No space left", "/x/out.wav"),
            "no space left on device while writing /x/out.wav",
        ),
        (ValueError("bad\nvalue"), "ValueError: bad value"),
        (MemoryError(), "out of memory"),
    ],
)
def test_runner_failure_is_one_line(tmp_path, capfd, exc, expected):
    smk = fake_snakemake(tmp_path)

    def stage(ctx):
        raise exc

    with pytest.raises(SystemExit) as code:
        runner.run_stage(smk, "99_test", stage)
    assert code.value.code == runner.REPORTED  # "already said": the console leaves out Snakemake's wrapping
    err = capfd.readouterr().err.strip()  # fd 2: the line reaches the console around the log's capture
    assert expected in err and "\n" not in err and err.startswith("cinesub: job j9: 99_test:")
    assert not (tmp_path / "manifest.json").exists()
    assert expected.replace("cinesub: ", "") in (tmp_path / "s.log").read_text()


def test_stage_log_holds_everything_the_process_printed(tmp_path, capfd):
    """Native stderr (fd 2: CTranslate2, ffmpeg, onnxruntime), Python warnings and other libraries'
    loggers go to the rule's log; the console gets only the progress line and the one cinesub: line."""
    import warnings

    from cinesub.progress import Progress

    smk = fake_snakemake(tmp_path)

    def stage(ctx):
        os.write(2, b"native library chatter on fd 2\n")
        warnings.warn("a library's deprecation warning", DeprecationWarning, stacklevel=1)
        logging.getLogger("somelibrary").warning("a library's own log line")
        Progress(ctx.log, "job j9: 99_test")(100.0)
        raise CinesubError("the stage failed")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with pytest.raises(SystemExit):
            runner.run_stage(smk, "99_test", stage)
    err = capfd.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in err] == ["cinesub progress", "cinesub"], err
    assert err[-1] == "cinesub: job j9: 99_test: the stage failed"
    log = (tmp_path / "s.log").read_text()
    for text in (
        "start 99_test",
        "native library chatter on fd 2",
        "a library's deprecation warning",
        "a library's own log line",
        "100.0%",
        "job j9: 99_test: the stage failed",
    ):
        assert text in log, text
    os.write(2, b"after the stage\n")  # fd 2 is the console again
    assert (
        "after the stage" in capfd.readouterr().err
        and "after the stage" not in (tmp_path / "s.log").read_text()
    )


def test_languages():
    assert languages.get("hi").iso639_2 == "hin" and languages.get("hi").flores == "hin_Deva"
    with pytest.raises(CinesubError, match="unknown language code 'xx'"):
        languages.get("xx", job="j")
    share = languages.script_share("Hello दोस्त 123")
    assert share["Latn"] == pytest.approx(0.5) and share["Deva"] == pytest.approx(
        0.5
    )  # 5 letters, 5 code points
    assert languages.script_share("123 !!") == {}
    assert languages.script_of("ا") == "Arab" and languages.script_of("1") is None


def test_error_line_format():
    assert CinesubError("multi\n  line", job="a", stage="b").line() == "job a: b: multi line"
    assert str(CinesubError("x")) == "x"


def test_umask_respected(tmp_path):
    old = os.umask(0o077)
    try:
        fileio.write_text_atomic(tmp_path / "a", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o600


def test_stage_params_join_one_setting_params_and_add_run_settings_from_the_config():
    from cinesub.stagecache import run_setting_keys

    config = {"asr": {"beam_size": 5, "mem_mb": 4000, "threads": 2, "model_cache": "", "result_cache": ""}}
    params = {"asr__beam_size": {"beam_size": 5}, "language": "en"}
    joined = runner.stage_params(params, config)
    assert joined == {"asr": {**config["asr"]}, "language": "en"}
    # the run settings are what the schema marks, never a result setting
    assert {"mem_mb", "threads", "model_cache", "result_cache"} == run_setting_keys("asr")
    tmdb = {"timeout_s", "retries", "backoff_s", "breaker_threshold", "breaker_reset_s", "cache_dir"}
    assert run_setting_keys("tmdb") == tmdb
