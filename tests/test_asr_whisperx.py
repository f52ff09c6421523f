"""04_asr with asr.backend whisperx, executed: WhisperX 3.8.6's batched FasterWhisperPipeline (the real
tiny.en-bundled Whisper, our bundled-Silero VAD) and whisperx.align, run in the WhisperX venv
(.venv-whisperx, built by `make whisperx-venv`, which `make test` runs) on espeak speech with known
sentence times. The alignment model is a tiny random wav2vec2 built by tests/whisperx_engine_run.py: it
places the characters inside each VAD chunk arbitrarily, so word times are checked against the sentence
the word belongs to, not to the millisecond."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jiwer
import pytest
from cinesub import asr, segments

REPO = Path(__file__).resolve().parents[1]
WHISPERX_PYTHON = REPO / ".venv-whisperx" / "bin" / "python"
SLACK_S = 0.3  # VAD padding (0.2 s) and edge refinement around a sentence's true span


@pytest.fixture(scope="module")
def whisperx_result(tmp_path_factory, english_film):
    import librosa
    import soundfile

    if not WHISPERX_PYTHON.exists():
        pytest.fail(f"{WHISPERX_PYTHON} is missing: make whisperx-venv (make test builds it)")
    film, truth = english_film
    work = tmp_path_factory.mktemp("whisperx")
    samples, _ = librosa.load(str(film.with_name(film.stem + ".speech.wav")), sr=16000)
    soundfile.write(str(work / "audio.wav"), samples, 16000, subtype="PCM_16")
    (work / "text.txt").write_text(" ".join(line["text"] for line in truth))
    out = work / "result.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO / "scripts"))
    run = subprocess.run(
        [
            str(WHISPERX_PYTHON),
            str(REPO / "tests" / "whisperx_engine_run.py"),
            str(work / "audio.wav"),
            str(work / "text.txt"),
            str(work),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text()), truth


def sentence_of(segment: dict, truth: list[dict]) -> dict:
    """The espeak sentence whose true span (with slack) holds the segment's start."""
    (line,) = [t for t in truth if t["start"] - SLACK_S <= segment["start"] <= t["end"] + SLACK_S]
    return line


@pytest.mark.slow
def test_whisperx_engine_transcribes_and_aligns(whisperx_result):
    result, truth = whisperx_result
    segs = result["segments"]
    assert result["pipeline"] == "FasterWhisperPipeline" and result["vad"] == "BundledSileroVad"
    assert result["unaligned_segments"] == 0
    norm = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()]
    )
    said, heard = " ".join(t["text"] for t in truth), " ".join(s["text"] for s in segs)
    assert jiwer.wer(norm(said), norm(heard)) <= 0.15
    segments.validate(segments.new_document("j", "en", "04_asr", segs, duration=26.0))
    # each sentence is found where it was spoken (WhisperX may split one at punctuation), nothing elsewhere
    lines = [sentence_of(s, truth) for s in segs]
    assert [t["text"] for t in truth] == list(dict.fromkeys(line["text"] for line in lines))
    for seg, line, previous in zip(segs, lines, [None, *lines], strict=False):
        if line is not previous:
            assert abs(seg["start"] - line["start"]) <= SLACK_S, (seg["text"], line)
        words = seg["words"]
        assert " ".join(w["word"] for w in words) == seg["text"]
        assert seg["start"] == words[0]["start"] and seg["end"] == words[-1]["end"]
        for before, after in zip(words, words[1:], strict=False):
            assert before["start"] < before["end"] <= after["start"] < after["end"], (before, after)
        assert line["start"] - SLACK_S <= words[0]["start"] and words[-1]["end"] <= line["end"] + SLACK_S
        # wav2vec2's character scores become word probabilities
        assert all(0.0 < w["probability"] <= 1.0 for w in words)
        # the decoder signals 07 judges by, which WhisperX's own segments lack
        assert -1.0 < seg["avg_logprob"] < 0.0
        assert 0.0 <= seg["no_speech_prob"] < 0.5
        assert 0.0 < seg["compression_ratio"] < 2.4


@pytest.mark.slow
def test_whisperx_device_auto_takes_only_a_gpu_it_sees(whisperx_result):
    result, _ = whisperx_result
    assert result["devices"] == ["cuda" if gpu else "cpu" for gpu in result["gpus"]]


