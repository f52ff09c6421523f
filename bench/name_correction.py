"""Names spelled as listed: film-like English dialogue (espeak-ng) naming three names (two characters and
a place) 13 times, transcribed with the shipped 04_asr settings by ``tiny.en-bundled`` and by the
multilingual ``base-bundled`` (with and without the glossary prompt), then 05_ner with and without the
job glossary that lists them and with and without name correction.

Scores: name mentions spelled as listed (per sentence, the listed spelling counted against the truth);
WER of the 05 text against the truth (jiwer, lower-cased, punctuation removed); corrections made and
false corrections (a rewrite into a name the sentence does not say there, counted per sentence).
The dialogue keeps traps: "mirror" (which tiny.en hears as "Mira"), "temple", "running", "urgent".

    .venv/bin/python bench/name_correction.py     # writes bench/results/name_correction.json
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import common  # noqa: E402
from cinesub import asr, glossary_load, ner, synth  # noqa: E402
from cinesub.configschema import validated_config  # noqa: E402

NAMES = ["Meera", "Arjun", "Ranakpur"]
GLOSSARY_TSV = (
    "term\tdevanagari\tenglish\tvariants\tkind\tnote\n"
    "Meera\tमीरा\t\t\tcharacter\t\n"
    "Arjun\tअर्जुन\t\t\tcharacter\t\n"
    "Ranakpur\tरणकपुर\t\t\tplace\ta town with a Jain temple\n"
)
DIALOGUE = [
    "Meera, did you see the old mirror in the hall?",
    "Arjun said the train to Ranakpur leaves at dawn.",
    "I will meet Meera at the temple near the lake.",
    "Ask Arjun to carry the lamps and the blue rugs.",
    "The road to Ranakpur is long, so bring water.",
    "Meera thinks the market will be crowded tonight.",
    "Arjun, please close the window before the rain starts.",
    "We rented a small room in Ranakpur last winter.",
    "My brother was running late again this morning.",
    "Meera and Arjun will paint the door on Sunday.",
    "Nobody in Ranakpur remembers the flood.",
    "The urgent letter came for Arjun yesterday.",
]


def words_of(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def overlapping(segments: list[dict], sentence: dict) -> str:
    return " ".join(
        s["text"] for s in segments if s["start"] < sentence["end"] and s["end"] > sentence["start"]
    )


def score(segments: list[dict], truth: list[dict], corrections: list[dict], before: list[dict]) -> dict:
    """``before``: the same segments uncorrected. A correction is false when the sentence it is in
    (by time) has more word errors after the corrections than before them."""
    import jiwer

    spelled = mentions = false = 0
    for sentence in truth:
        heard = words_of(overlapping(segments, sentence))
        said = words_of(sentence["text"])
        for name in NAMES:
            expected = said.count(name.lower())
            mentions += expected
            spelled += min(expected, heard.count(name.lower()))
        inside = [
            c
            for c in corrections
            if sentence["start"] - 0.5 <= (c["start"] + c["end"]) / 2 <= sentence["end"] + 0.5
        ]
        errors_after = jiwer.process_words(" ".join(said), " ".join(heard) or "-")
        errors_before = jiwer.process_words(
            " ".join(said), " ".join(words_of(overlapping(before, sentence))) or "-"
        )
        worse = (
            errors_after.substitutions + errors_after.deletions + errors_after.insertions
            > errors_before.substitutions + errors_before.deletions + errors_before.insertions
        )
        false += len(inside) if worse else 0
    reference = " ".join(" ".join(words_of(t["text"])) for t in truth)
    hypothesis = " ".join(" ".join(words_of(s["text"])) for s in segments)
    return {
        "mentions": mentions,
        "spelled_as_listed": spelled,
        "share": round(spelled / mentions, 3),
        "wer": round(jiwer.wer(reference, hypothesis), 4),
        "corrections": len(corrections),
        "false_corrections": false,
    }


def main() -> None:
    import soundfile

    config = validated_config()
    settings = dict(config["asr"], model="tiny.en-bundled")
    lines = [synth.Line(text, pause_after=1.0, speed=150) for text in DIALOGUE]
    samples, truth = synth.build_speech(lines, 1.0)
    shipped = glossary_load.read_glossary_tsv(REPO / "resources" / "glossary" / "hinglish.tsv", "shipped")
    with tempfile.TemporaryDirectory() as workdir:
        import librosa

        tsv = Path(workdir) / "job.tsv"
        tsv.write_text(GLOSSARY_TSV, encoding="utf-8")
        glossary_doc = glossary_load.build_glossary(
            shipped, glossary_load.read_glossary_tsv(tsv, "job"), None, "en", 200
        )
        wav = os.path.join(workdir, "speech.wav")
        soundfile.write(wav, librosa.resample(samples, orig_sr=synth.SAMPLE_RATE, target_sr=16000), 16000)
        transcripts, asr_seconds = {}, {}
        # tiny.en is English-only (use_glossary_prompt: auto never prompts it); base-bundled is multilingual
        for model, prompt in (
            ("tiny.en-bundled", None),
            ("base-bundled", None),
            ("base-bundled", glossary_doc["prompt"]),
        ):
            name = f"{model}{', glossary prompt' if prompt else ''}"
            started = time.perf_counter()
            transcripts[name] = asr.transcribe_file(wav, dict(settings, model=model), "en", prompt)
            asr_seconds[name] = round(time.perf_counter() - started, 2)
    nlp = ner.load_model(config["ner"]["model"])
    rows = {}
    for label, asr_name, gloss, correction in (
        ("tiny.en: 04_asr (no glossary)", "tiny.en-bundled", None, None),
        ("tiny.en: 05_ner, glossary, no correction", "tiny.en-bundled", glossary_doc, None),
        (
            "tiny.en: 05_ner, glossary, shipped correction",
            "tiny.en-bundled",
            glossary_doc,
            config["ner"]["name_correction"],
        ),
        ("base: no prompt, no correction", "base-bundled", glossary_doc, None),
        ("base: glossary prompt, no correction", "base-bundled, glossary prompt", glossary_doc, None),
        (
            "base: no prompt, shipped correction",
            "base-bundled",
            glossary_doc,
            config["ner"]["name_correction"],
        ),
        (
            "base: glossary prompt, shipped correction",
            "base-bundled, glossary prompt",
            glossary_doc,
            config["ner"]["name_correction"],
        ),
    ):
        transcript = transcripts[asr_name]
        doc = {"job": "names", "language": "en", "stage": "04_asr", "segments": transcript}
        gazetteer = ner.Gazetteer(ner.gazetteer_entries(gloss), latin_nlp=nlp)
        out, report = ner.tag_document(doc, gazetteer, nlp, config["ner"]["labels"], "", correction)
        places = [n["canonical"] for n in report["names"] if n["label"] == "GPE"]
        rows[label] = {
            **score(out["segments"], truth, report["corrections"], transcript),
            "places_found": places,
            "corrections_made": [f"{c['from']} -> {c['to']} ({c['why']})" for c in report["corrections"]],
            "text": " | ".join(s["text"] for s in out["segments"]),
        }
        row = rows[label]
        print(
            f"{label:40s} names {row['spelled_as_listed']}/{row['mentions']} WER {row['wer']:.4f} "
            f"corrections {row['corrections']} false {row['false_corrections']} places {places}",
            flush=True,
        )
    common.save_result(
        "name_correction",
        {
            **common.stamp(),
            "asr": "shipped asr settings (English: top-level), int8, 2 threads",
            "asr_seconds": asr_seconds,
            "settings": config["ner"]["name_correction"],
            "rows": rows,
        },
    )
    print(f"written: {common.RESULTS / 'name_correction.json'}")


if __name__ == "__main__":
    main()
