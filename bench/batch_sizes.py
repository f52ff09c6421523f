"""Does a larger ``asr.batch_size`` make 04_asr faster on CPU, and does it change what 04 writes?

    python bench/batch_sizes.py [--sizes 4,8,16] [--runs 3]

04_asr's batched mode (``asr.transcribe_file``, shipped ``asr`` settings, the job glossary's hotwords and
the speech timeline 01_demux would write, as in bench/batched_accuracy.py) at each batch size:
- time: figure 1's 10-minute dialogue film, ``--runs`` decodes per size, sizes interleaved (the order
  turns each run), each size's engine loaded once and not timed, the timeline found before the clock
  starts (04 reads it from 01); wall and CPU seconds of the decode, medians;
- result: every one of the nine recordings of bench/batched_accuracy.py decoded once per size, and
  whether the segments (times, text, words) are identical to those of the first size; WER per recording.
Writes ``bench/results/batch_sizes.json``.
"""

from __future__ import annotations

import argparse
import json
import time

import batched_accuracy
import common

TIMED = "dialogue_10min"


def decode(settings: dict, engine, wav, timeline) -> tuple[list[dict], float, float]:
    """04's segments for ``wav``, with the decode's wall and CPU seconds."""
    from cinesub import asr

    wall, cpu = time.perf_counter(), time.process_time()
    segments = asr.transcribe_file(str(wav), settings, "en", engine=engine, speech=timeline)
    return segments, time.perf_counter() - wall, time.process_time() - cpu


def fingerprint(segments: list[dict]) -> str:
    return json.dumps(segments, sort_keys=True, default=str)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="4,8,16")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    from cinesub import speech

    recordings = batched_accuracy.audios()
    hotwords = batched_accuracy.cast_hotwords()
    vad = batched_accuracy.shipped_vad()
    timelines = {name: speech.find(wav, vad) for name, (wav, _, _) in recordings.items()}
    engines = {size: batched_accuracy.pipeline_engine(size, hotwords) for size in sizes}

    results: dict[int, dict] = {size: {"wall_s": [], "cpu_s": [], "recordings": {}} for size in sizes}
    first: dict[str, str] = {}
    for size in sizes:  # the result check: every recording once per size
        settings, engine = engines[size]
        for name, (wav, reference, case) in recordings.items():
            segments, _, _ = decode(settings, engine, wav, timelines[name])
            first.setdefault(name, fingerprint(segments))
            results[size]["recordings"][name] = {
                "identical_to_first_size": fingerprint(segments) == first[name],
                "wer": batched_accuracy.score(segments, reference, case, timelines[name])["wer"],
            }
    wav = recordings[TIMED][0]
    for run in range(args.runs):
        for size in sizes[run % len(sizes) :] + sizes[: run % len(sizes)]:
            settings, engine = engines[size]
            _, wall_s, cpu_s = decode(settings, engine, wav, timelines[TIMED])
            results[size]["wall_s"].append(round(wall_s, 2))
            results[size]["cpu_s"].append(round(cpu_s, 2))
            print(f"run {run + 1} batch {size}: {wall_s:.2f} s wall, {cpu_s:.2f} s CPU", flush=True)
    lines = [f"04_asr batched on the {TIMED} film, {args.runs} runs per size, medians:"]
    for size in sizes:
        row = results[size]
        row["wall_s_median"] = common.median(row["wall_s"])
        row["cpu_s_median"] = common.median(row["cpu_s"])
        same = sum(r["identical_to_first_size"] for r in row["recordings"].values())
        lines.append(
            f"batch {size:>3}: {row['wall_s_median']:6.2f} s wall, {row['cpu_s_median']:6.2f} s CPU; "
            f"segments identical to batch {sizes[0]} on {same} of {len(recordings)} recordings"
        )
    table = "\n".join(lines)
    print(table)
    common.save_result(
        "batch_sizes",
        {
            "environment": common.environment(),
            "timed_recording": TIMED,
            "runs": args.runs,
            "sizes": {str(size): results[size] for size in sizes},
            "tables": {"batch_sizes": table},
        },
    )


if __name__ == "__main__":
    main()
