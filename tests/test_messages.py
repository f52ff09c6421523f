"""Messages that teach, through the real CLI: a sheet saved with commas, language codes in the wrong form,
a misspelt setting, typed ``--config`` overrides, a locked directory (a live run, a stale lock), and the
console of a failing job (its one line first and last, no traceback). Plus the pure pieces behind them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cinesub import console, languages, messages, progress
from conftest import NO_OPTIONAL_STAGES, run_snakemake, write_workdir
from reliability import ONE_LINE, cli_env, short_film, snakemake_command

NOISE = ("Traceback", "RuleException", "CalledProcessError", "WorkflowError", ".snakemake/scripts/")


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line(result: subprocess.CompletedProcess, expected: str) -> str:
    """The run stopped with exactly one ``cinesub:`` line, the last, holding ``expected``; no traceback."""
    assert result.returncode != 0
    for noise in NOISE:
        assert noise not in result.stderr, result.stderr[-3000:]
    ours = [line for line in stderr_lines(result) if line.startswith("cinesub: ")]
    assert len(ours) == 1 and ours[0] == stderr_lines(result)[-1], result.stderr[-3000:]
    assert expected in ours[0], ours[0]
    return ours[0]


@pytest.fixture
def workdir(tmp_path) -> Path:
    # the film need not exist for start-up checks; 01_demux would name it later
    return write_workdir(tmp_path / "work", [{"job": "j1", "media": "films/f.mkv", "source_lang": "en"}])


def write_sheet(workdir: Path, text: str) -> None:
    (workdir / "config" / "jobs.tsv").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize(
    "separator, expected",
    [
        (",", "not tab-separated: its header line has commas and no tabs"),
    ],
)
def test_sheet_saved_with_commas(workdir, separator, expected):
    write_sheet(
        workdir,
        separator.join(["job", "media", "source_lang"])
        + "\n"
        + separator.join(["j1", "films/f.mkv", "en"])
        + "\n",
    )
    line = assert_one_line(run_snakemake(workdir, "-n", check=False), expected)
    assert "job sheet config/jobs.tsv" in line and "save it as tab-separated text" in line


@pytest.mark.parametrize(
    "column, value, expected",
    [
        (
            "source_lang",
            "HI",
            "source_lang: 'HI' is not allowed (spoken language code (ISO 639-1, or 639-3 where no "
            "639-1 exists)); codes are lowercase: did you mean 'hi'?",
        ),
        (
            "target_langs",
            "hin",
            "unknown language code 'hin'; did you mean 'hi' (Hindi)? cinesub uses ISO 639-1 codes",
        ),
    ],
)
def test_language_codes_get_a_hint(workdir, column, value, expected):
    cells = {"job": "j1", "media": "films/f.mkv", "source_lang": "en", "target_langs": "", column: value}
    write_sheet(workdir, "\t".join(cells) + "\n" + "\t".join(cells.values()) + "\n")
    line = assert_one_line(run_snakemake(workdir, "-n", check=False), expected)
    assert "job 'j1'" in line


@pytest.mark.parametrize(
    "override, expected",
    [
        ('asr={"modle": "large-v3"}', "config: asr: unknown key 'modle' (did you mean 'model'?)"),
        ('subtitles={"max_cps": 17}', "config: subtitles: unknown key 'max_cps'; valid keys: "),
        ('asr={"beam_size": "five"}', "config: asr.beam_size: 'five' is not of type 'integer'"),
    ],
)
def test_config_mistakes_name_the_closest_key(workdir, override, expected):
    assert_one_line(run_snakemake(workdir, "-n", "--config", override, check=False), expected)


def test_typed_config_overrides_are_accepted(workdir):
    """``--config`` values arrive as text; numbers, booleans and lists of numbers validate as typed."""
    override = 'asr={"beam_size": 3, "vad": false, "temperatures": [0.0, 0.2], "no_speech_threshold": 0.5}'
    result = run_snakemake(workdir, "-n", "--config", override, 'subtitles={"formats": ["srt"]}', check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "asr_transcribe" in result.stdout + result.stderr


@pytest.mark.slow
def test_lock_says_whether_another_run_is_active(tmp_path):
    """A second run while one is active names the active run; a lock left by a dead run says to --unlock."""
    film = short_film(tmp_path / "films", "river")
    workdir = write_workdir(
        tmp_path / "work",
        [{"job": "j1", "media": str(film), "source_lang": "en"}],
        {"stages": NO_OPTIONAL_STAGES},
    )
    first = subprocess.Popen(
        snakemake_command(workdir, "--cores", "1"),
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        locks = workdir / ".snakemake" / "locks"
        deadline = time.monotonic() + 120
        while not (locks.is_dir() and any(locks.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.1)
        saved = tmp_path / "saved_locks"
        shutil.copytree(locks, saved)
        second = run_snakemake(workdir, check=False)
        line = assert_one_line(second, "another snakemake run is active in")
        assert f"pid {first.pid}" in line and f"kill {first.pid}" in line
    finally:
        assert first.wait(timeout=300) == 0
    # the first run finished and released its lock; put its lock files back as a killed run leaves them
    shutil.copytree(saved, workdir / ".snakemake" / "locks", dirs_exist_ok=True)
    (workdir / "jobs" / "j1" / "10_mux" / "out.mkv").unlink()  # something to do, so the lock matters
    stale = run_snakemake(workdir, check=False)
    line = assert_one_line(stale, "is locked by a run that is no longer active")
    assert "snakemake --unlock" in line
    run_snakemake(workdir, "--unlock")
    run_snakemake(workdir)


@pytest.mark.slow
def test_console_of_a_failing_job(tmp_path):
    """Its `cinesub:` line is printed when the stage fails and repeated last; no wrapping around it."""
    (tmp_path / "films").mkdir()
    (tmp_path / "films" / "zero.mkv").write_bytes(b"")
    workdir = write_workdir(
        tmp_path / "work",
        [{"job": "bad", "media": str(tmp_path / "films" / "zero.mkv"), "source_lang": "en"}],
    )
    result = run_snakemake(workdir, "jobs/bad/01_demux/audio.wav", check=False)
    assert result.returncode != 0
    for noise in NOISE + ("Shell command: None", "Logfile jobs/bad/logs"):
        assert noise not in result.stdout + result.stderr, result.stderr[-3000:]
    lines = stderr_lines(result)
    errors = [line for line in lines if ONE_LINE.match(line)]
    assert errors[0] == errors[-1] == lines[-1] and len(set(errors)) == 1
    assert errors[0].endswith(
        "01_demux: media file is empty (0 bytes): " + str(tmp_path / "films" / "zero.mkv")
    )


# ----------------------------------------------------------------------------------------- pure pieces


@pytest.mark.parametrize(
    "code, hint",
    [
        ("HI", "codes are lowercase: did you mean 'hi'?"),
        ("hin", "did you mean 'hi' (Hindi)?"),
        ("eng", "did you mean 'en' (English)?"),
        ("Hindi", "did you mean 'hi' (Hindi)?"),
        ("doy", "did you mean 'doi' (Dogri)?"),
        ("xx", None),
        ("hi", None),
    ],
)
def test_language_suggestions(code, hint):
    found = languages.suggest(code)
    assert (found is None) if hint is None else (hint in found)


def test_typed_reads_only_what_the_schema_types():
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "x": {"type": "number"},
            "b": {"type": "boolean"},
            "s": {"type": "string"},
            "l": {"type": "array", "items": {"type": "number"}},
            "r": {"$ref": "#/$defs/rule"},
        },
        "$defs": {"rule": {"type": "object", "properties": {"k": {"type": "integer"}}}},
    }
    value = {"n": "3", "x": "-0.5", "b": "false", "s": "7", "l": ["0.0", "1e-2"], "r": {"k": "2"}, "z": "9"}
    assert messages.typed(value, schema) == {
        "n": 3,
        "x": -0.5,
        "b": False,
        "s": "7",
        "l": [0.0, 0.01],
        "r": {"k": 2},
        "z": "9",
    }
    assert messages.typed({"b": "yes", "n": "five"}, schema) == {"b": "yes", "n": "five"}  # still refused


def test_delimiter_problem():
    assert messages.delimiter_problem("job\tmedia\tsource_lang\n") is None
    assert "commas" in messages.delimiter_problem("job,media,source_lang")
    assert "spaces" in messages.delimiter_problem("job media source_lang")
    assert messages.delimiter_problem("job") is None  # one column: the missing-column message says more


def test_lock_message_tells_live_from_stale():
    live = console.lock_message("/w", [(42, "snakemake --cores 8")])
    assert "another snakemake run is active in /w (pid 42" in live and "kill 42" in live
    assert "--unlock" not in live, "never advise unlocking a live run"
    stale = console.lock_message("/w", [])
    assert "no longer active" in stale and "snakemake --unlock" in stale


def test_progress_reports_elapsed_and_eta(caplog):
    now = [0.0]
    out = io.StringIO()
    report = progress.Progress(
        __import__("logging").getLogger("cinesub"),
        "job j: 04_asr",
        every_s=5,
        step=25,
        clock=lambda: now[0],
        console=out,
    )
    for t, pct in [(1, 1.0), (2, 2.0), (8, 3.0), (9, 30.0), (10, 31.0), (20, 100.0), (21, 100.0)]:
        now[0] = t
        report(pct, "x")
    assert report.lines == [
        "job j: 04_asr:   1.0%, x, 0:00:01 elapsed, ETA 0:01:39",
        "job j: 04_asr:   3.0%, x, 0:00:08 elapsed, ETA 0:04:19",  # 5 s since the last report
        "job j: 04_asr:  30.0%, x, 0:00:09 elapsed, ETA 0:00:21",  # crossed 25 %
        "job j: 04_asr: 100.0%, x, 0:00:20 elapsed, ETA 0:00:00",
    ]
    assert (
        out.getvalue().splitlines()[0]
        == "cinesub progress: job j: 04_asr:   1.0%, x, 0:00:01 elapsed, ETA 0:01:39"
    )
    assert not ONE_LINE.match(out.getvalue().splitlines()[0]), "a progress line is never taken for an error"


def test_console_filter_drops_the_wrapping_and_repeats_the_line_last(tmp_path):
    import logging

    log = tmp_path / "jobs/bad/logs/01_demux.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-12-01 09:00:00,000 INFO start 01_demux for job bad\n"
        "2026-12-01 09:00:00,100 ERROR job bad: 01_demux: media file is empty (0 bytes): f.mkv\n"
    )
    assert console.reported_line([str(tmp_path / "missing.log"), str(log)]) == (
        "cinesub: job bad: 01_demux: media file is empty (0 bytes): f.mkv"
    )

    def record(msg, **extra):
        rec = logging.LogRecord("snakemake.logging", logging.ERROR, __file__, 1, msg, (), None)
        rec.__dict__.update(extra)
        return rec

    keep = console.ConsoleFilter()
    wrapped = record(
        "RuleException:\nCalledProcessError in file x, line 22:\nCommand 'python .snakemake/scripts/"
        "tmp1.demux.py' returned non-zero exit status 3.",
        exception="RuleException",
    )
    crashed = record(wrapped.msg.replace("status 3.", "status 139."), exception="RuleException")
    assert keep.filter(wrapped) is False and keep.filter(crashed) is True  # a crash keeps Snakemake's message
    keep.filter(
        record(
            "Error in rule demux_extract",
            event="job_error",
            log=[f"{log} (check log file(s) for error details)"],
        )
    )
    final = record(
        "WorkflowError:\nAt least one job did not complete successfully.", exception="WorkflowError"
    )
    assert keep.filter(final) is True
    assert final.getMessage().splitlines() == [
        "cinesub: 1 job failed (finished stages are kept: fix the cause, then run the same command again):",
        "cinesub: job bad: 01_demux: media file is empty (0 bytes): f.mkv",
    ]


def test_snakemake_runs_are_found_by_working_directory(tmp_path):
    import sys

    fake = tmp_path / "bin" / "snakemake"  # a process whose command line names snakemake, like the real one
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(30)\n")
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    process = subprocess.Popen([sys.executable, str(fake), "--cores", "2"], cwd=here)
    try:
        deadline = time.monotonic() + 10
        while not console.snakemake_runs_in(str(here), exclude=0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid, _ in console.snakemake_runs_in(str(here), exclude=0)] == [process.pid]
        assert console.snakemake_runs_in(str(elsewhere), exclude=0) == []
        assert console.snakemake_runs_in(str(here), exclude=process.pid) == []
    finally:
        process.kill()
        process.wait()
