"""04_asr: the real bundled tiny.en model on synthetic speech with known text and timing."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import jiwer
import numpy as np
import pytest
from cinesub import asr, segments
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError
from cinesub.runner import StageContext

SETTINGS = validated_section("asr", {"use_glossary_prompt": True})  # the schema's, prompt always on


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory, english_film):
    film, truth = english_film
    wav = tmp_path_factory.mktemp("asr") / "audio.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(film), "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(wav)],
        check=True,
    )
    return wav, truth


@pytest.fixture(scope="module")
def engine():
    return asr.load_engine(SETTINGS, "en")


def wer_against(truth, segs):
    norm = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()]
    )
    return jiwer.wer(norm(" ".join(t["text"] for t in truth)), norm(" ".join(s["text"] for s in segs)))


def test_transcribes_with_word_times(speech_wav, engine):
    wav, truth = speech_wav
    progress = []
    segs = asr.transcribe_file(str(wav), SETTINGS, "en", engine=engine, progress=progress.append)
    assert wer_against(truth, segs) <= 0.15
    assert progress[-1] == pytest.approx(100.0, abs=0.5)
    doc = segments.validate(segments.new_document("j", "en", "04_asr", segs, duration=30.0))
    for seg in doc["segments"]:
        assert (
            seg["words"] and seg["start"] <= seg["words"][0]["start"] <= seg["words"][-1]["end"] <= seg["end"]
        )
    starts = [seg["words"][0]["start"] for seg in segs]
    for sentence in truth:
        nearest = min(starts, key=lambda s: abs(s - sentence["start"]))
        assert abs(nearest - sentence["start"]) <= 0.3


def test_small_windows_give_the_same_words(speech_wav, engine):
    """Windows cut at quiet points: a 30 s window limit on the 25 s film and a 12 s limit agree."""
    wav, truth = speech_wav
    whole = asr.transcribe_file(str(wav), SETTINGS, "en", engine=engine)
    windowed = asr.transcribe_file(str(wav), {**SETTINGS, "window_s": 12}, "en", engine=engine)
    assert wer_against(truth, windowed) <= 0.2
    assert (
        abs(
            len(" ".join(s["text"] for s in windowed).split())
            - len(" ".join(s["text"] for s in whole).split())
        )
        <= 3
    )
    assert [s["id"] for s in windowed] == list(range(len(windowed)))
    assert all(a["start"] <= b["start"] for a, b in zip(windowed, windowed[1:]))


def test_iter_windows_cover_audio_exactly(speech_wav):
    wav, _ = speech_wav
    windows = list(asr.iter_windows(str(wav), 7))
    assert len(windows) >= 4
    total = sum(len(block) for _, block, _ in windows)
    import soundfile

    assert total == soundfile.info(str(wav)).frames
    assert all(len(block) <= 7 * 16000 for _, block, _ in windows)


def test_find_cut_picks_the_quiet_frame():
    rate = 16000
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.3, rate * 40).astype(np.float32)
    samples[int(31.2 * rate) : int(31.5 * rate)] = 0.0
    cut = asr.find_cut(samples, rate)
    assert 31.2 * rate <= cut <= 31.5 * rate


def test_frame_levels_are_each_frames_rms_in_db():
    rate = 16000
    samples = np.random.default_rng(1).normal(0, 0.2, rate * 3 + 77).astype(np.float32)
    samples[rate : rate + 160] = 0.0  # a silent frame: the floor, not -inf
    levels = asr.frame_levels_db(samples, rate)
    frames = samples[: len(levels) * 160].astype(np.float64).reshape(-1, 160)
    expected = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    assert len(levels) == rate * 3 // 160
    np.testing.assert_allclose(levels, expected, rtol=0, atol=1e-9)
    assert levels[100] == pytest.approx(-120.0)


def test_refine_edges_snaps_to_voice_onset():
    rate = 16000
    audio = np.zeros(rate * 4, dtype=np.float32)
    audio[int(1.5 * rate) : int(2.6 * rate)] = 0.2 * np.sin(np.arange(int(1.1 * rate)) / 5.0)
    levels = asr.frame_levels_db(audio, rate)
    seg = {
        "start": 0.9,
        "end": 2.9,
        "words": [{"word": "hello", "start": 0.9, "end": 1.8}, {"word": "there", "start": 1.8, "end": 2.9}],
    }
    asr.refine_edges(seg, levels, 0.0)
    assert seg["start"] == pytest.approx(1.5, abs=0.02)
    assert seg["end"] == pytest.approx(2.6, abs=0.02)


def test_clean_words_fills_missing_times():
    words = [
        {"word": " a", "start": None, "end": 1.0},
        {"word": "", "start": 1.0, "end": 1.1},
        {"word": "b", "start": 1.2, "end": None, "score": 1.7},
    ]
    cleaned = asr.clean_words(words, 0.5, 2.0)
    assert [w["word"] for w in cleaned] == ["a", "b"]
    assert cleaned[0]["start"] == 0.5 and cleaned[1]["end"] == 2.0 and cleaned[1]["probability"] == 1.0


def test_to_canonical_offsets_and_drops_empty():
    assert asr.to_canonical({"start": 0, "end": 1, "text": "  "}, 10) is None
    seg = asr.to_canonical(
        {
            "start": 1.0,
            "end": 2.0,
            "text": " hi  there ",
            "no_speech_prob": 1.2,
            "words": [{"word": "hi", "start": 1.0, "end": 1.5}],
        },
        600.0,
    )
    assert seg["start"] == 601.0 and seg["text"] == "hi there" and seg["no_speech_prob"] == 1.0
    assert seg["words"][0]["start"] == 601.0


def test_model_errors_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(CinesubError, match="model directory not found"):
        asr.resolve_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CinesubError, match="has no model.bin"):
        asr.resolve_model(str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CinesubError, match="not available .*HF_HUB_OFFLINE is set.*make models") as err:
        asr.resolve_model("large-v3", cache_dir=str(tmp_path / "cache"))
    assert "\n" not in str(err.value)


def test_english_only_model_refuses_hindi():
    with pytest.raises(CinesubError, match="English-only"):
        asr.load_engine(SETTINGS, "hi")


def test_whisperx_backend_missing_is_explained():
    try:
        import whisperx  # noqa: F401

        pytest.skip("whisperx is installed here")
    except ImportError:
        pass
    with pytest.raises(CinesubError, match="envs/whisperx.yaml"):
        asr.load_engine({**SETTINGS, "backend": "whisperx"}, "en")


def test_run_writes_canonical_document(tmp_path, speech_wav):
    wav, truth = speech_wav
    glossary = tmp_path / "glossary.json"
    glossary.write_text(
        json.dumps(
            {
                "language": "en",
                "terms": [],
                "names": [],
                "prompt": "Meera, jetty, nets.",
                "hotwords": "",
                "prompt_tokens": 6,
            }
        )
    )
    ctx = StageContext(
        stage="04_asr",
        job="j1",
        input=SimpleNamespace(audio=str(wav), glossary=str(glossary)),
        output=SimpleNamespace(segments=str(tmp_path / "segments.json")),
        params=SimpleNamespace(asr=SETTINGS, language="en"),
    )
    asr.run(ctx)
    doc = segments.load(tmp_path / "segments.json")
    assert doc["stage"] == "04_asr" and doc["language"] == "en" and doc["duration"] > 20
    assert doc["meta"]["04_asr"]["prompt"] == "Meera, jetty, nets."
    assert ctx.models["asr"]["prompt_chars"] == len("Meera, jetty, nets.")
    assert wer_against(truth, doc["segments"]) <= 0.2  # a prompt costs tiny.en some accuracy


def test_auto_prompt_policy_skips_english_only_models():
    engine = asr.load_engine({**SETTINGS, "use_glossary_prompt": "auto"}, "en", "Meera, jetty.")
    assert engine.prompt is None and engine.options["initial_prompt"] is None
    engine = asr.load_engine({**SETTINGS, "use_glossary_prompt": True}, "en", "Meera, jetty.")
    assert engine.options["initial_prompt"] == "Meera, jetty."
