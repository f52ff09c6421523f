"""Cluster jobs and wall time of a 3-film sheet on the one-node SLURM, before and after grouping.

    sudo bash .ci/slurm-up.sh && python bench/slurm_groups.py [--before afe60c6] [--runs 1]

"before" is the workflow at the given commit (git archive into bench/out/), "after" this checkout; both run
the same sheet (three short English films, every default stage but TMDB, no translation) with
``--profile <their>/profiles/slurm`` from a fresh working directory, through an sbatch shim that counts the
submissions. Writes ``bench/results/slurm_groups.json``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import OUT, REPO, SNAKEMAKE, environment, median, save_result, speech_film, write_workdir

sys.path.insert(0, str(REPO / "tests"))
from reliability import run_under_sbatch_shim  # noqa: E402

SHIM = """#!/bin/bash
out=$({sbatch} "$@")
status=$?
echo "$out" >> "$SBATCH_CALL_LOG"
echo "$out"
exit $status
"""


def checkout(commit: str) -> Path:
    target = OUT / f"code_{commit}"
    if not (target / "Snakefile").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def run_sheet(code: Path, root: Path, films: list[Path]) -> dict:
    if root.exists():
        shutil.rmtree(root)
    workdir = write_workdir(
        root / "work",
        [
            {"job": f"film{i}", "media": str(f), "source_lang": "en", "title": f"film{i}"}
            for i, f in enumerate(films)
        ],
        {"stages": {"tmdb": False}},
    )
    shim = root / "bin"
    shim.mkdir()
    (shim / "sbatch").write_text(SHIM.format(sbatch=shutil.which("sbatch")))
    (shim / "sbatch").chmod(0o755)
    calls = root / "sbatch_calls.txt"
    command = [
        SNAKEMAKE,
        "-s",
        str(code / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(code / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks",
        "12",
    ]
    returncode, output, wall, _ = run_under_sbatch_shim(command, workdir, shim, calls, timeout=1200)
    submitted = len(calls.read_text().splitlines()) if calls.exists() else 0
    done = all((workdir / f"jobs/film{i}/10_mux/out.mkv").exists() for i in range(len(films)))
    return {
        "rc": returncode,
        "wall_s": round(wall, 1),
        "sbatch_calls": submitted,
        "all_muxed": done,
        "tail": output[-1500:] if returncode else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="afe60c6")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("sbatch"):
        sys.exit("no SLURM: run sudo bash .ci/slurm-up.sh first")
    films = [speech_film(minutes, name=f"slurm_{minutes:g}min")[0] for minutes in (0.3, 0.4, 0.5)]
    sides = {"before": checkout(args.before), "after": REPO}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for attempt in range(args.runs):
        for name, code in sides.items():  # interleaved, so load drifts hit both sides alike
            runs[name].append(run_sheet(code, OUT / "slurm_groups" / name, films))
            print(name, attempt, runs[name][-1], flush=True)
    summary = {
        name: {
            "sbatch_calls": median([r["sbatch_calls"] for r in rs]),
            "wall_s": median([r["wall_s"] for r in rs]),
            "runs": rs,
        }
        for name, rs in runs.items()
    }
    save_result(
        "slurm_groups",
        {
            "environment": environment(),
            "before_commit": args.before,
            "films": 3,
            "stages": "every default stage but TMDB, no translation",
            **summary,
        },
    )


if __name__ == "__main__":
    main()
