"""Measure 06_lyrics_detection + 07_hallucination_removal on the synthetic "clean transcripts" set.

Builds the four cases of tests/cleanset.py (espeak-ng speech, sox music / babble / song), transcribes
them with tiny.en with Whisper's skip-silence safeguards off, runs 06 and 07, prints the table and writes
bench/out/clean_transcripts.json.  Usage:  .venv/bin/python bench/clean_transcripts.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "tests")]

import cleanset  # noqa: E402


def main() -> int:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="clean_transcripts_") as workdir:
        results = cleanset.measure(workdir)
        rows = [cleanset.case_numbers(result) for result in results.values()]
    header = (
        "case",
        "invented cues before -> after 07",
        "dialogue words lost",
        "dialogue WER before -> after",
        "song IoU",
        "false-song rate on dialogue",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        iou = "-" if r["song_iou"] is None else f"{r['song_iou']:.3f}"
        print(
            f"| {r['case']} | {r['hallucinated_cues_before']} -> {r['hallucinated_cues_after']} "
            f"| {r['dialogue_words_lost']} of {r['dialogue_words_recognised_before']} "
            f"| {r['dialogue_wer_before']:.3f} -> {r['dialogue_wer_after']:.3f} | {iou} "
            f"| {r['false_song_segments']}/{r['dialogue_segments']} |"
        )
    out = REPO / "bench" / "out" / "clean_transcripts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"asr": cleanset.UNFILTERED_ASR, "cases": rows, "wall_s": round(time.time() - started, 1)},
            indent=1,
        )
    )
    print(f"wrote {out.relative_to(REPO)} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
