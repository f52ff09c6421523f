"""6: the demo film end to end through the real snakemake CLI with asr.backend whisperx (run in the
WhisperX venv, .venv-whisperx) vs asr.backend faster-whisper (the main venv), same machine, back to back.

Both use tiny.en-bundled. The WhisperX run aligns with the tiny random wav2vec2 that tests build
(tests/whisperx_engine_run.py prepare): no real English alignment model is on this offline machine, so its
word times are not meaningful and neither is anything that depends on them; WER and time are.

usage: .venv/bin/python bench/whisperx_demo.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, REPO, environment, median, save_result, timed_run, wer, write_workdir  # noqa: E402

WHISPERX_BIN = REPO / ".venv-whisperx" / "bin"
TARGET = "jobs/demo/10_mux/out.mkv"
DEMO_JOB = {
    "job": "demo",
    "media": "demo/film.mkv",
    "source_lang": "en",
    "title": "cinesub demo",
    "year": 2026,
}


def texts(path: Path) -> list[str]:
    return [s["text"] for s in json.loads(path.read_text())["segments"]]


def one_run(name: str, bin_dir: Path, overrides: dict, env: dict) -> dict:
    workdir = write_workdir(OUT / "whisperx_demo" / name, [DEMO_JOB], {"asr": overrides})
    shutil.rmtree(workdir / "jobs", ignore_errors=True)
    snakemake = [
        str(bin_dir / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
    ]
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin", **env}
    film = timed_run([*snakemake, "demo/film.mkv"], env=env)  # the film is made outside the timed run
    if film["rc"]:
        raise SystemExit(f"{name}: the demo film failed:\n{film['output'][-3000:]}")
    run = timed_run([*snakemake, TARGET], env=env)
    if run["rc"]:
        raise SystemExit(f"{name}: the pipeline failed:\n{run['output'][-3000:]}")
    truth = [line["text"] for line in json.loads((workdir / "demo" / "truth.json").read_text())["sentences"]]
    job = workdir / "jobs" / "demo"
    asr_tsv = (job / "benchmarks" / "04_asr.tsv").read_text().splitlines()
    from cinesub import manifest, removed

    removal = removed.load(job / "07_hallucination_removal" / "removed.json")["summary"]
    return {
        "wall_s": run["wall_s"],
        "asr_s": float(asr_tsv[1].split("\t")[0]),
        "wer_04_asr": wer(truth, texts(job / "04_asr" / "segments.json")),
        "wer_07_kept": wer(truth, texts(job / "07_hallucination_removal" / "segments.json")),
        "segments_04": len(texts(job / "04_asr" / "segments.json")),
        "dropped_07": removal["dropped"],
        "dropped_07_by_reason": removal["by_reason"],
        "backend": manifest.load(job / "04_asr" / "manifest.json").get("models", {}).get("asr", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    runs = parser.parse_args().runs
    prepared = OUT / "whisperx_demo" / "models"
    text = prepared / "text.txt"
    prepared.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "resources" / "demo" / "script.tsv").read_text().splitlines()[1:]
    text.write_text(" ".join(row.split("\t")[0] for row in lines if not row.startswith("#")))
    subprocess.run(
        [
            str(WHISPERX_BIN / "python"),
            str(REPO / "tests" / "whisperx_engine_run.py"),
            "prepare",
            str(text),
            str(prepared),
        ],
        check=True,
    )
    variants = {
        "faster-whisper": (Path(sys.executable).parent, {"backend": "faster-whisper"}, {}),
        "faster-whisper batched": (
            Path(sys.executable).parent,
            {"backend": "faster-whisper", "batch_size": 8},
            {},
        ),
        "whisperx": (
            WHISPERX_BIN,
            {"backend": "whisperx", "batch_size": 8, "align_model": str(prepared / "align_model")},
            {"NLTK_DATA": str(prepared / "nltk_data")},
        ),
    }
    env_info = environment()
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(runs):  # interleaved, so load drifts hit every variant alike
        for name, (bin_dir, overrides, env) in variants.items():
            results[name].append(one_run(name.replace(" ", "_"), bin_dir, overrides, env))
    table = {
        name: {
            "wall_s": median([r["wall_s"] for r in rows]),
            "asr_s": median([r["asr_s"] for r in rows]),
            **{
                k: rows[-1][k]
                for k in (
                    "wer_04_asr",
                    "wer_07_kept",
                    "segments_04",
                    "dropped_07",
                    "dropped_07_by_reason",
                    "backend",
                )
            },
            "runs": rows,
        }
        for name, rows in results.items()
    }
    base = table["faster-whisper"]["wall_s"]
    for name, row in table.items():
        row["ratio_to_faster_whisper"] = round(row["wall_s"] / base, 3)
        print(
            f"{name:24} wall {row['wall_s']:6.1f} s (x{row['ratio_to_faster_whisper']:.2f})  "
            f"04_asr {row['asr_s']:5.1f} s  WER 04 {row['wer_04_asr']:.3f}  after 07 {row['wer_07_kept']:.3f}"
            f"  07 dropped {row['dropped_07']}/{row['segments_04']}"
        )
    path = save_result("whisperx_demo", {"environment": env_info, "target": TARGET, "table": table})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
