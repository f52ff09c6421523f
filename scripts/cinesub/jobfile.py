"""A kind of job file (``jobs/<job>/...``) with one JSON schema in workflow/schemas: validate, load, save."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import jsonschema

from .errors import CinesubError
from .fileio import read_json, write_json_atomic

SCHEMAS = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


class JobFile:
    """``schema``: the file name in workflow/schemas; ``check``: extra rules a schema cannot say, raising
    ValueError with the problem."""

    def __init__(self, schema: str, what: str, check: Callable[[dict], None] | None = None):
        self.schema_path, self.what, self.check = SCHEMAS / schema, what, check

    @functools.cached_property
    def validator(self) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(read_json(self.schema_path))

    def validate(self, doc: dict, where: str) -> dict:
        errors = sorted(self.validator.iter_errors(doc), key=lambda e: list(e.path))
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
