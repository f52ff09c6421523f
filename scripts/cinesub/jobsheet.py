"""The job sheet (``config/jobs.tsv``): its columns come from ``workflow/schemas/jobs.schema.json``, the one
place they are listed; rules/common.smk validates the sheet against it and tests and bench write sheets
with these columns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "jobs.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
COLUMNS: tuple[str, ...] = tuple(SCHEMA["properties"])
REQUIRED: tuple[str, ...] = tuple(SCHEMA["required"])


def sheet_text(rows: Iterable[Mapping], columns: Iterable[str] = COLUMNS) -> str:
    """A job sheet with ``columns`` (all of them unless told) and one line per row (missing cells empty)."""
    columns = list(columns)
    lines = ["\t".join(columns)] + ["\t".join(str(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"
