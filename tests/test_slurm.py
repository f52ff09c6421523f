"""The SLURM profile for real: a one-node SLURM (munge + slurmctld + slurmd, fake GPU gres) runs a batch of
films from a job sheet through sbatch with `--profile profiles/slurm`.

Run 1: three films, one of them corrupt. The two good films come out muxed; the corrupt one fails in
01_demux, is retried with more memory and time on each attempt, and its SLURM log holds the one-line error.
Run 2: the film is fixed; the re-run submits only that film's three jobs (01, 04, and 09 + 10 + the
review page as one group job: profiles/slurm groups a film's light stages).

The fixture starts SLURM with .ci/slurm-up.sh when it is not running (root only); elsewhere the tests skip
with the reason, except under CI (CI=true), where a SLURM that cannot start is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import (
    ENGLISH_LINES,
    NO_OPTIONAL_STAGES,
    REPO,
    SNAKEMAKE,
    build_film,
    ffprobe_streams,
    run_snakemake,
    write_workdir,
)
from reliability import run_under_sbatch_shim

pytestmark = pytest.mark.slow

FILMS = ["film0", "film1", "film2"]
BROKEN = "film2"
# SLURM jobs per film: a group job is named after its group ("tail": 09 + 10, profiles/slurm)
RULES_PER_FILM = ["demux_extract", "asr_transcribe", "tail"]
# The first status check comes this many seconds after a submission (the profile's 20 s suits a real
# cluster; jobs here take ~15 s). squeue needs MinJobAge >= 3x this, which slurm-up.sh gives (300 s).
FIRST_STATUS_CHECK_S = 12

# Records every sbatch call (time, arguments, SLURM job id) and passes it on to the real sbatch.
SBATCH_SHIM = """#!/bin/bash
out=$({sbatch} "$@")
status=$?
printf '%s\\t%s\\t%s\\n' "$(date +%s.%N)" "$out" "$*" >> "$SBATCH_CALL_LOG"
echo "$out"
exit $status
"""


def slurm_ready() -> bool:
    if not shutil.which("scontrol") or not shutil.which("sbatch"):
        return False
    try:
        if subprocess.run(["scontrol", "ping"], capture_output=True, timeout=10).returncode != 0:
            return False
        state = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10
        ).stdout.split()
    except subprocess.TimeoutExpired:
        return False
    return any(s.startswith(("idle", "mixed", "allocated")) for s in state)


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"SLURM must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_cluster():
    if slurm_ready():
        return
    if os.geteuid() != 0:
        unavailable("no SLURM node is up and starting one needs root: run `sudo bash .ci/slurm-up.sh`")
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "slurm-up.sh")], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0 or not slurm_ready():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        unavailable(f".ci/slurm-up.sh could not start SLURM: {' | '.join(tail)}")


class SbatchLog:
    def __init__(self, path: Path):
        self.path = path

    def calls(self) -> list[dict]:
        if not self.path.exists():
            return []
        calls = []
        for line in self.path.read_text().splitlines():
            stamp, slurm_id, args = line.split("\t", 2)
            comment = re.search(r"--comment (\S+)", args).group(1)
            rule, _, wildcards = comment.removeprefix("rule_").partition("_wildcards_")
            if not wildcards:  # a group job "<group>_<its rules>": its target jobs name the film
                rule = rule.partition("_")[0]
                wildcards = "_".join(sorted(set(re.findall(r"job=(\w+)", args))))
            mem = re.search(r"--mem (\d+)", args)
            runtime = re.search(r" -t (\d+)", args)
            calls.append(
                {
                    "time": float(stamp),
                    "slurm_id": slurm_id.split(";")[0],
                    "rule": rule,
                    "wildcards": wildcards,
                    "mem": int(mem.group(1)) if mem else None,
                    "runtime": int(runtime.group(1)) if runtime else None,
                    "gpus": "--gpus=1" in args,
                }
            )
        return calls

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def run_cluster(workdir: Path, shim_dir: Path, log: SbatchLog, timeout: int = 600) -> tuple[int, str, float]:
    """snakemake --profile profiles/slurm in its own session (setsid), as a user would run it."""
    command = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks",
        str(FIRST_STATUS_CHECK_S),
        # stands in for asr.device: cuda, which needs a real GPU: the ASR jobs ask SLURM for one
        "--set-resources",
        "asr_transcribe:gpu=1",
    ]
    returncode, output, wall, timed_out = run_under_sbatch_shim(command, workdir, shim_dir, log.path, timeout)
    if timed_out:
        ids = [call["slurm_id"] for call in log.calls()]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True)
        pytest.fail(f"snakemake under SLURM ran past {timeout} s:\n{output[-4000:]}")
    return returncode, output, wall


def subtitle_languages(mkv: Path) -> list[str]:
    return [s["tags"]["language"] for s in ffprobe_streams(mkv) if s["codec_type"] == "subtitle"]


def held_back(output: str, rule: str, upstream: str) -> list[str]:
    """Films whose ``rule`` job became ready (its ``upstream`` job finished) while other ``rule`` jobs ran
    and was submitted only after one of those finished: what a global GPU cap of 1 does.

    Finishes that Snakemake reports under one time stamp came in with one status check: a ``rule`` job
    that finished in the same check as the upstream job was not running when the film became ready.
    """
    film_of: dict[str, str] = {}
    running: set[str] = set()
    ran_when_ready: dict[str, set[str]] = {}
    ready_at: dict[str, str] = {}
    held = []
    stamp = ""
    for line in output.splitlines():
        stamped = re.match(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", line)
        if stamped:
            stamp = stamped.group(1)
        submitted = re.match(
            r"Job (\S+) has been submitted with SLURM jobid \d+ \(log: .*/rule_(\w+?)/(\w+)/", line
        )
        finished = re.match(r"Finished jobid: (\S+) \(Rule: (\w+)\)", line)
        if submitted:
            job, name, film = submitted.groups()
            film_of[job] = film
            if name == rule:
                if ran_when_ready.get(film, set()) - running:
                    held.append(film)
                running.add(job)
        elif finished:
            job, name = finished.groups()
            if name == upstream and job in film_of:
                ran_when_ready[film_of[job]] = set(running)
                ready_at[film_of[job]] = stamp
            elif name == rule:
                running.discard(job)
                for film, when in ready_at.items():
                    if when == stamp:  # the same status check: it was over when the film became ready
                        ran_when_ready[film].discard(job)
    return held


def max_outstanding(output: str, rule: str) -> int:
    """Most jobs of ``rule`` submitted to SLURM and not yet finished, at any moment of the run's log."""
    outstanding: set[str] = set()
    most = 0
    for line in output.splitlines():
        submitted = re.match(
            r"Job (\d+) has been submitted with SLURM jobid \d+ \(log: .*/rule_(\w+?)/", line
        )
        finished = re.match(r"Finished jobid: (\d+) \(Rule: (\w+)\)", line)
        if submitted and submitted.group(2) == rule:
            outstanding.add(submitted.group(1))
            most = max(most, len(outstanding))
        elif finished and finished.group(2) == rule:
            outstanding.discard(finished.group(1))
    return most


