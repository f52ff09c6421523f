"""One helper per concept (issue 14): 04 and the model check read "offline" and "a path" alike."""

from __future__ import annotations

import pytest
from cinesub import asr, modelcheck, models


def test_asr_and_model_check_share_one_path_rule():
    assert asr.looks_like_path is modelcheck.looks_like_path is models.looks_like_path
    assert [
        modelcheck.looks_like_path(n) for n in ("large-v3", "Systran/faster-whisper-tiny", "./m", "a/b/c")
    ] == [
        False,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("value", "offline"),
    [("", False), ("0", False), ("false", False), ("1", True), ("true", True), ("ON", True)],
)
def test_offline_means_the_same_everywhere(monkeypatch, value, offline):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert asr.is_offline() is models.is_offline() is offline


def test_asr_model_lookup_obeys_the_shared_offline_rule(monkeypatch, tmp_path):
    # HF_HUB_OFFLINE=false used to count as offline in 04 and online in the model fetcher
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(asr.CinesubError, match="HF_HUB_OFFLINE is set"):
        asr.resolve_model("no-such-model-xyz", str(tmp_path))


def test_one_way_to_read_an_optional_rule_input():
    """A switched-off stage's input is absent or an empty list; a present one is a path or a list of one."""
    from types import SimpleNamespace

    from cinesub import runner

    files = SimpleNamespace(path="jobs/j/x.json", listed=["jobs/j/y.json"], off=[], empty="")
    assert [runner.optional_input(files, n) for n in ("path", "listed", "off", "empty", "missing")] == [
        "jobs/j/x.json",
        "jobs/j/y.json",
        None,
        None,
        None,
    ]


def test_asr_and_translation_use_the_result_cache_one_way(tmp_path, monkeypatch):
    """stagecache.reuse: off makes no key and computes every time; on computes once per key."""
    from cinesub import stagecache

    monkeypatch.delenv(stagecache.ENV_VAR, raising=False)
    calls, keys = [], []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    def make_key(cache):
        keys.append(cache.stage)
        return cache.key(data={"x": 1})

    assert stagecache.reuse("off", "08_translation", make_key, compute) == ({"n": 1}, None, False)
    assert keys == []  # no key material gathered (no audio hashed) with the cache off
    first = stagecache.reuse(str(tmp_path), "08_translation", make_key, compute)
    again = stagecache.reuse(str(tmp_path), "08_translation", make_key, compute)
    assert first[0] == again[0] == {"n": 2} and first[1] == again[1] and (first[2], again[2]) == (False, True)
    assert keys == ["08_translation", "08_translation"] and len(calls) == 2


def test_job_sheet_columns_come_from_the_schema_and_its_defaults_fill_the_sheet(tmp_path):
    """The columns are listed once (jobs.schema.json); a sheet with only the required columns runs,
    because common.smk validates the whole frame once and the schema's defaults fill the rest."""
    import json
    from pathlib import Path

    from cinesub import jobsheet
    from conftest import run_snakemake, write_workdir

    schema = json.loads(Path(jobsheet.SCHEMA_PATH).read_text(encoding="utf-8"))
    assert jobsheet.COLUMNS == tuple(schema["properties"]) and jobsheet.REQUIRED == (
        "job",
        "media",
        "source_lang",
    )
    assert {c for c in jobsheet.COLUMNS if "default" in schema["properties"][c]} == set(
        jobsheet.COLUMNS
    ) - set(jobsheet.REQUIRED)
    film = tmp_path / "film.mkv"
    film.write_bytes(b"")  # a dry run reads only the sheet
    write_workdir(tmp_path / "w", [])
    (tmp_path / "w" / "config" / "jobs.tsv").write_text(
        jobsheet.sheet_text([{"job": "only", "media": str(film), "source_lang": "en"}], jobsheet.REQUIRED)
    )
    result = run_snakemake(tmp_path / "w", "-n", "jobs/only/10_mux/out.mkv", check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "jobs/only/01_demux" in result.stdout


def test_demo_film_logs_the_stage_runners_way(tmp_path):
    """make_demo_film.py uses runner's logging and fd 2 capture: its log has the run, the console does not."""
    from conftest import run_snakemake, write_workdir

    write_workdir(tmp_path, [])
    result = run_snakemake(tmp_path, "demo/film.mkv")
    log = (tmp_path / "demo" / "logs" / "demo_make_film.log").read_text()
    assert " INFO demo film with " in log and (tmp_path / "demo" / "film.mkv").stat().st_size > 0
    assert "demo film with" not in result.stdout + result.stderr
