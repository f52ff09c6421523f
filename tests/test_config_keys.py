"""A misspelt key in any config section, nested ones included, stops ``snakemake -n`` at start with one
``cinesub:`` line naming the key and the section (issue 14: no section takes a key it does not know).
The sections are walked from the config schema, so a new section is checked without a new test."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, run_snakemake, write_workdir
from test_messages import assert_one_line

SCHEMA = json.loads((REPO / "workflow" / "schemas" / "config.schema.json").read_text())


def resolved(schema: dict) -> dict:
    ref = schema.get("$ref")
    return SCHEMA["$defs"][ref.rsplit("/", 1)[1]] if ref else schema


def keys_of(schema: dict) -> dict:
    """An object's own properties and those of the schemas it is allOf."""
    found = dict(resolved(schema).get("properties", {}))
    for part in schema.get("allOf", []):
        found.update(resolved(part).get("properties", {}))
    return found


def is_closed(schema: dict) -> bool:
    return any(
        resolved(part).get("additionalProperties") is False for part in [schema, *schema.get("allOf", [])]
    )


def objects(path: tuple[str, ...] = (), schema: dict = SCHEMA) -> list[tuple[tuple[str, ...], dict]]:
    """Every object in the config schema, nested ones included, with its path."""
    found = []
    for key, sub in resolved(schema).get("properties", {}).items():
        if sub.get("type") == "object" or "properties" in sub:
            found += [((*path, key), sub), *objects((*path, key), sub)]
    return found


def closed_sections() -> list[tuple[str, ...]]:
    return [path for path, sub in objects() if is_closed(sub)]


def section_schema(path: tuple[str, ...]) -> dict:
    schema = SCHEMA
    for key in path:
        schema = resolved(schema)["properties"][key]
    return schema


def test_the_walk_finds_every_section_and_the_nested_ones():
    sections = closed_sections()
    assert {(name,) for name, sub in SCHEMA["properties"].items() if sub.get("type") == "object"} <= set(
        sections
    )
    assert {("asr", "non_english"), ("demux", "vad"), ("subtitles", "languages", "hi")} <= set(sections)
    # the objects that are not closed are maps keyed by language, each value checked by its own schema
    maps = [path for path, sub in objects() if not is_closed(sub)]
    assert maps == [("hallucination", "allowed_scripts"), ("subtitles", "languages")]
    assert all(isinstance(section_schema(path)["additionalProperties"], dict) for path in maps)


@pytest.mark.parametrize("path", closed_sections(), ids=".".join)
def test_a_misspelt_key_stops_the_run_naming_it(tmp_path, path):
    key, spec = next(iter(keys_of(section_schema(path)).items()))
    typo = key[:-1]  # the last letter lost
    value: object = {typo: spec.get("default", 1)}
    for name in reversed(path[1:]):
        value = {name: value}
    workdir = write_workdir(
        tmp_path / "work",
        [{"job": "j1", "media": "films/f.mkv", "source_lang": "en"}],
        {path[0]: value},
    )
    line = assert_one_line(run_snakemake(workdir, "-n", check=False), f"unknown key {typo!r}")
    assert line.startswith(f"cinesub: config: {'.'.join(path)}: unknown key {typo!r}"), line
