"""The job files' compiled fast path (fastjsonschema) never accepts what the schema (jsonschema) rejects,
and an invalid file still gets jsonschema's message (issue 13: validation was most of 05's and 07's time)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from cinesub import jobfile, segments
from cinesub.errors import CinesubError
from hypothesis import given, settings
from hypothesis import strategies as st

SCHEMAS = Path(__file__).resolve().parents[1] / "workflow" / "schemas"
JOB_FILE_SCHEMAS = sorted(p for p in SCHEMAS.glob("*.schema.json") if p.name not in {"config.schema.json"})


def document() -> dict:
    words = [{"word": "Ravi", "start": 0.5, "end": 0.9, "probability": 0.9}]
    seg = {"id": 0, "start": 0.5, "end": 1.5, "text": "Ravi, wait.", "words": words, "lyrics": False}
    seg["entities"] = [{"text": "Ravi", "label": "PERSON", "start_char": 0, "end_char": 4}]
    return segments.new_document("j1", "en", "05_ner", [seg], duration=2.0)


def paths_of(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths_of(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths_of(inner, (*prefix, index))


PATHS = [p for p in paths_of(document()) if p]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(PATHS), value=JSON_VALUES)
def test_fast_path_never_accepts_what_jsonschema_rejects(path, value):
    doc = document()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    schema = json.loads((SCHEMAS / "segments.schema.json").read_text())
    if jobfile.is_valid_fast(segments.FILE.fast, doc):
        assert jsonschema.Draft202012Validator(schema).is_valid(doc)


@pytest.mark.parametrize("schema", JOB_FILE_SCHEMAS, ids=[p.name for p in JOB_FILE_SCHEMAS])
def test_every_job_file_schema_compiles_or_says_it_needs_a_newer_draft(schema):
    loaded = json.loads(schema.read_text())
    fast = jobfile.fast_validator(loaded)
    uses_newer = bool(jobfile.NEWER_KEYWORDS & set(jobfile._keywords(loaded)))
    assert (fast is None) == uses_newer


def test_a_valid_document_takes_the_fast_path_and_is_not_changed():
    doc = document()
    before = copy.deepcopy(doc)
    assert jobfile.is_valid_fast(segments.FILE.fast, doc)
    assert segments.validate(doc) == before  # no defaults filled in


def test_an_invalid_document_gets_jsonschemas_message():
    doc = document()
    doc["segments"][0]["words"][0]["start"] = -1
    where = r"x\.json does not match the segments schema at segments/0/words/0/start"
    with pytest.raises(CinesubError, match=where):
        segments.validate(doc, "x.json")
    doc = document()
    doc["segments"][0]["end"] = 0.1
    with pytest.raises(CinesubError, match="segment 0 ends before it starts"):
        segments.validate(doc, "x.json")
