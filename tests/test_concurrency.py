"""Eight films at once on two cores: outputs and logs never mix, and the GPU slot is honoured.

ASR runs with ``device: auto`` (a GPU when there is one, else the CPU), so every ASR job claims
the one ``gpu`` slot of ``--resources gpu=1`` even on this CPU-only machine: the scheduler must
never run two of them together, while other rules do run side by side.
"""

from __future__ import annotations

import json
import re

import pytest
from cinesub import mediafile
from conftest import NO_OPTIONAL_STAGES, run_snakemake, write_workdir
from reliability import SHORT_LINES, closest_sentence, short_film, subtitle_text_in_mkv

pytestmark = pytest.mark.slow

JOB_START = re.compile(r"^(?:local)?rule (?P<rule>\w+):$")
JOB_ID = re.compile(r"^jobid: (?P<id>\d+)$")
JOB_END = re.compile(r"^Finished jobid: (?P<id>\d+)")
JOB_ERROR = re.compile(r"^Error in rule (?P<rule>\w+):$")


def peak_concurrency(scheduler_output: str) -> dict[str, int]:
    """From snakemake's own job start/finish messages: the most jobs running at once, per rule
    and in all (key ``*``)."""
    running: dict[str, str] = {}
    peak: dict[str, int] = {"*": 0}
    pending_rule, ending = None, False
    for raw in scheduler_output.splitlines():
        line = raw.strip()
        if match := JOB_START.match(line):
            pending_rule, ending = match["rule"], False
        elif match := JOB_ERROR.match(line):
            pending_rule, ending = None, True
        elif (match := JOB_ID.match(line)) and (pending_rule or ending):
            if ending:
                running.pop(match["id"], None)
            elif pending_rule != "all":
                running[match["id"]] = pending_rule
            pending_rule, ending = None, False
        elif match := JOB_END.match(line):
            running.pop(match["id"], None)
        else:
            continue
        peak["*"] = max(peak["*"], len(running))
        for rule in set(running.values()):
            peak[rule] = max(peak.get(rule, 0), sum(1 for r in running.values() if r == rule))
    return peak


def test_peak_concurrency_reads_the_scheduler_messages():
    output = "\n".join(
        [
            "localrule demux_extract:",
            "    jobid: 3",
            "localrule asr_transcribe:",
            "    jobid: 5",
            "Finished jobid: 3 (Rule: demux_extract)",
            "localrule asr_transcribe:",
            "    jobid: 7",
            "Error in rule asr_transcribe:",
            "    jobid: 5",
            "Finished jobid: 7 (Rule: asr_transcribe)",
            "localrule all:",
            "    jobid: 0",
        ]
    )
    assert peak_concurrency(output) == {"*": 2, "demux_extract": 1, "asr_transcribe": 2}


@pytest.fixture(scope="module")
def eight_jobs(tmp_path_factory):
    films_dir = tmp_path_factory.mktemp("films")
    jobs = {f"job-{key}": short_film(films_dir, key) for key in SHORT_LINES}
    assert len(jobs) == 8
    workdir = write_workdir(
        tmp_path_factory.mktemp("eight"),
        [{"job": job, "media": str(film), "source_lang": "en"} for job, film in jobs.items()],
        {"stages": NO_OPTIONAL_STAGES, "asr": {"device": "auto", "threads": 1}},
    )
    result = run_snakemake(workdir, "--jobs", "8", "--resources", "gpu=1")
    return workdir, jobs, result


def test_gpu_slot_serialises_asr_while_other_rules_overlap(eight_jobs):
    _, _, result = eight_jobs
    peak = peak_concurrency(result.stderr + result.stdout)
    assert peak["asr_transcribe"] == 1, peak
    assert peak["*"] >= 2 and peak["demux_extract"] >= 2, peak  # the run really was parallel


def test_outputs_do_not_mix(eight_jobs):
    workdir, jobs, _ = eight_jobs
    for job, film in jobs.items():
        key = job.removeprefix("job-")
        assert closest_sentence(subtitle_text_in_mkv(workdir / f"jobs/{job}/10_mux/out.mkv")) == key, job
        assert closest_sentence((workdir / f"jobs/{job}/09_subtitle_gen/en.srt").read_text()) == key, job
        assert mediafile.load(workdir / f"jobs/{job}/01_demux/media.json")["path"] == str(film)
        for manifest in (workdir / "jobs" / job).glob("*/*manifest.json"):
            assert json.loads(manifest.read_text())["job"] == job, manifest


def test_logs_do_not_mix(eight_jobs):
    workdir, jobs, _ = eight_jobs
    expected = ["01_demux.log", "04_asr.log", "09_subtitle_gen.en.log", "10_mux.log", "review.log"]
    for job in jobs:
        logs = sorted((workdir / "jobs" / job / "logs").glob("*.log"))
        assert [p.name for p in logs] == expected
        for log in logs:
            text = log.read_text()
            assert f"for job {job}" in text, log
            others = [other for other in jobs if other != job and (other in text or str(jobs[other]) in text)]
            assert others == [], (log, others)


@pytest.mark.parametrize("media_ok", [True, False], ids=["success", "failure"])
def test_snakemake_exits_when_its_jobs_are_done(tmp_path, english_film, media_ok):
    """Snakemake arms a rescheduling timer per round that lasts the --max-jobs-per-timespan window;
    with a one-hour window the process would linger an hour after its last job unless the
    onsuccess/onerror hooks release the timers."""
    film = english_film[0] if media_ok else tmp_path / "not_a_film.mkv"
    if not media_ok:
        film.write_text("this is not a film\n")
    workdir = write_workdir(tmp_path / "work", [{"job": "river", "media": str(film), "source_lang": "en"}])
    target = "jobs/river/01_demux/audio.wav"
    result = run_snakemake(workdir, "--max-jobs-per-timespan", "100/1h", target, timeout=180, check=False)
    assert (result.returncode == 0) == media_ok, result.stderr[-2000:]
    assert (workdir / target).exists() == media_ok
