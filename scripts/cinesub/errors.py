"""One exception type whose message is the single line a user sees."""

from __future__ import annotations

# Exit status of a stage script that has printed its one-line error already (see cinesub.console).
REPORTED = 3


class CinesubError(Exception):
    """A user-facing failure: ``job <id>: <stage>: <problem>`` on one line."""

    def __init__(self, problem: str, job: str | None = None, stage: str | None = None):
        self.problem = " ".join(str(problem).split())
        self.job = job
        self.stage = stage
        super().__init__(self.line())

    def line(self) -> str:
        parts = []
        if self.job:
            parts.append(f"job {self.job}")
        if self.stage:
            parts.append(self.stage)
        parts.append(self.problem)
        return ": ".join(parts)
