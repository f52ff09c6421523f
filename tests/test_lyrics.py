"""06_lyrics_detection: music features on real synthetic audio, the decision rules, and the measured set."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import cleanset
import numpy as np
import pytest
import soundfile as sf
from cinesub import lyrics
from cinesub import segments as seglib

CFG = lyrics.settings({})


def seg(i, start, end, text, **extra):
    base = {"id": i, "start": start, "end": end, "text": text, "avg_logprob": -0.3, "no_speech_prob": 0.1}
    base.update(extra)
    return base


def windows_with_music(spans, duration, level=0.9):
    """Scored windows every second: ``level`` inside ``spans``, 0 elsewhere."""
    out = []
    for t in np.arange(0.5, duration, 1.0):
        music = level if any(a <= t < b for a, b in spans) else 0.0
        out.append(lyrics.Window(float(t), 0.55 if music else 0.1, 100.0, 0.6, 0.8, 1.0, music))
    return out


REFRAIN = "under the moon under the stars dance with me tonight"


# ---- decision rules --------------------------------------------------------------------------------------

def test_music_runs_merge_across_short_gaps_only():
    windows = windows_with_music([(10, 20), (23, 40), (50, 55)], 70)
    assert lyrics.music_runs(windows, CFG) == [(10.0, 40.0), (50.0, 55.0)]
    assert lyrics.music_runs(windows, lyrics.settings({"merge_gap_s": 1})) == [(10.0, 20.0), (23.0, 40.0),
                                                                             (50.0, 55.0)]


def test_transcript_cues():
    sung = [seg(i, 10 + 5 * i, 14 + 5 * i, REFRAIN) for i in range(4)]
    talk = [seg(i, 5 * i, 4 + 5 * i, text) for i, text in enumerate(cleanset.DIALOGUE)]
    assert lyrics.transcript_cues(sung, CFG)["repeated_lines"] == 1.0
    assert lyrics.transcript_cues(talk, CFG) == {"repeated_lines": 0.0, "short_lines": 0.0,
                                                 "low_confidence": 0.0}
    short = [seg(i, i, i + 1, "oh oh baby", no_speech_prob=0.9) for i in range(3)]
    cues = lyrics.transcript_cues(short, CFG)
    assert cues["short_lines"] == 1.0 and cues["low_confidence"] == 1.0
    assert lyrics.transcript_cues([], CFG)["repeated_lines"] == 0.0


def test_song_needs_music_vocals_length_and_sung_text():
    sung = [seg(i, 30 + 5 * i, 34 + 5 * i, REFRAIN) for i in range(6)]
    talk = [seg(10 + i, 80 + 5 * i, 84 + 5 * i, text) for i, text in enumerate(cleanset.DIALOGUE)]
    windows = windows_with_music([(30, 60), (80, 110), (120, 150), (160, 170)], 180)
    voices = {30: 0.9, 80: 0.9, 120: 0.0, 160: 0.9}
    songs, rejected = lyrics.find_songs(windows, sung + talk, CFG, lambda a, b: voices[int(a)])
    assert [(s["start"], s["end"]) for s in songs] == [(30.0, 60.0)]
    assert "repeated_lines" in songs[0]["cues_fired"] and songs[0]["segment_ids"] == list(range(6))
    reasons = {r["start"]: r["rejected_because"] for r in rejected}
    assert reasons[80.0].startswith("music under dialogue")
    assert reasons[120.0].startswith("instrumental")
    assert reasons[160.0].startswith("shorter than min_song_s")
    # without a VAD, segments inside the span stand for a voice
    songs, _ = lyrics.find_songs(windows, sung, CFG)
    assert [s["start"] for s in songs] == [30.0]


@pytest.mark.parametrize("action", ["style", "plain", "drop"])
def test_actions(action):
    cfg = lyrics.settings({"action": action})
    segments = [seg(0, 1, 4, "Hello there.")] + [seg(i, 30 + 5 * i, 34 + 5 * i, REFRAIN) for i in range(1, 6)]
    doc = seglib.new_document("t", "en", "05_ner", segments)
    out, report = lyrics.detect(doc, windows_with_music([(30, 60)], 70), cfg)
    seglib.validate(out)
    assert len(report["songs"]) == 1
    if action == "drop":
        assert [s["text"] for s in out["segments"]] == ["Hello there."]
        assert len(report["dropped_segments"]) == 5
    else:
        assert [s["lyrics"] for s in out["segments"]] == [False] + [True] * 5
        assert out["segments"][1]["flags"]["06_lyrics_detection"]["song"] == 0
        assert report["dropped_segments"] == []


# ---- audio features on real audio ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def beat_and_speech(tmp_path_factory):
    workdir = Path(cleanset._workdir())
    speech = np.concatenate([np.concatenate([cleanset.speak(t, workdir), np.zeros(cleanset.SR // 2)])
                             for t in cleanset.DIALOGUE])
    music = cleanset.beat_loop(workdir, 30.0)
    audio = np.concatenate([speech, music, np.zeros(cleanset.SR * 5, dtype=np.float32)])
    path = tmp_path_factory.mktemp("lyrics") / "mix.wav"
    sf.write(path, audio, cleanset.SR, subtype="PCM_16")
    return path, len(speech) / cleanset.SR


def test_beat_scores_music_not_speech_or_silence(beat_and_speech):
    path, speech_end = beat_and_speech
    windows = lyrics.analyse_audio(path, CFG)
    speech = [w.music for w in windows if w.time < speech_end - 3]
    music = [w.music for w in windows if speech_end + 3 < w.time < speech_end + 27]
    silence = [w.music for w in windows if w.time > speech_end + 33]
    assert np.mean(music) > 0.8 and min(music) >= CFG["music_threshold"]
    assert np.mean(speech) < 0.2
    assert max(silence) == 0.0
    runs = lyrics.music_runs(windows, CFG)
    assert len(runs) == 1 and abs(runs[0][0] - speech_end) < 3 and abs(runs[0][1] - (speech_end + 30)) < 3


def test_block_size_does_not_change_the_answer(beat_and_speech):
    path, _ = beat_and_speech
    whole = lyrics.analyse_audio(path, lyrics.settings({"block_s": 600}))
    blocks = lyrics.analyse_audio(path, lyrics.settings({"block_s": 10}))
    assert [w.time for w in whole] == [w.time for w in blocks]
    assert np.allclose([w.beat for w in whole], [w.beat for w in blocks], atol=0.08)
    assert [w.music >= 0.5 for w in whole] == [w.music >= 0.5 for w in blocks]


def test_run_writes_segments_and_songs(tmp_path):
    workdir = Path(cleanset._workdir())
    audio = cleanset.song(workdir, 30.0)
    speech = cleanset.speak(cleanset.DIALOGUE[0], workdir)
    wav = tmp_path / "audio.wav"
    sf.write(wav, np.concatenate([speech, np.zeros(cleanset.SR), audio]), cleanset.SR, subtype="PCM_16")
    start = len(speech) / cleanset.SR + 1
    segments = [seg(0, 0.0, start - 1, cleanset.DIALOGUE[0])]
    segments += [seg(i, start + 2.4 * i, start + 2.4 * i + 2.2, cleanset.SONG_LINES[i % 4])
                 for i in range(1, 11)]
    source = tmp_path / "in.json"
    seglib.save(source, seglib.new_document("t", "en", "05_ner", segments))
    ctx = SimpleNamespace(input=SimpleNamespace(audio=str(wav), segments=str(source)),
                          output=SimpleNamespace(segments=str(tmp_path / "out.json"),
                                                 songs=str(tmp_path / "songs.json")),
                          params=SimpleNamespace(cfg={"min_song_s": 15}), log=logging.getLogger("test"))
    lyrics.run(ctx)
    out = seglib.load(tmp_path / "out.json")
    songs = json.loads((tmp_path / "songs.json").read_text())
    assert len(songs["songs"]) == 1 and songs["songs"][0]["vocal_share"] > 0.5
    assert cleanset.span_iou([(songs["songs"][0]["start"], songs["songs"][0]["end"])],
                             (start, start + 30)) >= 0.7
    assert out["segments"][0]["lyrics"] is False
    assert sum(s["lyrics"] for s in out["segments"]) >= 8


# ---- the measured set ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def measured(tmp_path_factory):
    return cleanset.measure(tmp_path_factory.mktemp("cleanset"))


def test_song_span_found(measured):
    numbers = cleanset.case_numbers(measured["song"])
    assert numbers["song_iou"] >= 0.7, numbers
    assert numbers["false_song_rate"] == 0.0, numbers


@pytest.mark.parametrize("name", ["silence", "music", "noise"])
def test_no_song_without_singing(measured, name):
    numbers = cleanset.case_numbers(measured[name])
    assert numbers["songs_found"] == [], numbers
    assert numbers["false_song_segments"] == 0, numbers
