"""Progress of a long stage (04_asr per segment, 08_translation per batch): elapsed time and an ETA,
in the stage's log and on the console.

The console line goes to the script's real stderr (:func:`cinesub.console.terminal`, kept while the
stage's fd 2 goes to its log), which Snakemake passes through to the terminal (under SLURM: the job's
output file). It starts ``cinesub progress:`` so it is never taken for an error line
(``cinesub: job …``). A report is made for the first unit, then at most every ``every_s`` seconds or
every ``step`` percent, whichever comes first, and at 100 %.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

from .console import terminal


def clock_text(seconds: float) -> str:
    """``h:mm:ss`` for elapsed times and ETAs."""
    whole = max(0, int(round(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Progress:
    """Call with the percent done (and what was just done); reports elapsed time and time left."""

    def __init__(
        self,
        logger: logging.Logger,
        label: str,
        every_s: float = 5.0,
        step: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        console: TextIO | None = None,
    ):
        self.logger, self.label, self.every_s, self.step, self.clock = logger, label, every_s, step, clock
        self.console = console if console is not None else terminal()
        self.started = clock()
        self.last_time: float | None = None
        self.next_mark = 0.0
        self.lines: list[str] = []  # every report, for the caller's summary and for tests

    def line(self, percent: float, detail: str = "") -> str:
        elapsed = self.clock() - self.started
        eta = elapsed * (100.0 - percent) / percent if percent > 0 else None
        parts = [
            f"{percent:5.1f}%",
            detail,
            f"{clock_text(elapsed)} elapsed",
            f"ETA {clock_text(eta)}" if eta is not None else "ETA unknown",
        ]
        return f"{self.label}: " + ", ".join(part for part in parts if part)

    def __call__(self, percent: float, detail: str = "") -> None:
        percent = min(100.0, max(0.0, percent))
        now = self.clock()
        if self.next_mark == float("inf"):
            return  # 100 % was reported
        if not (self.last_time is None or percent >= self.next_mark or now - self.last_time >= self.every_s):
            return
        text = self.line(percent, detail)
        self.lines.append(text)
        self.logger.info("progress %s", text)
        print(f"cinesub progress: {text}", file=self.console, flush=True)
        self.last_time = now
        self.next_mark = (percent // self.step + 1) * self.step if percent < 100.0 else float("inf")
