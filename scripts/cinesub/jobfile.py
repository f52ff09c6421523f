"""A kind of job file (``jobs/<job>/...``) with one JSON schema in workflow/schemas: validate, load, save.

Every stage validates what it reads and what it writes, so validation runs on every segments file several
times per film. jsonschema takes 0.4 s for the 60-min film's segments; a fastjsonschema validator compiled
from the same schema takes 0.05 s. It decides when the document is valid; when it is not (or when the
schema uses keywords newer than the draft-07 it knows), jsonschema gives the verdict and the message, so a
stricter fast check (a ``format`` it checks and jsonschema does not) never rejects a good file.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CinesubError
from .fileio import read_json, write_json_atomic

if TYPE_CHECKING:
    import jsonschema

SCHEMAS = Path(__file__).resolve().parents[2] / "workflow" / "schemas"
# 2019-09/2020-12 keywords fastjsonschema (draft-07) would silently ignore: such schemas skip the fast path
NEWER_KEYWORDS = frozenset(
    {
        "prefixItems",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "minContains",
        "maxContains",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
    }
)


def _keywords(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key
            yield from _keywords(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _keywords(value)


def fast_validator(schema: dict) -> Callable[[Any], Any] | None:
    """A compiled fastjsonschema validator of ``schema``, or None when the schema needs a newer draft.

    ``$id`` and ``$schema`` are left out (fastjsonschema would resolve the relative ``$id`` as a URL);
    ``use_default=False``: a validator never fills defaults into the document it checks."""
    if NEWER_KEYWORDS & set(_keywords(schema)):
        return None
    import fastjsonschema

    local = {key: value for key, value in schema.items() if key not in ("$id", "$schema")}
    return fastjsonschema.compile(
        {**local, "$schema": "http://json-schema.org/draft-07/schema#"}, handlers={}, use_default=False
    )


def is_valid_fast(fast: Callable[[Any], Any] | None, doc: Any) -> bool:
    """True when the fast validator accepts ``doc``; False means "ask jsonschema", not "invalid"."""
    if fast is None:
        return False
    import fastjsonschema

    try:
        fast(doc)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


class JobFile:
    """``schema``: the file name in workflow/schemas; ``check``: extra rules a schema cannot say, raising
    ValueError with the problem."""

    def __init__(self, schema: str, what: str, check: Callable[[dict], None] | None = None):
        self.schema_path, self.what, self.check = SCHEMAS / schema, what, check

    @functools.cached_property
    def validator(self) -> jsonschema.Draft202012Validator:
        import jsonschema  # only for a document the fast check rejects: most stages never import it

        return jsonschema.Draft202012Validator(read_json(self.schema_path))

    @functools.cached_property
    def fast(self) -> Callable[[Any], Any] | None:
        return fast_validator(read_json(self.schema_path))

    def validate(self, doc: dict, where: str) -> dict:
        valid = is_valid_fast(self.fast, doc)
        errors = [] if valid else sorted(self.validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            location = "/".join(str(p) for p in errors[0].path) or "(root)"
            raise CinesubError(
                f"{where} does not match the {self.what} schema at {location}: {errors[0].message}"
            )
        if self.check:
            try:
                self.check(doc)
            except ValueError as exc:
                raise CinesubError(f"{where}: {exc}") from None
        return doc

    def load(self, path: str | os.PathLike) -> dict:
        return self.validate(read_json(path), where=str(path))

    def load_optional(self, path: str | os.PathLike | None) -> dict | None:
        """The file, or None when the stage that writes it is switched off (no input)."""
        return self.load(path) if path else None

    def save(self, path: str | os.PathLike, doc: dict) -> None:
        write_json_atomic(path, self.validate(doc, where=str(path)))
