"""The canonical segments document: the one transcript format every stage reads and writes.

The schema lives in ``workflow/schemas/segments.schema.json`` and is loaded from there,
so there is exactly one definition.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import jsonschema

from .errors import CinesubError
from .fileio import read_json, write_json_atomic

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "segments.schema.json"


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = read_json(SCHEMA_PATH)
    return jsonschema.Draft202012Validator(schema)


def new_document(
    job: str,
    language: str,
    stage: str,
    segments: list[dict],
    *,
    duration: float | None = None,
    meta: dict | None = None,
) -> dict:
    """Build a segments document; segment ids are renumbered 0..n-1 in time order."""
    ordered = sorted(segments, key=lambda seg: (seg["start"], seg["end"]))
    for index, seg in enumerate(ordered):
        seg["id"] = index
    doc = {
        "schema_version": 1,
        "job": job,
        "language": language,
        "stage": stage,
        "duration": duration,
        "meta": meta or {},
        "segments": ordered,
    }
    return doc


def derive(
    doc: dict, stage: str, segments: list[dict], *, language: str | None = None, meta: dict | None = None
) -> dict:
    """A new document for ``stage`` that keeps ``doc``'s job, duration and provenance."""
    merged_meta = copy.deepcopy(doc.get("meta", {}))
    if meta:
        merged_meta[stage] = meta
    return new_document(
        doc["job"],
        language or doc["language"],
        stage,
        segments,
        duration=doc.get("duration"),
        meta=merged_meta,
    )


def validate(doc: dict, where: str = "segments") -> dict:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        location = "/".join(str(p) for p in first.path) or "(root)"
        raise CinesubError(f"{where} does not match the segments schema at {location}: {first.message}")
    for seg in doc["segments"]:
        if seg["end"] < seg["start"]:
            raise CinesubError(f"{where}: segment {seg['id']} ends before it starts")
    return doc


def load(path: str | os.PathLike) -> dict:
    return validate(read_json(path), where=str(path))


def save(path: str | os.PathLike, doc: dict) -> None:
    write_json_atomic(path, validate(doc, where=str(path)))


def set_flag(segment: dict, stage: str, key: str, value: Any) -> None:
    """Record a stage-specific annotation without clobbering other stages' flags."""
    segment.setdefault("flags", {}).setdefault(stage, {})[key] = value
