"""A content-keyed cache for expensive stage results (ASR, translation), shared across jobs and workflows.

Snakemake's own between-workflow cache (``cache:``) does not fit these rules: it refuses rules that have a
``benchmark:`` directive, it keys an output by the provenance of the whole upstream chain (so the same audio
reached through another job's film path or clip settings misses), and it copies whole output files, while
our segments and manifests carry the job id. This cache instead keys a stage's *result* by what determines
it: the bytes of its input files, its settings, the package versions and the stage's own code. The stage
stores a job-independent payload (e.g. the list of segments) and rebuilds its job's outputs from it.

Entries live at ``<root>/<stage>/<key[:2]>/<key>.json`` and are written atomically, so jobs on several nodes
can share one directory; two jobs computing the same key at once both compute and the last write wins
(the contents are the same).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from .configschema import CONFIG_SCHEMA_PATH
from .fileio import read_json, write_json_atomic
from .manifest import sha256_file

ENV_VAR = "CINESUB_RESULT_CACHE"
FORMAT_VERSION = 1
T = TypeVar("T")


def cache_root(setting: str | None) -> str | None:
    """The cache directory: the config setting, else ``$CINESUB_RESULT_CACHE``; empty or ``off`` disables."""
    root = setting if setting else os.environ.get(ENV_VAR, "")
    return None if root in ("", "off") else os.path.expanduser(root)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


class ResultCache:
    """Results of one stage keyed by content; a cache with no root is disabled (always misses)."""

    def __init__(self, root: str | os.PathLike | None, stage: str):
        self.root = Path(root) if root else None
        self.stage = stage

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def key(
        self,
        *,
        files: dict[str, str | os.PathLike] | None = None,
        data: dict | None = None,
        code: Iterable[str | os.PathLike] = (),
    ) -> str:
        """sha256 over the stage name, input file contents (by role, not path), settings and code.

        Code files count by name and content, so two checkouts of the same code share entries.
        """
        material = {
            "format": FORMAT_VERSION,
            "stage": self.stage,
            "files": {role: sha256_file(path) for role, path in sorted((files or {}).items())},
            "data": data or {},
            "code": {Path(path).name: sha256_file(path) for path in sorted(map(str, code))},
        }
        return hashlib.sha256(_canonical(material).encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        if self.root is None:
            raise ValueError("the result cache is disabled")
        return self.root / self.stage / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The stored payload, or None on a miss (or an unreadable entry, which is treated as a miss)."""
        if self.root is None:
            return None
        path = self.path(key)
        try:
            entry = read_json(path)
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "payload" not in entry:
            return None
        return entry["payload"]

    def put(self, key: str, payload: Any) -> None:
        if self.root is None:
            return
        write_json_atomic(self.path(key), {"key": key, "stage": self.stage, "payload": payload})


def cached(cache: ResultCache, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
    """``compute()`` once per key: (payload, True) on a hit; else compute, store and (result, False)."""
    hit = cache.get(key)
    if hit is not None:
        return hit, True
    result = compute()
    cache.put(key, result)
    return result, False


def reuse(
    setting: str | None, stage: str, make_key: Callable[[ResultCache], str], compute: Callable[[], T]
) -> tuple[T, str | None, bool]:
    """The one way a stage uses the result cache: (result, key, hit). With the cache off (``setting`` and
    ``$CINESUB_RESULT_CACHE`` empty, or ``off``) ``compute()`` runs and no key is made (making one can
    mean hashing the film's audio); otherwise the result is computed once per key, whichever job asks."""
    cache = ResultCache(cache_root(setting), stage)
    if not cache.enabled:
        return compute(), None, False
    key = make_key(cache)
    result, hit = cached(cache, key, compute)
    return result, key, hit


def model_identity(path: str | os.PathLike) -> Any:
    """What identifies a model folder cheaply: each file's name, size and modification time.

    (Hashing multi-GB weights on every run would cost more than it saves; a Hugging Face
    snapshot folder's path already names the commit.)"""
    folder = Path(path)
    if not folder.is_dir():
        return str(path)
    return [str(folder)] + sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    )


@functools.cache
def annotated_keys(annotation: str, section: str | None = None) -> frozenset[str]:
    """Keys of a config section whose schema carries ``"<annotation>": true``; no section: any section's."""
    properties = read_json(CONFIG_SCHEMA_PATH)["properties"]
    sections = [section] if section else list(properties)
    return frozenset(
        key
        for name in sections
        for key, schema in properties.get(name, {}).get("properties", {}).items()
        if schema.get(annotation)
    )


def run_setting_keys(section: str | None = None) -> frozenset[str]:
    """Keys of a config section that change where or how fast a stage runs, not what it produces
    (threads, memory, cache paths, timeouts): ``"x-run-setting": true`` in the config schema.
    They are never rule params (changing them must rerun nothing) nor result-cache key material.
    No section: the keys marked in any section."""
    return annotated_keys("x-run-setting", section)


def result_settings(settings: dict, section: str | None = None) -> dict:
    """The settings that determine a stage's result (the key material)."""
    ignored = run_setting_keys(section)
    return {k: v for k, v in settings.items() if k not in ignored}
