"""Decode settings for non-English models, chosen by measurement: Whisper base (multilingual, the
``base-bundled`` model) on the Festival-voice Hindi dialogue of ``resources/demo/script_hi.tsv``.

Each row decodes the same 16 kHz audio with one policy and scores the result against the known
Devanagari text: CER (jiwer, punctuation removed, NFC), the share of letters in Devanagari, sentences
lost (a sentence of the truth that no segment overlaps in time), segments, and decode seconds.

Rows: bare faster-whisper (its defaults, ``language="hi"``); the shipped English settings; then one
setting changed at a time (prompt policy, temperature fallback, ``condition_on_previous_text``, beam);
then the script remedies on the best decode (none, transliteration, decoder constraint, both).

    .venv/bin/python bench/hindi_decode.py        # writes bench/results/hindi_decode.json
"""

from __future__ import annotations

import sys
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import common  # noqa: E402
from cinesub import asr, glossary_load, synth, writing_system  # noqa: E402

SCRIPT = REPO / "resources" / "demo" / "script_hi.tsv"
ENGLISH_SHIPPED = {
    "beam_size": 5,
    "temperature": [0.0, 0.2, 0.4],
    "condition_on_previous_text": False,
    "vad_filter": True,
    "word_timestamps": True,
}
FULL_FALLBACK = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
SCRIPT_PROMPT = "नमस्ते। आइए, हिंदी में बात करते हैं।"  # a neutral Devanagari sentence: steers the script


def normalize(text: str) -> str:
    """NFC, punctuation and symbols removed (not ``\\W``: it would strip Devanagari vowel signs too)."""
    text = unicodedata.normalize("NFC", text)
    return " ".join("".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text).split())


def score(segments: list[dict], truth: list[dict]) -> dict:
    import jiwer

    hypothesis = normalize(" ".join(s["text"] for s in segments))
    reference = normalize(" ".join(t["text"] for t in truth))
    counts = writing_system.letter_scripts(hypothesis)
    letters = sum(counts.values()) or 1
    lost = [
        t["text"]
        for t in truth
        if not any(s["start"] < t["end"] and s["end"] > t["start"] and s["text"].strip() for s in segments)
    ]
    return {
        "cer": round(jiwer.cer(reference, hypothesis), 3) if hypothesis else 1.0,
        "devanagari_share": round(counts.get("Deva", 0) / letters, 3),
        "scripts": dict(counts.most_common()),
        "sentences_lost": len(lost),
        "segments": len(segments),
    }


def decode(model, audio, options: dict) -> tuple[list[dict], float]:
    import ctranslate2

    ctranslate2.set_random_seed(0)
    started = time.perf_counter()
    raw, _ = model.transcribe(audio, language="hi", **options)
    segments = [{"start": s.start, "end": s.end, "text": s.text} for s in raw]
    return segments, round(time.perf_counter() - started, 2)


def transliterated(segments: list[dict]) -> list[dict]:
    """The segments after 04_asr's script check (``asr.check_scripts``, transliteration on)."""
    fixed = [dict(segment) for segment in segments]
    asr.check_scripts(fixed, "hi", {"transliterate_script": True})
    return fixed


def main() -> None:
    import librosa
    from faster_whisper import WhisperModel

    lead_in, lines = synth.read_script(str(SCRIPT))
    samples, truth = synth.build_speech(lines, lead_in)
    audio = librosa.resample(samples, orig_sr=synth.SAMPLE_RATE, target_sr=16000)
    model = WhisperModel(asr.resolve_model("base-bundled"), device="cpu", compute_type="int8", cpu_threads=2)
    shipped = glossary_load.read_glossary_tsv(REPO / "resources" / "glossary" / "hinglish.tsv", "shipped")
    glossary_prompt = glossary_load.build_glossary(shipped, [], None, "hi", 200)["prompt"]
    suppress_latin = writing_system.suppress_ids_for(model, "hi", with_latin=True)
    suppress = writing_system.suppress_ids_for(model, "hi")
    shipped_cond = {**ENGLISH_SHIPPED, "condition_on_previous_text": True}

    policies = {
        "bare faster-whisper (defaults)": {},
        "english shipped settings": ENGLISH_SHIPPED,
        "+ glossary prompt (shipped auto for multilingual)": {
            **ENGLISH_SHIPPED,
            "initial_prompt": glossary_prompt,
        },
        "+ Devanagari sentence prompt": {**ENGLISH_SHIPPED, "initial_prompt": SCRIPT_PROMPT},
        "+ full temperature fallback 0..1": {**ENGLISH_SHIPPED, "temperature": FULL_FALLBACK},
        "+ condition_on_previous_text": {**ENGLISH_SHIPPED, "condition_on_previous_text": True},
        "+ beam 1 (greedy)": {**ENGLISH_SHIPPED, "beam_size": 1},
        "+ condition_on_previous_text + full fallback": {**shipped_cond, "temperature": FULL_FALLBACK},
        "+ condition_on_previous_text + beam 1": {**shipped_cond, "beam_size": 1},
        "+ decoder constrained to Devanagari+Latin tokens": {
            **ENGLISH_SHIPPED,
            "suppress_tokens": suppress_latin,
        },
        "+ decoder constrained to Devanagari tokens": {**ENGLISH_SHIPPED, "suppress_tokens": suppress},
        "+ Devanagari-constrained + condition_on_previous_text": {
            **shipped_cond,
            "suppress_tokens": suppress,
        },
        "+ Devanagari-constrained + full fallback": {
            **ENGLISH_SHIPPED,
            "suppress_tokens": suppress,
            "temperature": FULL_FALLBACK,
        },
        "+ Devanagari-constrained + Devanagari prompt": {
            **ENGLISH_SHIPPED,
            "suppress_tokens": suppress,
            "initial_prompt": SCRIPT_PROMPT,
        },
    }
    rows = []
    for name, options in policies.items():
        segments, seconds = decode(model, audio, options)
        fixed = transliterated(segments)
        row = {
            "policy": name,
            "seconds": seconds,
            "raw": score(segments, truth),
            "transliterated": score(fixed, truth),
            "text": " | ".join(s["text"].strip() for s in segments),
        }
        rows.append(row)
        print(
            f"{name:55s} raw CER {row['raw']['cer']:.3f} Deva {row['raw']['devanagari_share']:.2f} "
            f"lost {row['raw']['sentences_lost']} | translit CER {row['transliterated']['cer']:.3f} "
            f"Deva {row['transliterated']['devanagari_share']:.2f}  {seconds:.1f}s",
            flush=True,
        )
    common.save_result(
        "hindi_decode",
        {
            **common.stamp(),
            "audio_s": round(len(audio) / 16000, 1),
            "sentences": len(truth),
            "model": "base-bundled (OpenAI Whisper base, int8, 2 threads)",
            "glossary_prompt": glossary_prompt,
            "suppressed_tokens": {
                "devanagari_only": len(suppress) - 1,
                "devanagari_latin": len(suppress_latin) - 1,
            },
            "rows": rows,
        },
    )
    print(f"written: {common.RESULTS / 'hindi_decode.json'}")


if __name__ == "__main__":
    main()
