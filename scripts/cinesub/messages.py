"""Messages that teach: what is wrong with a setting or a job sheet, and what was probably meant.

Used by ``rules/common.smk`` while it validates the config and the job sheet, before any job runs.
Pure functions: a JSON-Schema error or a text in, one line (or a corrected value) out.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


def closest(word: str, choices: list[str]) -> str | None:
    """The valid choice nearest to ``word`` (a typo's likely meaning), if any is close enough."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not found:
        found = [c for c in choices if c.lower() == word.lower()]
    return found[0] if found else None


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: dict, root: dict) -> set[str]:
    schema = _resolve(schema, root)
    kinds = schema.get("type", [])
    found = set([kinds] if isinstance(kinds, str) else kinds)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(alternative, root)
    return found


def typed(value: Any, schema: dict, root: dict | None = None) -> Any:
    """``value`` with the texts that the schema wants as numbers or booleans read as such.

    ``snakemake --config asr='{"beam_size": 3}'`` parses the value with YAML's BaseLoader, which keeps
    every scalar a string ('3'); a config file gives 3. Texts are read the YAML 1.2 way (digits,
    ``true``/``false``) and only where the schema asks for that type, so ``'yes'`` stays text and is
    still refused where a boolean is wanted.
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            key: typed(item, properties.get(key, extra if isinstance(extra, dict) else {}), root)
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items", {})
        return [typed(item, items if isinstance(items, dict) else {}, root) for item in value]
    if not isinstance(value, str):
        return value
    kinds = _types(schema, root)
    text = value.strip()
    if "string" in kinds:
        return value
    if "integer" in kinds and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in kinds and _NUMBER.fullmatch(text):
        return float(text)
    if "boolean" in kinds and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def unknown_keys(instance: dict, schema: dict) -> list[str]:
    """Keys of ``instance`` that ``schema`` (an object with ``additionalProperties: false``) does not know."""
    known = set(schema.get("properties", {}))
    return [key for key in instance if key not in known]


def unknown_key_message(section: str, instance: dict, schema: dict) -> str:
    """``asr: unknown key 'modle' (did you mean 'model'?)``, listing the valid keys when nothing is close."""
    valid = sorted(schema.get("properties", {}))
    parts = []
    for key in unknown_keys(instance, schema):
        guess = closest(str(key), valid)
        parts.append(f"unknown key {key!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
    where = f"{section}: " if section else ""
    message = where + "; ".join(parts)
    if not any("did you mean" in part for part in parts):
        message += f"; valid keys: {', '.join(valid)}"
    return message


def delimiter_problem(header_line: str) -> str | None:
    """Why a job sheet's header is not tab-separated, or None when it is."""
    if "\t" in header_line:
        return None
    for name, mark in (("commas", ","), ("semicolons", ";")):
        if mark in header_line:
            return (
                f"not tab-separated: its header line has {name} and no tabs ({header_line.strip()[:80]!r}); "
                "save it as tab-separated text (TSV, 'Text (Tab delimited)'), one tab between columns"
            )
    if len(header_line.split()) > 1:
        return (
            f"not tab-separated: its header line has spaces and no tabs ({header_line.strip()[:80]!r}); "
            "put one tab between columns (an editor may have turned tabs into spaces)"
        )
    return None