@pytest.mark.slow
def test_whisperx_stand_ins_refuse_to_be_used(whisperx_result):
    result, _ = whisperx_result
    assert set(result["stand_ins"]) <= {"torchaudio", "pyannote.audio"}  # this CPU venv has neither
    if "pyannote.audio" in result["stand_ins"]:
        assert "pyannote.audio is not importable here" in result["stand_ins"]["pyannote.audio"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("english_only_model", "English-only; the job's language is hi"),
        ("missing_alignment_model", "could not load its models for en (alignment: "),
        ("missing_punkt", "needs nltk's punkt_tab data (english)"),
    ],
)
def test_whisperx_engine_fails_in_one_line(whisperx_result, case, says):
    message = whisperx_result[0]["errors"][case]
    assert message and says in message and "\n" not in message


def test_unaligned_words_share_the_gap_between_their_neighbours():
    words = [
        {"word": "At", "start": 1.0, "end": 1.2, "score": 0.9},
        {"word": "9:30", "start": 1.0, "end": 1.2},  # WhisperX copies the nearest aligned word's times
        {"word": "£5", "start": 1.0, "end": 1.2},
        {"word": "sharp", "start": 1.8, "end": 2.0, "score": 0.7},
    ]
    assert asr.spread_unaligned(words, 1.0, 2.0) == [
        {"word": "At", "start": 1.0, "end": 1.2, "probability": 0.9},
        {"word": "9:30", "start": 1.2, "end": pytest.approx(1.5), "probability": None},
        {"word": "£5", "start": pytest.approx(1.5), "end": pytest.approx(1.8), "probability": None},
        {"word": "sharp", "start": 1.8, "end": 2.0, "probability": 0.7},
    ]


def test_a_segment_whisperx_could_not_align_keeps_its_text_and_signals():
    chunk = {
        "text": " Hello there.",
        "start": 3.0,
        "end": 5.0,
        "avg_logprob": -0.4,
        "no_speech_prob": 0.7,
        "compression_ratio": 1.1,
    }
    raw = asr.from_whisperx({"text": "Hello there.", "start": 3.0, "end": 5.0, "words": []}, chunk)
    assert raw["aligned"] is False
    segment = asr.to_canonical(raw, 10.0)
    assert [(w["word"], w["start"], w["end"], w["probability"]) for w in segment["words"]] == [
        ("Hello", 13.0, 14.0, None),
        ("there.", 14.0, 15.0, None),
    ]
    assert (segment["avg_logprob"], segment["no_speech_prob"]) == (-0.4, 0.7)


@pytest.mark.parametrize(
    ("language", "settings", "expected"),
    [
        ("en", {"backend": "whisperx", "align_model": ""}, "facebook/wav2vec2-base-960h"),
        ("hi", {"backend": "whisperx", "align_model": ""}, "theainerd/Wav2Vec2-large-xlsr-hindi"),
        ("hi", {"backend": "whisperx", "align_model": "me/my-hindi-ctc"}, "me/my-hindi-ctc"),
        ("hi", {"backend": "faster-whisper", "align_model": "me/my-hindi-ctc"}, None),
    ],
)
def test_alignment_model_for_a_job(language, settings, expected):
    assert asr.alignment_model_for(language, settings) == expected


def test_no_default_alignment_model_is_one_clear_error():
    with pytest.raises(asr.CinesubError, match="no default alignment model for language 'ta'.*align_model"):
        asr.alignment_model_for("ta", {"backend": "whisperx", "align_model": ""})


def test_whisperx_venv_pins_agree_with_the_whisperx_env():
    import yaml

    def pins(lines):
        return {
            name.lower().replace("_", "-").replace(".", "-"): version
            for name, _, version in (line.partition("==") for line in lines)
            if version
        }

    env = yaml.safe_load((REPO / "envs" / "whisperx.yaml").read_text())
    env_pins = pins(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))
    venv_pins = pins(
        line.strip()
        for name in ("requirements-whisperx.txt", "requirements-whisperx-nodeps.txt")
        for line in (REPO / name).read_text().splitlines()
        if not line.startswith(("#", "-r"))
    )
    assert venv_pins["whisperx"] == "3.8.6" and venv_pins["nltk"] == env_pins["nltk"]
    assert all(env_pins[name] == version for name, version in venv_pins.items() if name in env_pins)
