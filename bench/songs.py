"""Measure 06_lyrics_detection on film-like song cases and on the clean-transcripts set.

Cases: tests/filmlike_songs.py (refrains sung 3-5x over a beat, over a chord bed, a cappella; dialogue and
short replies over a beat) plus the four cases of tests/cleanset.py. Each is transcribed once by tiny.en
(tests/cleanset.py's unfiltered settings; cached under bench/out/songs/) and handed to the stage edge
``lyrics_detection.run`` of the code under ``--code`` (default: this checkout), so two versions of 06 are
measured the same way on the same transcripts. Per case: song IoU with the true sung span, false songs (found
songs outside it), dialogue segments flagged as lyrics, and 06's wall time per minute of audio.

Usage:  .venv/bin/python bench/songs.py [--code /tmp/base] [--out bench/results/songs_after.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]


def _setup(code: Path) -> None:
    sys.path[:0] = [str(code / "scripts"), str(REPO / "tests")]


def load_cases(cache: Path, build) -> dict:
    """The cases, built once and kept under ``cache``: sox dithers at random, so a rebuilt case differs
    by a few bits and its transcript by a word or two; both sides of a comparison must see the same."""
    import cleanset
    import soundfile as sf

    index = cache / "cases.json"
    if not index.exists():
        names = [case.write(cache / f"{case.name}.wav").stem for case in build().values()]
        index.write_text(json.dumps(names))
    cases = {}
    for name in json.loads(index.read_text()):
        truth = json.loads((cache / f"{name}.truth.json").read_text())
        audio, _ = sf.read(cache / f"{name}.wav", dtype="float32")
        cases[name] = cleanset.Case(
            name=name,
            audio=audio,
            dialogue=[tuple(d) for d in truth["dialogue"]],
            nonspeech=[tuple(n) for n in truth["nonspeech"]],
            song=tuple(truth["song"]) if truth["song"] else None,
        )
    return cases


def transcribe(model, path: Path, cache: Path) -> list[dict]:
    import cleanset

    key = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    hit = cache / f"asr_{key}.json"
    if not hit.exists():
        hit.write_text(json.dumps(cleanset.unfiltered_asr(model, path)))
    return json.loads(hit.read_text())


def measure_case(case, segments: list[dict], workdir: Path) -> dict:
    import cleanset
    from cinesub import segments as seglib

    try:
        from cinesub import lyrics_detection
    except ImportError:  # a --code checkout from before the stage's module took the stage's name
        from cinesub import lyrics as lyrics_detection

    wav = workdir / f"{case.name}.wav"
    source = workdir / f"{case.name}.in.json"
    seglib.save(source, seglib.new_document(case.name, "en", "05_ner", segments, duration=case.duration))
    out = SimpleNamespace(
        segments=str(workdir / f"{case.name}.out.json"), songs=str(workdir / f"{case.name}.songs.json")
    )
    ctx = SimpleNamespace(
        input=SimpleNamespace(audio=str(wav), segments=str(source)),
        output=out,
        params=SimpleNamespace(lyrics={}, cfg={}),  # cfg: the key a --code checkout before 14 reads
        log=logging.getLogger("bench"),
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    lyrics_detection.run(ctx)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    report = json.loads(Path(out.songs).read_text())  # not songsfile: a --code checkout may predate it
    flagged = seglib.load(out.segments)["segments"]
    found = [(s["start"], s["end"]) for s in report["songs"]]
    truth = case.song
    false_songs = [s for s in found if not truth or cleanset.overlap(s, truth) < 0.5 * (s[1] - s[0])]
    dialogue = [(s, e) for s, e, _ in case.dialogue]
    dialogue_segments = [seg for seg in flagged if cleanset.cues_in([seg], dialogue)]
    return {
        "case": case.name,
        "duration_s": round(case.duration, 1),
        "song": truth,
        "songs_found": found,
        "song_iou": round(cleanset.span_iou(found, truth), 3) if truth else None,
        "false_songs": len(false_songs),
        "dialogue_segments": len(dialogue_segments),
        "dialogue_segments_flagged_lyrics": sum(bool(seg.get("lyrics")) for seg in dialogue_segments),
        "wall_s": round(wall, 3),
        "s_per_audio_min": round(wall / (case.duration / 60), 3),
        "cpu_s": round(cpu, 3),
        "cpu_s_per_audio_min": round(cpu / (case.duration / 60), 3),
        "rejected": [(r["start"], r["end"], r["rejected_because"]) for r in report.get("rejected", [])],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose scripts/cinesub is measured")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "songs.json")
    args = parser.parse_args()
    _setup(args.code.resolve())
    import cleanset
    import filmlike_songs

    cache = REPO / "bench" / "out" / "songs"
    cache.mkdir(parents=True, exist_ok=True)
    cases = load_cases(cache, lambda: {**filmlike_songs.build_cases(), **cleanset.build_cases()})
    model = cleanset.whisper_model()
    rows = []
    for case in cases.values():
        path = cache / f"{case.name}.wav"
        rows.append(measure_case(case, transcribe(model, path, cache), cache))
        r = rows[-1]
        print(
            f"| {r['case']} | {r['song_iou']} | {r['false_songs']} | "
            f"{r['dialogue_segments_flagged_lyrics']}/{r['dialogue_segments']} | {r['s_per_audio_min']} |",
            flush=True,
        )
    total_audio = sum(r["duration_s"] for r in rows) / 60
    total_wall = sum(r["wall_s"] for r in rows)
    total_cpu = sum(r["cpu_s"] for r in rows)
    summary = {
        "code": str(args.code),
        "asr": cleanset.UNFILTERED_ASR,
        "cases": rows,
        "s_per_audio_min_overall": round(total_wall / total_audio, 3),
        "cpu_s_per_audio_min_overall": round(total_cpu / total_audio, 3),
        "load_average_at_start": os.getloadavg(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(
        f"06: {summary['s_per_audio_min_overall']} s wall, {summary['cpu_s_per_audio_min_overall']} s CPU "
        f"per audio minute; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
