"""07's record of what it removed and doubted: ``jobs/<job>/07_hallucination_removal/removed.json``.

One reader and writer (schema ``workflow/schemas/removed.schema.json``), following cinesub.segments.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import jsonschema

from .errors import CinesubError
from .fileio import read_json, write_json_atomic

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "removed.schema.json"


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(read_json(SCHEMA_PATH))


def validate(report: dict, where: str = "removed.json") -> dict:
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(e.path))
    if errors:
        location = "/".join(str(p) for p in errors[0].path) or "(root)"
        raise CinesubError(f"{where} does not match the removed schema at {location}: {errors[0].message}")
    return report


def load(path: str | os.PathLike) -> dict:
    return validate(read_json(path), where=str(path))


def save(path: str | os.PathLike, report: dict) -> None:
    write_json_atomic(path, validate(report, where=str(path)))


def dropped(report: dict | None) -> list[dict]:
    """The segments 07 dropped whole (trimmed ones stay on screen)."""
    return [entry for entry in (report or {}).get("removed", []) if entry["action"] == "dropped"]
