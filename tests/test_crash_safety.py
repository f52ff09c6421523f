"""Crash safety: SIGKILL the whole pipeline in the middle of each long-running stage, resume, and
get exactly what an uninterrupted run gives.

One film goes through every stage (TMDB offline, glossary, ASR, NER, lyrics, hallucination removal,
translation en -> hi with a tiny stand-in model, subtitles, mux). The run is killed seven times in a
row, once inside each of 01, 04, 06, 07, 08, 09 and 10; after each kill the files the killed stage
left must not look finished, and the user's recovery (``snakemake --unlock``, then the same command
again: the default profile reruns incomplete jobs) carries on. The end result must equal a run that
was never interrupted: the same subtitle files and the same tracks in the same order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import soundfile
import srt
from conftest import ffprobe_streams, run_snakemake, write_workdir
from reliability import cli_env, snakemake_command, subtitle_text_in_mkv
from tiny_indictrans import build_ct2_standin

pytestmark = pytest.mark.slow

JOB = "crash"
# (stage, seconds to let it work after its log says it started). Demux and mux are killed while
# ffmpeg writes (their temporary output exists) when the poll sees that first.
KILL_POINTS = [
    ("01_demux", 0.05),
    ("04_asr", 0.8),
    ("06_lyrics_detection", 0.0),  # its detect rule (LOGS); the analysis half may have run already
    ("07_hallucination_removal", 0.0),
    ("08_translation", 0.3),
    ("09_subtitle_gen", 0.0),
    ("10_mux", 0.05),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, english_film):
    film, _ = english_film
    model = build_ct2_standin(tmp_path_factory.mktemp("models") / "tiny_indictrans2", "en-indic")
    overrides = {
        "tmdb": {"api_url": "http://127.0.0.1:9", "retries": 0},
        "translation": {"models": {"en-indic": str(model)}, "num_beams": 1},
    }
    jobs = [{"job": JOB, "media": str(film), "source_lang": "en", "target_langs": "hi", "title": "River"}]
    return jobs, overrides


def final_outputs(workdir: Path) -> dict:
    """What the user gets: every subtitle file, and the muxed film's tracks and their text."""
    job = workdir / "jobs" / JOB
    files = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted((job / "09_subtitle_gen").glob("*"))
        if p.suffix in (".srt", ".vtt")
    }
    mkv = job / "10_mux" / "out.mkv"
    tracks = [
        (
            s["codec_type"],
            s["codec_name"],
            (s.get("tags") or {}).get("language"),
            (s.get("tags") or {}).get("title"),
            s["disposition"]["default"],
        )
        for s in ffprobe_streams(mkv)
    ]
    subtitle_count = sum(1 for t in tracks if t[0] == "subtitle")
    muxed = [subtitle_text_in_mkv(mkv, i) for i in range(subtitle_count)]
    return {"files": files, "tracks": tracks, "muxed_subtitles": muxed}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, setup) -> dict:
    jobs, overrides = setup
    workdir = write_workdir(tmp_path_factory.mktemp("uninterrupted"), jobs, overrides)
    run_snakemake(workdir, env={"TMDB_API_KEY": ""})
    return final_outputs(workdir)


# The log whose "start" line marks the rule a kill point aims at (default: every log of the stage).
LOGS = {"06_lyrics_detection": "06_lyrics_detection.log"}


def started(log_dir: Path, stage: str) -> bool:
    logs = log_dir.glob(LOGS.get(stage, f"{stage}*.log"))
    return any(f"start {stage}" in p.read_text(errors="replace") for p in logs)


def writing(stage_dir: Path) -> bool:
    """A temporary output (``.name.XXXXXXXX.ext``) exists: the stage is in the middle of writing."""
    return stage_dir.is_dir() and any(p.name.startswith(".") for p in stage_dir.iterdir())


def run_until_killed(workdir: Path, stage: str, delay: float) -> bool:
    """Start the pipeline and SIGKILL its whole process group inside ``stage``; True when a
    temporary output was being written at that moment."""
    job = workdir / "jobs" / JOB
    process = subprocess.Popen(
        snakemake_command(workdir, "--cores", "2"),
        cwd=workdir,
        env=cli_env({"TMDB_API_KEY": ""}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    seen_at = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the pipeline ended before {stage} could be killed"
            if seen_at is None and started(job / "logs", stage):
                seen_at = time.monotonic()
            if seen_at is not None and (writing(job / stage) or time.monotonic() - seen_at >= delay):
                mid_write = writing(job / stage)
                break
            time.sleep(0.002)
        else:
            pytest.fail(f"{stage} never started")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return mid_write


def assert_nothing_looks_finished(workdir: Path, stage: str) -> None:
    """The killed stage wrote no manifest, and every visible file it left is complete."""
    stage_dir = workdir / "jobs" / JOB / stage
    visible = [p for p in stage_dir.glob("*") if not p.name.startswith(".")] if stage_dir.is_dir() else []
    manifests = [p.name for p in visible if p.name.endswith("manifest.json")]
    if stage == "06_lyrics_detection":  # its analysis half is a rule of its own that may have finished
        manifests = [name for name in manifests if name != "windows.manifest.json"]
    # 08 and 09 run once per language: at most the other language's run may have finished.
    assert len(manifests) <= (1 if stage in ("08_translation", "09_subtitle_gen") else 0), manifests
    for path in visible:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".wav":
            assert soundfile.info(str(path)).frames > 0
        elif path.suffix == ".srt":
            assert list(srt.parse(path.read_text(encoding="utf-8")))
        elif path.suffix == ".mkv":
            assert ffprobe_streams(path)
    assert any((workdir / ".snakemake" / "incomplete").iterdir()), "snakemake did not mark the job incomplete"


def test_killed_in_every_stage_then_resumed_equals_uninterrupted(tmp_path, setup, uninterrupted):
    jobs, overrides = setup
    workdir = write_workdir(tmp_path / "work", jobs, overrides)
    for number, (stage, delay) in enumerate(KILL_POINTS):
        mid_write = run_until_killed(workdir, stage, delay)
        print(f"killed in {stage}{' while writing' if mid_write else ''}")
        assert_nothing_looks_finished(workdir, stage)
        if number == 0:
            # what the user sees first: the stale lock, and how to clear it
            locked = run_snakemake(workdir, check=False, env={"TMDB_API_KEY": ""})
            assert locked.returncode != 0 and "--unlock" in locked.stderr
        run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, env={"TMDB_API_KEY": ""})
    assert final_outputs(workdir) == uninterrupted
    leftovers = [str(p.relative_to(workdir)) for p in (workdir / "jobs").rglob(".*")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    assert not any((workdir / ".snakemake" / "incomplete").iterdir())
