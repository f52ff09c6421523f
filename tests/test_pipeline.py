"""End to end through the real snakemake CLI on a synthetic film with known text and timing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import jiwer
import pytest
import srt
from cinesub import manifest as manifest_file
from cinesub import qcfile
from conftest import NO_OPTIONAL_STAGES, ffprobe_streams, run_snakemake, write_workdir

pytestmark = pytest.mark.slow

TARGET = "jobs/film1/10_mux/out.mkv"


def normalise(text: str) -> str:
    transform = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()]
    )
    return transform(text)


@pytest.fixture(scope="module")
def spine_run(tmp_path_factory, english_film):
    film, truth = english_film
    workdir = write_workdir(
        tmp_path_factory.mktemp("spine"),
        [{"job": "film1", "media": str(film), "source_lang": "en", "title": "River"}],
        {"stages": NO_OPTIONAL_STAGES},
    )
    result = run_snakemake(workdir, TARGET)
    return workdir, truth, result


def test_mkv_has_tagged_english_track(spine_run):
    workdir, _, _ = spine_run
    streams = ffprobe_streams(workdir / TARGET)
    subs = [s for s in streams if s["codec_type"] == "subtitle"]
    assert [s["tags"]["language"] for s in subs] == ["eng"]
    assert subs[0]["tags"]["title"] == "English"
    # the film's own language only: a transcript, not turned on by players unless asked for
    assert subs[0]["disposition"]["default"] == 0
    assert {s["codec_type"] for s in streams} == {"video", "audio", "subtitle"}


def test_subtitles_match_known_text_and_timing(spine_run):
    workdir, truth, _ = spine_run
    cues = list(srt.parse((workdir / "jobs/film1/09_subtitle_gen/en.srt").read_text(encoding="utf-8")))
    assert cues
    hypothesis = normalise(" ".join(c.content.replace("\n", " ") for c in cues))
    reference = normalise(" ".join(s["text"] for s in truth))
    wer = jiwer.wer(reference, hypothesis)
    assert wer <= 0.15, (wer, hypothesis)
    for sentence in truth:
        # the first cue that overlaps the sentence must start within 0.3 s of it
        overlapping = [
            c
            for c in cues
            if c.end.total_seconds() > sentence["start"] and c.start.total_seconds() < sentence["end"]
        ]
        assert overlapping, sentence
        assert abs(overlapping[0].start.total_seconds() - sentence["start"]) <= 0.3, (
            sentence,
            overlapping[0],
        )


def test_every_cue_conforms_or_is_reported(spine_run):
    workdir, _, _ = spine_run
    qc = qcfile.load(workdir / "jobs/film1/09_subtitle_gen/en.qc.json")
    cues = list(srt.parse((workdir / "jobs/film1/09_subtitle_gen/en.srt").read_text(encoding="utf-8")))
    assert qc["cues"] == len(cues)
    reported = {item["index"] for item in qc["nonconforming"]}
    for index, cue in enumerate(cues):
        lines = cue.content.split("\n")
        duration = (cue.end - cue.start).total_seconds()
        cps = len(" ".join(lines)) / duration
        ok = (
            len(lines) <= 2
            and all(len(line) <= 42 for line in lines)
            and cps <= 20
            and 0.833 <= duration <= 7
        )
        assert ok or index in reported, (index, cue)
    for earlier, later in zip(cues, cues[1:]):
        assert (later.start - earlier.end).total_seconds() >= 2 / 25 - 1e-3


def test_vtt_written(spine_run):
    import webvtt

    workdir, _, _ = spine_run
    captions = webvtt.read(str(workdir / "jobs/film1/09_subtitle_gen/en.vtt"))
    assert len(captions) > 0


def test_manifests_describe_each_stage(spine_run):
    workdir, _, _ = spine_run
    for stage in ("01_demux", "04_asr", "10_mux"):
        manifest = manifest_file.load(workdir / f"jobs/film1/{stage}/manifest.json")
        assert manifest["stage"] == stage and manifest["job"] == "film1"
        assert manifest["outputs"] and all(len(o["sha256"]) == 64 for o in manifest["outputs"])
        assert manifest["duration_s"] >= 0 and manifest["host"]
    asr_manifest = manifest_file.load(workdir / "jobs/film1/04_asr/manifest.json")
    assert "faster-whisper" in asr_manifest["versions"]
    assert asr_manifest["params"]["asr"]["model"] == "tiny.en-bundled"


def test_asr_reports_progress_in_log_and_on_console(spine_run):
    workdir, _, result = spine_run
    log = (workdir / "jobs/film1/logs/04_asr.log").read_text()
    assert re.search(
        r"progress job film1: 04_asr: 100\.0%, 0:00:\d\d of 0:00:\d\d audio, 0:00:\d\d elapsed, "
        r"ETA 0:00:00",
        log,
    ), log
    prefix = "cinesub progress: job film1: 04_asr:"
    console = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert len(console) >= 2 and console[-1].endswith("ETA 0:00:00"), result.stderr[-2000:]


def test_second_run_does_nothing(spine_run):
    workdir, _, _ = spine_run
    result = run_snakemake(workdir, TARGET)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_failure_then_fix_resumes_without_redoing_demux(tmp_path, english_film):
    film, _ = english_film
    jobs = [{"job": "film2", "media": str(film), "source_lang": "en"}]
    broken_model = tmp_path / "broken-model"
    broken_model.mkdir()  # a model folder with a damaged model.bin: passes the start-up check, fails in 04
    (broken_model / "model.bin").write_bytes(b"not a CTranslate2 model")
    workdir = write_workdir(
        tmp_path, jobs, {"stages": NO_OPTIONAL_STAGES, "asr": {"model": str(broken_model)}}
    )
    failed = run_snakemake(workdir, "jobs/film2/10_mux/out.mkv", check=False)
    assert failed.returncode != 0
    assert f"job film2: 04_asr: cannot load ASR model {broken_model} on cpu: " in failed.stderr
    audio = workdir / "jobs/film2/01_demux/audio.wav"
    assert audio.exists()
    assert not (workdir / "jobs/film2/04_asr/segments.json").exists()
    demux_mtime = os.path.getmtime(audio)
    write_workdir(workdir, jobs, {"stages": NO_OPTIONAL_STAGES})
    fixed = run_snakemake(workdir, "jobs/film2/10_mux/out.mkv")
    assert "demux_extract" not in fixed.stdout + fixed.stderr
    assert os.path.getmtime(audio) == demux_mtime
    assert Path(workdir / "jobs/film2/10_mux/out.mkv").exists()


def test_missing_local_model_stops_before_anything_runs(tmp_path, english_film):
    film, _ = english_film
    jobs = [{"job": "film3", "media": str(film), "source_lang": "en"}]
    workdir = write_workdir(
        tmp_path, jobs, {"stages": NO_OPTIONAL_STAGES, "asr": {"model": "./no/such/model"}}
    )
    failed = run_snakemake(workdir, "jobs/film3/10_mux/out.mkv", check=False)
    assert failed.returncode != 0
    assert "config: asr.model: model directory not found: ./no/such/model" in failed.stderr
    assert not (workdir / "jobs").exists()
