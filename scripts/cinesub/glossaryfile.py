"""03's merged glossary: ``jobs/<job>/03_glossary_load/glossary.json``.

One reader and writer (schema ``workflow/schemas/glossary.schema.json``), following cinesub.segments:
03 saves it, and 04 (the prompt and hotwords), 05 (gazetteer and name corrections) and 08 (protected names,
terms) load it here, so every consumer reads the same validated fields.
"""

from __future__ import annotations

import os

from .jobfile import JobFile

FILE = JobFile("glossary.schema.json", "glossary")


def validate(doc: dict, where: str = "glossary") -> dict:
    return FILE.validate(doc, where)


def load(path: str | os.PathLike) -> dict:
    return FILE.load(path)


def load_optional(path: str | os.PathLike | None) -> dict | None:
    """The glossary, or None when the job runs without one (03 switched off)."""
    return load(path) if path else None


def save(path: str | os.PathLike, doc: dict) -> None:
    FILE.save(path, doc)


def prompt(doc: dict | None) -> str | None:
    """Whisper's initial prompt, or None when there is no glossary or nothing fitted."""
    return (doc or {}).get("prompt") or None


def hotwords(doc: dict | None) -> str | None:
    """The film's names for Whisper's hotwords, or None when there are none."""
    return (doc or {}).get("hotwords") or None
