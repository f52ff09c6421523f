"""The stages other than 04_asr on 10-, 60- and 180-minute films: is their cost linear in the film?

    python bench/light_stages.py [--minutes 10,60,180] [--before /tmp/before]

The films loop the 10-minute benchmark dialogue (``common.looped_film``). 04_asr runs for real once, on
the 10-minute loop; each film's 04 output is that transcript tiled at the loop's period (what the ASR
hears on every loop, without hours of CPU decoding), written where 04 writes it and marked up to date
with ``--touch``. Every other stage runs for real through Snakemake, ``--cores 2``: first 01-03 and 06's
audio half (``--omit-from asr_transcribe``), then 05 to 10. Per stage: process seconds (Snakemake's
benchmark file) and seconds per audio minute; the share of 04's words that reach the SRT (a film of
repeats must lose none). With ``--before`` (a checkout of another commit) each film also runs on that
side, in a working directory of its own. Writes ``bench/results/light_stages.json``.
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
import noop  # noqa: E402
import overhead  # noqa: E402

JOB = "long"
TARGET = f"jobs/{JOB}/10_mux/out.mkv"
ASR_OUTPUTS = ("segments.json", "manifest.json")


def _snakemake(checkout: Path, workdir: Path, *args: str) -> dict:
    result = common.timed_run(common.snakemake_command(workdir, *args, checkout=checkout), cwd=workdir)
    if result["rc"] != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed in {workdir}:\n{result['output'][-3000:]}")
    return result


def _workdir(name: str, minutes: float) -> Path:
    film, _ = common.looped_film(minutes)
    workdir = common.OUT / "light_stages" / name / f"film_{minutes:g}min"
    shutil.rmtree(workdir, ignore_errors=True)
    common.write_workdir(
        workdir,
        [{"job": JOB, "media": str(film), "source_lang": "en", "title": "Looped film", "year": "2026"}],
        {"stages": common.missing_stages()},
    )
    return workdir


def base_transcript() -> tuple[dict, dict, float]:
    """04's real output on the 10-minute loop: (segments document, manifest, the loop's seconds)."""
    import soundfile

    workdir = _workdir("asr", 10.0)
    _snakemake(common.REPO, workdir, f"jobs/{JOB}/04_asr/segments.json")
    asr = workdir / "jobs" / JOB / "04_asr"
    seconds = soundfile.info(str(workdir / "jobs" / JOB / "01_demux" / "audio.wav")).duration
    return (
        json.loads((asr / "segments.json").read_text()),
        json.loads((asr / "manifest.json").read_text()),
        seconds,
    )


def tiled(document: dict, loops: int, period: float) -> dict:
    """``document``'s segments repeated ``loops`` times, each copy ``period`` seconds after the last."""

    def shifted(item: dict, offset: float) -> dict:
        moved = dict(item, start=round(item["start"] + offset, 3), end=round(item["end"] + offset, 3))
        if "words" in item:
            moved["words"] = [shifted(word, offset) for word in item["words"]]
        return moved

    segments = [
        dict(shifted(segment, k * period), id=k * len(document["segments"]) + index)
        for k in range(loops)
        for index, segment in enumerate(document["segments"])
    ]
    return dict(document, segments=segments, duration=round(document["duration"] * loops, 3))


def stage_seconds(workdir: Path) -> dict:
    return {
        name: {"process_s": round(float(row["s"]), 2), "cpu_s": round(float(row["cpu_time"]), 2)}
        for name, row in common.benchmark_rows(workdir / "jobs" / JOB).items()
    }


def words_of(texts: list[str]) -> int:
    return sum(len(re.findall(r"\w+", text)) for text in texts)


def one_film(checkout: Path, side: str, minutes: float, base: tuple[dict, dict, float]) -> dict:
    document, manifest, period = base
    loops = int(round(minutes * 60 / period))
    workdir = _workdir(side, minutes)
    _snakemake(checkout, workdir, TARGET, "--omit-from", "asr_transcribe")
    asr = workdir / "jobs" / JOB / "04_asr"
    asr.mkdir(parents=True, exist_ok=True)
    transcript = tiled(dict(document, job=JOB), loops, period)
    (asr / "segments.json").write_text(json.dumps(transcript, ensure_ascii=False))
    (asr / "manifest.json").write_text(json.dumps(dict(manifest, job=JOB), ensure_ascii=False))
    _snakemake(checkout, workdir, *(f"jobs/{JOB}/04_asr/{name}" for name in ASR_OUTPUTS), "--touch")
    rest = _snakemake(checkout, workdir, TARGET)
    if "asr_transcribe" in noop.rules_ran(rest["output"]):
        raise SystemExit(f"{workdir}: 04_asr ran again instead of taking the tiled transcript")
    stages = stage_seconds(workdir)
    non_asr = sum(row["process_s"] for name, row in stages.items() if name != "04_asr")
    cue_texts = overhead.srt_text(workdir / "jobs" / JOB / "09_subtitle_gen" / "en.srt")
    asr_words = words_of([s["text"] for s in transcript["segments"]])
    return {
        "minutes": minutes,
        "loops": loops,
        "segments": len(transcript["segments"]),
        "cues": len(cue_texts),
        "words_kept_share": round(words_of(cue_texts) / asr_words, 4) if asr_words else None,
        "stages": stages,
        "non_asr_process_s": round(non_asr, 2),
        "non_asr_s_per_audio_min": round(non_asr / minutes, 3),
        "after_asr_wall_s": rest["wall_s"],
    }


def table(results: dict) -> str:
    sides = list(results["sides"])
    names = sorted({name for side in sides for film in results["sides"][side] for name in film["stages"]})
    names = [name for name in names if name != "04_asr"]
    lines = [
        "| stage | "
        + " | ".join(f"{side} {f['minutes']:g} min" for side in sides for f in results["sides"][side])
        + " |"
    ]
    lines.append("|---" * (1 + sum(len(results["sides"][s]) for s in sides)) + "|")
    for name in names:
        cells = []
        for side in sides:
            for film in results["sides"][side]:
                row = film["stages"].get(name)
                cells.append(
                    f"{row['process_s']:.2f} ({row['process_s'] / film['minutes']:.3f}/min)" if row else "-"
                )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for key in ("non_asr_s_per_audio_min", "words_kept_share", "cues"):
        cells = [str(film[key]) for side in sides for film in results["sides"][side]]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", default="10,60,180", help="film lengths, comma-separated")
    parser.add_argument("--before", type=Path, help="a checkout of another commit, run the same way")
    args = parser.parse_args(argv)
    minutes_list = [float(m) for m in args.minutes.split(",")]
    results: dict = {"environment": common.environment(), "sides": {}}
    base = base_transcript()
    sides = [("after", common.REPO)] + ([("before", args.before.resolve())] if args.before else [])
    for minutes in minutes_list:
        for side, checkout in sides:  # sides alternate per film, so load drift hits both
            print(f"  {side}: {minutes:g}-min film", flush=True)
            results["sides"].setdefault(side, []).append(one_film(checkout, side, minutes, base))
    results["table"] = table(results)
    results.update(common.stamp())
    print(results["table"])
    print(common.save_result("light_stages", results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