@pytest.fixture(scope="module")
def cluster_runs(slurm_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    films = {}
    for index, job in enumerate(FILMS):
        lines = ENGLISH_LINES[index:] + ENGLISH_LINES[:index]  # different films, same sentences
        films[job], _ = build_film(root / "films", lines[:4], name=f"{job}.mkv")
    workdir = write_workdir(
        root / "work",
        [{"job": job, "media": str(films[job]), "source_lang": "en", "title": job} for job in FILMS],
        {"stages": NO_OPTIONAL_STAGES},
    )
    shim_dir = root / "bin"
    shim_dir.mkdir()
    (shim_dir / "sbatch").write_text(SBATCH_SHIM.format(sbatch=shutil.which("sbatch")))
    (shim_dir / "sbatch").chmod(0o755)
    log = SbatchLog(root / "sbatch_calls.tsv")

    good_bytes = films[BROKEN].read_bytes()
    films[BROKEN].write_bytes(b"not a film" * 1000)
    first = run_cluster(workdir, shim_dir, log)
    first_calls = log.calls()
    log.clear()
    mtimes = {
        job: (workdir / f"jobs/{job}/10_mux/out.mkv").stat().st_mtime
        for job in FILMS
        if (workdir / f"jobs/{job}/10_mux/out.mkv").exists()
    }

    films[BROKEN].write_bytes(good_bytes)
    second = run_cluster(workdir, shim_dir, log)
    second_calls = log.calls()
    print(
        f"\nSLURM run 1: {len(FILMS)} films, {len(first_calls)} sbatch submissions, rc {first[0]}, "
        f"{first[2]:.1f} s wall; run 2 (after the fix): {len(second_calls)} submissions, rc {second[0]}, "
        f"{second[2]:.1f} s wall"
    )
    return {
        "workdir": workdir,
        "first": first,
        "second": second,
        "first_calls": first_calls,
        "second_calls": second_calls,
        "mtimes": mtimes,
    }


def test_good_films_finish_while_the_broken_one_fails(cluster_runs):
    returncode, output, _ = cluster_runs["first"]
    assert returncode != 0, "the corrupt film must fail the run"
    assert "Error in rule demux_extract" in output and f"job={BROKEN}" in output
    for job in FILMS:
        if job != BROKEN:
            assert cluster_runs["mtimes"].get(job), f"{job} has no out.mkv after run 1"
    assert BROKEN not in cluster_runs["mtimes"]
    by_film = {}
    for call in cluster_runs["first_calls"]:
        by_film.setdefault(call["wildcards"].split("_")[0], []).append(call["rule"])
    for job in FILMS:
        if job != BROKEN:
            assert sorted(by_film[job]) == sorted(RULES_PER_FILM)
    assert by_film[BROKEN] == ["demux_extract"] * 3  # first attempt and two retries


def test_retries_ask_for_more_memory_and_time(cluster_runs):
    attempts = [
        call
        for call in cluster_runs["first_calls"]
        if call["rule"] == "demux_extract" and call["wildcards"] == BROKEN
    ]
    assert [call["mem"] for call in attempts] == [2000, 4000, 6000]
    assert [call["runtime"] for call in attempts] == [30, 60, 90]


def test_failed_job_logs_one_clear_line(cluster_runs):
    workdir = cluster_runs["workdir"]
    logs = sorted((workdir / ".snakemake" / "slurm_logs" / "rule_demux_extract" / BROKEN).glob("*.log"))
    assert logs, "SLURM logs of failed jobs are kept"
    text = logs[-1].read_text(errors="replace")
    assert re.search(rf"cinesub: job {BROKEN}: 01_demux: .+", text), text[-2000:]


HOLD_BACK_LOG = """[Tue Dec  1 13:50:50 2026]
Job 9 has been submitted with SLURM jobid 169 (log: /w/slurm_logs/rule_asr_transcribe/film1/169.log).
Job 2 has been submitted with SLURM jobid 168 (log: /w/slurm_logs/rule_demux_extract/film0/168.log).
[Tue Dec  1 13:51:02 2026]
Finished jobid: 2 (Rule: demux_extract)
[Tue Dec  1 13:51:14 2026]
Finished jobid: 9 (Rule: asr_transcribe)
Job 4 has been submitted with SLURM jobid 171 (log: /w/slurm_logs/rule_asr_transcribe/film0/171.log).
"""


def test_held_back_tells_a_waiting_job_from_one_status_check():
    # film0's audio was ready at 13:51:02 while film1's ASR ran; its ASR went out only after that one ended
    assert held_back(HOLD_BACK_LOG, "asr_transcribe", "demux_extract") == ["film0"]
    # both finishes came in with one status check (as in a CI run): nothing was held back
    one_check = HOLD_BACK_LOG.replace("[Tue Dec  1 13:51:14 2026]\n", "")
    assert held_back(one_check, "asr_transcribe", "demux_extract") == []


def test_gpu_jobs_ask_slurm_for_a_gpu_and_are_not_serialised(cluster_runs):
    calls = cluster_runs["first_calls"] + cluster_runs["second_calls"]
    assert {call["rule"] for call in calls if call["gpus"]} == {"asr_transcribe"}
    assert all(call["gpus"] for call in calls if call["rule"] == "asr_transcribe")
    # The workflow profile caps gpu at 1 for a workstation; with the SLURM profile's local scope,
    # Snakemake hands an ASR job to SLURM as soon as its film's audio is ready, even while another film's
    # ASR job runs. (Whether two are ever out at once depends on when the demux jobs finish, so the test
    # asserts the scheduling rule itself: no ASR job that was ready waited for another to finish.)
    output = cluster_runs["first"][1]
    assert not held_back(output, "asr_transcribe", "demux_extract")
    assert max_outstanding(output, "asr_transcribe") >= 1


def test_rerun_after_the_fix_submits_only_what_is_missing(cluster_runs):
    workdir = cluster_runs["workdir"]
    returncode, output, _ = cluster_runs["second"]
    assert returncode == 0, output[-4000:]
    submitted = sorted((call["rule"], call["wildcards"]) for call in cluster_runs["second_calls"])
    assert submitted == sorted([("demux_extract", BROKEN), ("asr_transcribe", BROKEN), ("tail", BROKEN)])
    for job, mtime in cluster_runs["mtimes"].items():
        assert (workdir / f"jobs/{job}/10_mux/out.mkv").stat().st_mtime == mtime, f"{job} was redone"


def test_every_film_is_muxed_with_its_subtitles(cluster_runs):
    workdir = cluster_runs["workdir"]
    for job in FILMS:
        mkv = workdir / f"jobs/{job}/10_mux/out.mkv"
        assert subtitle_languages(mkv) == ["eng"], job
        assert (workdir / f"jobs/{job}/09_subtitle_gen/en.srt").read_text(encoding="utf-8").strip()


# ------------------------------------------------------------------- the profile itself, no cluster needed

PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())


