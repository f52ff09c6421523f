"""The canonical segments document: the one transcript format every stage reads and writes.

The schema lives in ``workflow/schemas/segments.schema.json`` and is loaded from there,
so there is exactly one definition.
"""

from __future__ import annotations

import copy
from typing import Any

from .jobfile import JobFile


def _times_in_order(doc: dict) -> None:
    for seg in doc["segments"]:
        if seg["end"] < seg["start"]:
            raise ValueError(f"segment {seg['id']} ends before it starts")


FILE = JobFile("segments.schema.json", "segments", check=_times_in_order)


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
    return FILE.validate(doc, where)


load, save = FILE.load, FILE.save  # validated against the schema, atomic on write


def set_flag(segment: dict, stage: str, key: str, value: Any) -> None:
    """Record a stage-specific annotation without clobbering other stages' flags."""
    segment.setdefault("flags", {}).setdefault(stage, {})[key] = value
