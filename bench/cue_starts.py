"""Measure 09_subtitle_gen's cue starts against the voice on film-like dialogue.

The audio: espeak-ng turns of short and long sentences (0.3-0.6 s between sentences of a turn, 1.5-4 s
between turns), a music stretch, and turns spoken over a beat (tests/cleanset.py's speech and music).
Each sentence's voice onset is known exactly. tiny.en transcribes it with the shipped ``asr`` settings
(VAD, beam 5, word timestamps; cached under bench/out/cue_starts/), then ``subtitle_gen.build_cues`` of the
code under ``--code`` (default: this checkout) builds the English cues with the shipped rules. Per
sentence: the first cue that holds its voice, and how far that cue's start is from the onset (a short
sentence joined to the one before starts where that one started). Also: sentences that start mid-cue,
and Netflix conformance (``check_cues``).

Usage:  .venv/bin/python bench/cue_starts.py [--code /tmp/base] [--out bench/results/cue_starts_after.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

TURNS = [
    ["Okay.", "Where were you last night?", "I waited for two hours at the station."],
    ["Yes.", "Sorry.", "My brother missed the train from Pune."],
    ["Come here.", "Look at this letter.", "It came this morning, with no name on it."],
    ["No.", "Not now."],
    ["The doctor said he will be fine.", "Thank you.", "Really, thank you."],
    ["Wait.", "Who sent it?", "Nobody knows, and that is what scares me."],
    ["Go home.", "Sleep.", "We will talk about it tomorrow, I promise."],
]
SENTENCE_GAPS = [0.35, 0.5, 0.6, 0.4]
TURN_GAPS = [1.6, 3.0, 2.2, 4.0]


def build_case(workdir: Path):
    """(audio, [(onset, end, sentence)]): turns of dialogue, a music stretch, the last turns over a beat."""
    import cleanset

    sr = cleanset.SR
    pieces, truth, now = [np.zeros(sr, dtype=np.float32)], [], 1.0
    over_beat_from = None
    for number, turn in enumerate(TURNS):
        if number == 4:  # a music stretch, then the rest of the dialogue over a beat
            music = cleanset.beat_loop(workdir, 15.0)
            pieces.append(music)
            now += len(music) / sr
            over_beat_from = now
        for k, sentence in enumerate(turn):
            chunk = cleanset.speak(sentence, workdir)
            truth.append((round(now, 3), round(now + len(chunk) / sr, 3), sentence))
            pieces.append(chunk)
            now += len(chunk) / sr
            gap = SENTENCE_GAPS[k % len(SENTENCE_GAPS)] if k + 1 < len(turn) else TURN_GAPS[number % 4]
            pieces.append(np.zeros(int(gap * sr), dtype=np.float32))
            now += int(gap * sr) / sr
    audio = np.concatenate(pieces)
    start = int(over_beat_from * sr)
    bed = cleanset.beat_loop(workdir, (len(audio) - start) / sr + 1)[: len(audio) - start]
    audio[start:] += 0.35 * bed
    return audio.astype(np.float32), truth


def transcribe(path: Path, cache: Path) -> list[dict]:
    key = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    hit = cache / f"asr_{key}.json"
    if not hit.exists():
        import cleanset

        model = cleanset.whisper_model()
        from bare_whisper import SHIPPED_OPTIONS

        pieces, _ = model.transcribe(str(path), **SHIPPED_OPTIONS)
        segments = [cleanset.asr_segment(index, piece) for index, piece in enumerate(pieces)]
        hit.write_text(json.dumps(segments))
    return json.loads(hit.read_text())


def start_errors(cues, truth) -> list[dict]:
    """Per true sentence: the first cue that shows its first word (or, when the ASR misheard it, the first
    cue overlapping its voice), and how far that cue's start is from the voice onset."""
    import re

    def words(text):
        return re.sub(r"[^a-z' ]+", " ", text.lower()).split()

    rows = []
    for onset, end, sentence in truth:
        overlapping = [c for c in cues if c.end > onset + 0.05 and c.start < end]
        first_word = words(sentence)[0]
        cue = next((c for c in overlapping if first_word in words(c.text)), None)
        cue = cue or (overlapping[0] if overlapping else None)
        rows.append(
            {
                "sentence": sentence,
                "onset": onset,
                "cue_start": None if cue is None else round(cue.start, 3),
                "error_s": None if cue is None else round(abs(cue.start - onset), 3),
                "joined_to_previous": bool(cue is not None and cue.start < onset - 0.3),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "cue_starts.json")
    parser.add_argument("--no-speech", action="store_true", help="build cues without the speech timeline")
    args = parser.parse_args()
    sys.path[:0] = [str(args.code.resolve() / "scripts"), str(REPO / "tests")]
    import cleanset
    import soundfile as sf
    from cinesub import subtitle_gen

    cache = REPO / "bench" / "out" / "cue_starts"
    cache.mkdir(parents=True, exist_ok=True)
    # Built once and kept: sox dithers at random, so a rebuilt film differs by a few bits and the ASR
    # by a word or two; both sides of a comparison must see the same audio and transcript.
    wav, truth_file = cache / "dialogue_turns.wav", cache / "dialogue_turns.truth.json"
    if not (wav.exists() and truth_file.exists()):
        audio, truth = build_case(Path(cleanset._workdir()))
        sf.write(wav, audio, cleanset.SR, subtype="PCM_16")
        truth_file.write_text(json.dumps(truth))
    audio, _ = sf.read(wav, dtype="float32")
    truth = [tuple(row) for row in json.loads(truth_file.read_text())]
    segments = transcribe(wav, cache)
    import inspect

    from cinesub import vad

    rules = subtitle_gen.rules_for("en", {}, None)
    extra = {}
    if "speech" in inspect.signature(subtitle_gen.build_cues).parameters and not args.no_speech:
        extra["speech"] = vad.speech_timeline(wav)  # what the job's speech timeline file will hold
    cues = subtitle_gen.build_cues(segments, rules, "en", media_duration=len(audio) / cleanset.SR, **extra)
    rows = start_errors(cues, truth)
    errors = np.array([r["error_s"] for r in rows if r["error_s"] is not None])
    qc = subtitle_gen.check_cues(cues, rules)
    summary = {
        "code": str(args.code),
        "speech_timeline": "speech" in extra,
        "case": "dialogue_turns",
        "duration_s": round(len(audio) / cleanset.SR, 1),
        "sentences": len(truth),
        "sentences_without_cue": sum(r["error_s"] is None for r in rows),
        "start_error_mean_s": round(float(errors.mean()), 3),
        "start_error_p90_s": round(float(np.percentile(errors, 90)), 3),
        "sentences_joined_to_previous": sum(r["joined_to_previous"] for r in rows),
        "cues": len(cues),
        "conformance": round(qc["conforming"] / max(1, qc["cues"]), 4),
        "nonconforming": qc["nonconforming"],
        "per_sentence": rows,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("per_sentence", "nonconforming")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
