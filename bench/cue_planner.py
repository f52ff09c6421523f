"""Time 09_subtitle_gen's cue planner (``subtitle_gen.build_cues``) of two checkouts on the same transcript.

The transcript: the 10-min bench film's (``bench/overhead.py`` leaves its job in bench/out/overhead/), and
six copies of it end to end (60 min). Each checkout's code runs in its own process, the two alternating,
``--runs`` times; each process takes the best of 3 calls. Both must give the same SRT (its md5 is compared).
The cues are built with the shipped English rules, without the speech timeline and the film's length (the
planner's work is the same with them).

Usage:  .venv/bin/python bench/cue_planner.py --before /tmp/base [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import common

JOB = common.OUT / "overhead" / "film_10min" / "jobs" / "bench"
SEGMENTS = JOB / "07_hallucination_removal" / "segments.json"

TIMER = r"""
import copy, hashlib, json, sys, time
sys.path.insert(0, sys.argv[1] + "/scripts")
from cinesub import subtitle_gen as sg
segments = json.load(open(sys.argv[2]))["segments"]
rules = sg.rules_for("en", {})
def shifted(seconds):
    out = []
    for seg in segments:
        seg = copy.deepcopy(seg)
        seg["start"] += seconds; seg["end"] += seconds
        for word in seg.get("words", []):
            word["start"] += seconds; word["end"] += seconds
        out.append(seg)
    return out
result = {}
for name, data in (("10min", segments), ("60min", [s for k in range(6) for s in shifted(600.0 * k)])):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        cues = sg.build_cues(data, rules, "en")
        best = min(best, time.perf_counter() - started)
    srt = sg.to_srt(cues).encode()
    result[name] = {"s": round(best, 3), "cues": len(cues), "srt_md5": hashlib.md5(srt).hexdigest()}
print(json.dumps(result))
"""


def timed(code: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", TIMER, str(code), str(SEGMENTS)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code to compare with")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not SEGMENTS.exists():
        parser.error(f"{SEGMENTS} is missing: run bench/run.py --only overhead first")
    sides = {"before": args.before.resolve(), "after": common.REPO}
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.runs):
        for side, code in sides.items():
            runs[side].append(timed(code))
    figures = {}
    for length in ("10min", "60min"):
        row = {side: statistics.median(run[length]["s"] for run in runs[side]) for side in sides}
        md5s = {run[length]["srt_md5"] for side in sides for run in runs[side]}
        same = len(md5s) == 1
        figures[length] = {
            **{f"{side}_s_median": value for side, value in row.items()},
            "ratio": round(row["after"] / row["before"], 3),
            "cues": runs["after"][0][length]["cues"],
            "same_srt": same,
        }
        print(f"{length}: before {row['before']:.3f} s, after {row['after']:.3f} s, same SRT {same}")
    result = {"environment": common.environment(), "before": str(args.before), "figures": figures}
    result["runs"] = runs
    path = common.save_result("cue_planner", result)
    print(f"results: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
