"""Per-stage manifests: what went in, what came out (size + sha256), settings, versions, timing.

One writer and reader (schema ``workflow/schemas/manifest.schema.json``), following cinesub.segments."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .jobfile import JobFile

# Keys whose values never go into a manifest (API keys, tokens).
SECRET_MARKERS = ("key", "token", "secret", "password")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def describe_files(paths: Iterable[str]) -> list[dict[str, Any]]:
    described = []
    for path in paths:
        entry: dict[str, Any] = {"path": str(path)}
        if os.path.isfile(path):
            entry["size"] = os.path.getsize(path)
            entry["sha256"] = sha256_file(path)
        elif os.path.isdir(path):
            entry["size"] = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
        else:
            entry["missing"] = True
        described.append(entry)
    return described


def package_versions(names: Iterable[str]) -> dict[str, str]:
    import importlib.metadata  # 30 ms of start-up, needed only once the stage has finished

    versions = {"python": platform.python_version(), "cinesub": __version__}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def redact(value: Any) -> Any:
    """Drop secret-looking keys anywhere in a params structure."""
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if any(m in str(k).lower() for m in SECRET_MARKERS) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def build(
    stage: str,
    job: str,
    inputs: Iterable[str],
    outputs: Iterable[str],
    params: Any,
    started: datetime,
    finished: datetime,
    packages: Iterable[str] = (),
    models: dict[str, Any] | None = None,
    warnings: Iterable[str] = (),
) -> dict[str, Any]:
    record = {
        "stage": stage,
        "job": job,
        "inputs": describe_files(inputs),
        "outputs": describe_files(outputs),
        "params": redact(params),
        "versions": package_versions(packages),
        "models": redact(models or {}),
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "duration_s": round((finished - started).total_seconds(), 3),
        "host": socket.gethostname(),
        "argv0": os.path.basename(sys.argv[0]) if sys.argv else "",
    }
    if warnings:  # only when a qc check was passed with qc.on_failure: warn
        record["warnings"] = list(warnings)
    return record


FILE = JobFile("manifest.schema.json", "manifest")
write, load = FILE.save, FILE.load


def now() -> datetime:
    return datetime.now(UTC)
