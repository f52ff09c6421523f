"""07's record of what it removed and doubted: ``jobs/<job>/07_hallucination_removal/removed.json``.

One reader and writer (schema ``workflow/schemas/removed.schema.json``), following cinesub.segments.
"""

from __future__ import annotations

import os

from .jobfile import JobFile

FILE = JobFile("removed.schema.json", "removed")


def validate(report: dict, where: str = "removed.json") -> dict:
    return FILE.validate(report, where)


def load(path: str | os.PathLike) -> dict:
    return FILE.load(path)


def save(path: str | os.PathLike, report: dict) -> None:
    FILE.save(path, report)


load_optional = FILE.load_optional  # None when 07 is switched off


def dropped(report: dict | None) -> list[dict]:
    """The segments 07 dropped whole (trimmed ones stay on screen)."""
    return [entry for entry in (report or {}).get("removed", []) if entry["action"] == "dropped"]