def evaluate(expression, attempt: int) -> float:
    # The same evaluation Snakemake applies to resource expressions (attempt is in scope).
    return eval(str(expression), {"attempt": attempt})  # noqa: S307 - the profile's own arithmetic


def test_profile_uses_the_slurm_executor_without_accounting():
    assert PROFILE["executor"] == "slurm"
    assert PROFILE["slurm-status-command"] == "squeue"  # sacct hangs where slurmdbd is absent
    assert PROFILE["slurm-no-account"] is True
    assert PROFILE["retries"] >= 1 and PROFILE["rerun-incomplete"] is True
    assert PROFILE["set-resource-scopes"] == {"gpu": "local"}


def test_runtime_and_memory_grow_with_each_attempt():
    entries = [PROFILE["default-resources"], *PROFILE["set-resources"].values()]
    scaled = 0
    for resources in entries:
        for name in ("runtime", "mem_mb"):
            if name in resources:
                values = [evaluate(resources[name], attempt) for attempt in (1, 2, 3)]
                assert values[0] > 0 and values[0] < values[1] < values[2], (name, resources[name])
                scaled += 1
    assert scaled >= 2 + len(PROFILE["set-resources"])


def test_profile_names_only_real_rules(tmp_path, english_film):
    # Snakemake silently ignores set-resources for a rule that does not exist: a renamed rule would
    # quietly lose its cluster resources.
    workdir = write_workdir(tmp_path, [{"job": "one", "media": str(english_film[0]), "source_lang": "en"}])
    rules = set(run_snakemake(workdir, "--list-rules").stdout.split())
    assert set(PROFILE["set-resources"]) <= rules
    assert set(PROFILE["groups"]) <= rules


