"""What a person sees on the console of a run: one ``cinesub:`` line per failure, first and last.

A stage that fails prints its one line (``cinesub: job <id>: <stage>: <problem>``, see ``runner``) and
exits with :data:`REPORTED`. Snakemake would then wrap it in ``RuleException … CalledProcessError …
.snakemake/scripts/tmp….py`` and end the run with ``WorkflowError: At least one job did not complete
successfully.``. :class:`ConsoleFilter`, installed on Snakemake's own log handlers by
``rules/common.smk``, drops that wrapping for failures already reported, repeats every failed job's
line at the end of the run (so it is also the last thing on the screen), and replaces the lock
message with one that says whether another run is really active in this directory, and how to tell.
Failures that were not reported this way (a crash, a kill) keep Snakemake's full message.

Errors found before any job runs (config, job sheet) are printed by ``rules/common.smk`` as one
``cinesub:`` line with no traceback (:func:`fail`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from .errors import REPORTED

PREFIX = "cinesub: "
_REPORTED_EXIT = re.compile(rf"returned non-zero exit status {REPORTED}\.")
_STAGE_LINE = re.compile(r" ERROR (job [^:]+: [0-9]{2}_[a-z_]+: .+)$")


_terminal: TextIO | None = None  # a stage's real stderr while its fd 2 goes to the rule's log (runner)


def terminal() -> TextIO:
    """Where ``cinesub:`` and ``cinesub progress:`` lines go: the console, even while a stage's own
    stderr (native libraries, warnings) is redirected into its log file."""
    return _terminal or sys.stderr


def set_terminal(stream: TextIO | None) -> None:
    global _terminal
    _terminal = stream


def fail(message: str) -> None:
    """Stop the run before any job starts: one line, no traceback."""
    print(PREFIX + " ".join(str(message).split()), file=sys.stderr, flush=True)
    sys.exit(1)


def reported_line(log_paths: Iterable[str]) -> str | None:
    """The one-line error a failed stage wrote into its log (``runner`` logs it at ERROR)."""
    for path in log_paths:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            if match := _STAGE_LINE.search(line):
                return PREFIX + match.group(1)
    return None


def snakemake_runs_in(directory: str, exclude: int) -> list[tuple[int, str]]:
    """(pid, command line) of the other snakemake processes whose working directory is ``directory``.

    Snakemake changes into the ``--directory`` it was given, so a run's working directory names it.
    """
    import psutil

    found = []
    target = os.path.realpath(directory)
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            # `snakemake ...`, `python .../bin/snakemake ...` or `python -m snakemake ...`
            if process.pid == exclude or not any(Path(part).name == "snakemake" for part in cmdline[:3]):
                continue
            if os.path.realpath(process.cwd()) == target:
                found.append((process.pid, " ".join(cmdline)))
        except (psutil.Error, OSError):
            continue
    return found


def lock_message(directory: str, runs: list[tuple[int, str]]) -> str:
    """What to do about a locked working directory, given the snakemake runs active in it."""
    if runs:
        pids = ", ".join(str(pid) for pid, _ in runs)
        return (
            f"{PREFIX}another snakemake run is active in {directory} (pid {pids}: {runs[0][1][:200]}); "
            "two runs in one directory would write the same files. Wait for it to finish (its console, "
            f"or `ps -p {runs[0][0]}`), or stop it with `kill {runs[0][0]}`, then run the same command again."
        )
    return (
        f"{PREFIX}{directory} is locked by a run that is no longer active (it was killed, or the machine "
        "went down): no snakemake process is working in this directory now (checked with the process "
        "list; a run on another machine sharing this directory cannot be seen). Clear the lock with "
        "`snakemake --unlock`, then run the same command again: finished stages are kept."
    )


class ConsoleFilter(logging.Filter):
    """Rewrites Snakemake's console records as described in the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        exception = getattr(record, "exception", None)
        message = str(record.msg or "")
        if exception == "RuleException" and _REPORTED_EXIT.search(message):
            return False  # the stage has printed its own line already
        if str(getattr(record, "event", "")).lower() == "job_error":
            logs = [str(path).split(" (")[0] for path in getattr(record, "log", None) or []]
            line = reported_line(logs)
            if line and line not in self.failures:
                self.failures.append(line)
        if exception == "LockException":
            record.msg = lock_message(os.getcwd(), snakemake_runs_in(os.getcwd(), os.getpid()))
            record.args = ()
        elif "At least one job did not complete successfully" in message and self.failures:
            count = len(self.failures)
            record.msg = "\n".join(
                [
                    f"{PREFIX}{count} job{'s' if count > 1 else ''} failed (finished stages "
                    "are kept: fix the cause, then run the same command again):",
                    *self.failures,
                ]
            )
            record.args = ()
        return True


def install(logger_name: str = "snakemake.logging") -> ConsoleFilter | None:
    """Put one :class:`ConsoleFilter` on each handler of Snakemake's logger (console and log file)."""
    handlers = logging.getLogger(logger_name).handlers
    for handler in handlers:
        for existing in handler.filters:
            if isinstance(existing, ConsoleFilter):
                return existing  # the Snakefile is parsed more than once in some modes
    console = ConsoleFilter()
    for handler in handlers:
        handler.addFilter(console)
    return console if handlers else None
