"""01_demux before and after its VAD ran beside the decoder, on the same films, in one run.

    git worktree add /tmp/before01 <commit before the change>
    python bench/demux_streaming.py --before /tmp/before01 [--runs 3]

Each side runs the rule ``demux_extract`` alone (``--until``, forced) in a working directory of its own
with the shipped config, sides alternating, on the 10-min film (``--runs`` times) and the 60-min film
(once). Per run: 01's process seconds (Snakemake's benchmark file), and the VAD's log line where the side
writes one. Per film: how far the two sides' WAVs and speech timelines differ (the resampler and the VAD
blocks changed with the streaming). Writes ``bench/results/demux_streaming.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

JOB = "bench"


def run_01(checkout: Path, workdir: Path) -> dict:
    command = common.snakemake_command(
        workdir, "--until", "demux_extract", "-R", "demux_extract", "-q", checkout=checkout
    )
    result = common.timed_run(command, cwd=workdir)
    if result["rc"] != 0:
        raise SystemExit(f"01 failed in {workdir}:\n{result['output'][-2000:]}")
    row = common.benchmark_rows(workdir / "jobs" / JOB)["01_demux"]
    log = (workdir / "jobs" / JOB / "logs" / "01_demux.log").read_text()
    vad = re.search(r"VAD took ([0-9.]+) s(?:, ([0-9.]+) s of it after)?", log)
    return {
        "process_s": round(float(row["s"]), 2),
        "vad_s": float(vad.group(1)) if vad else None,
        "vad_after_decode_s": float(vad.group(2)) if vad and vad.group(2) else None,
    }


def compare(before: Path, after: Path) -> dict:
    import numpy as np
    import soundfile

    a, _ = soundfile.read(str(before / "jobs" / JOB / "01_demux" / "audio.wav"), dtype="int16")
    b, _ = soundfile.read(str(after / "jobs" / JOB / "01_demux" / "audio.wav"), dtype="int16")
    diff = a[: len(b)].astype(np.float64) - b[: len(a)]
    timelines = [side / "jobs" / JOB / "01_demux" / "speech.json" for side in (before, after)]
    spans = [json.loads(path.read_text())["spans"] for path in timelines]
    # each edge of the after side's spans against the nearest edge of the same kind before
    edges = [
        float(np.abs(np.array([span[kind] for span in spans[0]]) - span[kind]).min())
        for span in spans[1]
        for kind in (0, 1)
    ]
    return {
        "samples": [len(a), len(b)],
        "wav_difference_rms": round(float(np.sqrt(np.mean(diff**2))), 1),
        "wav_peak": int(np.abs(a).max()),
        "speech_spans": [len(spans[0]), len(spans[1])],
        "speech_s": [round(sum(e - s for s, e in side), 2) for side in spans],
        "largest_span_edge_move_s": round(max(edges, default=0.0), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the commit before")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sides = {"before": args.before.resolve(), "after": common.REPO}
    films = {"10min": (common.speech_film(10.0)[0], args.runs), "60min": (common.looped_film(60.0)[0], 1)}
    result: dict = {"environment": common.environment(), "before": str(sides["before"]), "films": {}}
    for name, (film, runs) in films.items():
        workdirs = {}
        for side in sides:
            workdir = common.OUT / "demux_streaming" / f"{name}_{side}"
            shutil.rmtree(workdir, ignore_errors=True)
            common.write_workdir(workdir, [{"job": JOB, "media": str(film), "source_lang": "en"}])
            workdirs[side] = workdir
        rows: dict[str, list[dict]] = {side: [] for side in sides}
        for index in range(runs):
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            for side in order:
                rows[side].append(run_01(sides[side], workdirs[side]))
        result["films"][name] = {
            "runs": rows,
            "process_s_median": {side: common.median([r["process_s"] for r in rows[side]]) for side in sides},
            "difference": compare(workdirs["before"], workdirs["after"]),
        }
        print(name, json.dumps(result["films"][name]["process_s_median"]), flush=True)
    result.update(common.stamp())
    print(common.save_result("demux_streaming", result))


if __name__ == "__main__":
    main()