def test_light_stages_share_a_job_and_gpu_stages_keep_their_own(tmp_path, english_film):
    groups = PROFILE["groups"]
    assert "asr_transcribe" not in groups and "translation_translate" not in groups
    film = english_film[0]
    jobs = [
        {
            "job": f"film{index}",
            "media": str(film),
            "source_lang": "en",
            "target_langs": "hi" if index else "",
            "title": f"Film {index}",
        }
        for index in range(3)
    ]
    workdir = write_workdir(tmp_path, jobs, {"stages": {"tmdb": False}})
    output = run_snakemake(workdir, "--profile", str(REPO / "profiles" / "slurm"), "-n").stdout
    # one group job per film and group: 05-07 ("text") and 09-10 ("tail")
    assert output.count("Group job text ") == 3 and output.count("Group job tail ") == 3


def test_dry_run_of_a_100_job_sheet_under_the_profile(tmp_path, english_film):
    film = english_film[0]
    jobs = [
        {
            "job": f"film{index:03d}",
            "media": str(film),
            "source_lang": "en",
            "target_langs": "hi" if index % 2 else "",
            "title": f"Film {index}",
        }
        for index in range(100)
    ]
    workdir = write_workdir(tmp_path, jobs)
    started = time.monotonic()
    result = run_snakemake(workdir, "--profile", str(REPO / "profiles" / "slurm"), "-n")
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", output.split("Job stats:")[1], re.M))
    assert int(stats["demux_extract"]) == int(stats["asr_transcribe"]) == int(stats["mux_tracks"]) == 100
    assert int(stats["translation_translate"]) == 50  # every other film has a Hindi target
    assert int(stats["subtitle_gen_write"]) == 150
    print(f"\ndry run of a 100-job sheet under profiles/slurm: {stats['total']} jobs in {elapsed:.1f} s")
