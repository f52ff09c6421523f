"""Helpers for the reliability and security tests: bad input, injection, crashes, concurrency, secrets."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cinesub import synth
from conftest import REPO, SNAKEMAKE, build_film

# One short sentence per film: a whole job takes a few seconds.
SHORT_LINES = {
    "river": "The river was quiet when the boats came back.",
    "tea": "Bring tea for everyone, it is going to be cold.",
    "nets": "Meera counted the nets twice before she spoke.",
    "storm": "We lost two of them in the storm last night.",
    "jetty": "Tomorrow we will mend them at the old jetty.",
    "hurt": "Nobody is hurt, and that is what matters.",
    "train": "The morning train was late again today.",
    "market": "My sister sold mangoes at the market.",
}

ONE_LINE = re.compile(r"^cinesub: job (?P<job>[^:]+): (?P<stage>[0-9]{2}_[a-z_]+): (?P<problem>.+)$")


def short_film(directory: Path, key: str, name: str | None = None) -> Path:
    """A film of one known sentence (about 4 s) with a test picture."""
    line = synth.Line(SHORT_LINES[key], pause_after=0.6, speed=150)
    film, _ = build_film(directory, [line], name=name or f"{key}.mkv", lead_in=0.5)
    return film


def words(text: str) -> set[str]:
    return set(re.sub(r"[^a-z ]", " ", text.lower()).split())


def closest_sentence(text: str) -> str:
    """The key of SHORT_LINES whose sentence shares the most words with ``text`` (ASR mishears
    a name now and then, so an exact match would be too strict)."""
    heard = words(text)
    return max(SHORT_LINES, key=lambda key: len(words(SHORT_LINES[key]) & heard))


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest)."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def job_lines(stderr: str) -> list[re.Match]:
    """The distinct one-line stage errors (``cinesub: job <id>: <stage>: <problem>``) in snakemake's
    stderr (each is printed when its stage fails and again at the end of the run)."""
    lines = [line for line in stderr.splitlines() if ONE_LINE.match(line)]
    return [ONE_LINE.match(line) for line in dict.fromkeys(lines)]


def workflow_error_messages(stderr: str) -> list[str]:
    """Distinct messages of parse-time errors: ``cinesub: <message>`` lines that name no stage."""
    lines = [
        line for line in stderr.splitlines() if line.startswith("cinesub: ") and not ONE_LINE.match(line)
    ]
    return list(dict.fromkeys(line.removeprefix("cinesub: ") for line in lines))


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def cli_env(extra: dict | None = None) -> dict:
    venv_bin = str(Path(SNAKEMAKE).parent)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{venv_bin}:{os.environ['PATH']}", **(extra or {})}


def subtitle_text_in_mkv(mkv: Path, index: int = 0) -> str:
    """The SRT text of subtitle stream ``index`` inside a muxed film."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", f"file:{mkv}", "-map", f"0:s:{index}", "-f", "srt", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def copy_workdir(source: Path, target: Path) -> Path:
    """A copy of a finished working directory with its timestamps (snakemake sees it as up to date)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)], capture_output=True
        ).returncode
        != 0
    ):
        return False
    subprocess.run(["umount", str(where)], check=True)
    return True


def run_under_sbatch_shim(
    command: list[str], workdir: Path, shim_dir: Path, call_log: Path, timeout: float
) -> tuple[int, str, float, bool]:
    """``command`` (snakemake with a SLURM profile) in its own session (setsid), as a user would run it,
    with the ``sbatch`` in ``shim_dir`` first on PATH (it logs each submission to ``call_log``). Past
    ``timeout`` seconds the whole session gets SIGTERM. Returns the exit status, stdout and stderr
    together, the wall seconds and whether it timed out."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SBATCH_CALL_LOG": str(call_log),
        "PATH": f"{shim_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate()
        timed_out = True
    return process.returncode, output, time.monotonic() - started, timed_out
