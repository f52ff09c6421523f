"""Run the cinesub benchmarks, print a table and write JSON under bench/results/.

    python bench/run.py            # everything (10-min film x3, 10/100/500-job DAGs, 60 + 180-min films, ...)
    python bench/run.py --quick    # the quick subset used by `make bench` (a few minutes)
    python bench/run.py --only overhead,noop

Every figure is a median of several runs; every comparison is a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

FIGURES = ("overhead", "overhead_long", "overhead_soxr", "noop", "asr", "dag", "longfilm", "translation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the quick subset (make bench)")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated subset of {','.join(FIGURES)}"
    )
    parser.add_argument("--runs", type=int, default=None, help="repetitions per figure (default 3, quick 2)")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    runs = args.runs or (2 if args.quick else 3)
    quick = args.quick
    results: dict = {"mode": "quick" if quick else "full", "environment": common.environment()}
    print(
        f"cinesub benchmarks ({results['mode']}), {results['environment']['cores']} cores, "
        f"load {results['environment']['load_at_start']}",
        flush=True,
    )
    tables = {}
    started = time.perf_counter()

    if "overhead" in wanted or "noop" in wanted:
        import overhead

        minutes = 3.0 if quick else 10.0
        print(f"[1] overhead: {minutes:g}-min film, {runs} pairs", flush=True)
        results["overhead"] = overhead.run(minutes, runs)
        tables["overhead"] = overhead.table(results["overhead"])
        if not quick:
            # the other decoding mode: sequential when the shipped config batches, else batched
            other, key = (
                (1, "overhead_asr_sequential")
                if overhead.shipped_batch_size() > 1
                else (8, "overhead_asr_batched")
            )
            print(f"[1c] overhead with asr.batch_size {other}: {runs} pairs", flush=True)
            results[key] = overhead.run(minutes, runs, asr_batch_size=other)
            tables[key] = overhead.table(results[key])
        if "noop" in wanted:
            import noop

            workdir, _ = overhead.workdir_for(minutes)
            print("[2] no-op and 09 re-run", flush=True)
            results["noop"] = noop.run(workdir, overhead.TARGET, runs)
            tables["noop"] = noop.table(results["noop"])
    if "overhead_long" in wanted and not quick:
        import overhead

        print("[1d] overhead: 60-min film, 1 pair (a pair takes ~6 min)", flush=True)
        results["overhead_long"] = overhead.run(60.0, 1)
        tables["overhead_long"] = overhead.table(results["overhead_long"])
    if "overhead_soxr" in wanted and not quick:
        import overhead

        # demux.resampler: soxr (opt-in): 01's decode is the largest linear cost after the ASR
        print(f"[1e] overhead with demux.resampler soxr: 10-min film, {runs} pairs; 60-min, 1", flush=True)
        results["overhead_soxr"] = overhead.run(10.0, runs, resampler="soxr")
        tables["overhead_soxr"] = overhead.table(results["overhead_soxr"])
        results["overhead_long_soxr"] = overhead.run(60.0, 1, resampler="soxr")
        tables["overhead_long_soxr"] = overhead.table(results["overhead_long_soxr"])
    if "asr" in wanted:
        import asr_modes

        minutes = 3.0 if quick else 10.0
        print(f"[1b] ASR alone: bare vs engine sequential vs batched, {minutes:g}-min audio", flush=True)
        results["asr"] = asr_modes.run(minutes, runs)
        tables["asr"] = asr_modes.table(results["asr"])
    if "dag" in wanted:
        import dag

        print("[3] dry-run DAG scale", flush=True)
        results["dag"] = dag.run((10, 100, 500), 1 if quick else runs)
        tables["dag"] = dag.table(results["dag"])
    if "longfilm" in wanted:
        import longfilm

        minutes_list = (30,) if quick else (60, 180)
        print(f"[4] long films: {', '.join(f'{m:g}' for m in minutes_list)} min", flush=True)
        results["longfilm"] = longfilm.run(minutes_list, bare_minutes=() if quick else (60,))
        tables["longfilm"] = longfilm.table(results["longfilm"])
    if "translation" in wanted:
        import translation_batching

        print("[5] translation batching", flush=True)
        results["translation"] = translation_batching.run(100, runs)
        tables["translation"] = translation_batching.table(results["translation"])

    results["total_s"] = round(time.perf_counter() - started, 1)
    for name in tables:  # figures may be merged from several runs: each keeps when and under what load
        results[name]["measured"] = {k: results["environment"][k] for k in ("date", "load_at_start")}
    results["tables"] = tables
    path = common.save_result(f"latest_{results['mode']}", results, merge=set(FIGURES) - set(wanted) != set())
    print("\n" + "\n\n".join(f"== {name}\n{text}" for name, text in tables.items()))
    print(f"\nresults: {path.relative_to(common.REPO)} ({results['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
