"""06_lyrics_detection: voice and music features on real synthetic audio, the decision rules, the film-like
song cases (tests/filmlike_songs.py) and the measured clean-transcripts set."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import cleanset
import filmlike_songs
import numpy as np
import pytest
import soundfile as sf
from cinesub import configschema, lyrics_detection, songsfile, spectral, vad
from cinesub import segments as seglib
from cinesub import speech as speechlib
from cinesub.errors import CinesubError

CFG = lyrics_detection.settings({})


def seg(i, start, end, text, **extra):
    base = {"id": i, "start": start, "end": end, "text": text, "avg_logprob": -0.3, "no_speech_prob": 0.1}
    base.update(extra)
    return base


def raw_windows(duration, beat=(), sung=(), spoken=()):
    """Unscored windows every second: a clear beat inside ``beat`` spans; held notes and slow voice-band
    change inside ``sung`` spans; gliding pitch and fast change inside ``spoken`` spans."""
    out = []
    for t in np.arange(0.5, duration, 1.0):

        def inside(spans, t=t):
            return any(a <= t < b for a, b in spans)

        steady, flux = (0.6, 0.08) if inside(sung) else (0.05, 0.3) if inside(spoken) else (0.0, 1.0)
        out.append(
            lyrics_detection.Window(
                float(t),
                0.6 if inside(beat) else 0.1,
                100.0,
                0.6,
                0.8,
                1.0,
                steady_pitch=steady,
                voice_flux=flux,
            )
        )
    return out


REFRAIN = "under the moon under the stars dance with me tonight"


# ---- settings --------------------------------------------------------------------------------------------


def test_settings_come_from_the_schema_and_refuse_unknown_keys():
    schema = json.loads(Path(configschema.CONFIG_SCHEMA_PATH).read_text())["properties"]["lyrics"]
    assert schema["additionalProperties"] is False
    assert CFG == {key: sub["default"] for key, sub in schema["properties"].items()}
    assert not hasattr(lyrics_detection, "DEFAULTS")
    assert lyrics_detection.settings({"threshold": 0.7})["threshold"] == 0.7
    with pytest.raises(CinesubError, match="treshold"):
        lyrics_detection.settings({"treshold": 0.7})


# ---- decision rules --------------------------------------------------------------------------------------


def test_runs_merge_across_short_gaps_only():
    windows = lyrics_detection.score_windows(raw_windows(70, beat=[(10, 20), (23, 40), (50, 55)]), [], CFG)
    assert lyrics_detection.music_runs(windows, CFG) == [(10.0, 40.0), (50.0, 55.0)]
    assert lyrics_detection.music_runs(windows, lyrics_detection.settings({"merge_gap_s": 1})) == [
        (10.0, 20.0),
        (23.0, 40.0),
        (50.0, 55.0),
    ]


def test_repeated_lines():
    sung = [seg(i, 10 + 5 * i, 14 + 5 * i, REFRAIN) for i in range(4)]
    talk = [seg(i, 5 * i, 4 + 5 * i, text) for i, text in enumerate(cleanset.DIALOGUE)]
    assert lyrics_detection.repeated_lines(sung, CFG) == 1.0
    assert lyrics_detection.repeated_lines(talk, CFG) == 0.0
    assert lyrics_detection.repeated_lines([], CFG) == 0.0


def test_a_sung_voice_makes_a_song_a_beat_alone_does_not():
    speech = [(30, 60), (80, 110), (160, 168)]
    windows = raw_windows(200, beat=[(80, 110), (120, 150)], sung=[(30, 60), (160, 168)], spoken=[(80, 110)])
    talk = [seg(i, 80 + 5 * i, 84 + 5 * i, text) for i, text in enumerate(cleanset.DIALOGUE)]
    scored = lyrics_detection.score_windows(windows, speech, CFG)
    songs, rejected = lyrics_detection.find_songs(scored, talk, speech, CFG)
    assert [(s["start"], s["end"]) for s in songs] == [(30.0, 60.0)]  # no beat, no transcript: still a song
    assert "sung_voice" in songs[0]["cues_fired"] and "beat_regularity" not in songs[0]["cues_fired"]
    reasons = {r["start"]: r["rejected_because"] for r in rejected}
    assert reasons[80.0].startswith("the voice is spoken")  # dialogue over a beat
    assert reasons[120.0].startswith("too little voice")  # instrumental
    assert reasons[160.0].startswith("shorter than min_song_s")


def test_a_refrain_over_music_is_a_song_short_lines_are_not():
    speech = [(30, 60), (80, 110)]
    windows = lyrics_detection.score_windows(
        raw_windows(120, beat=[(30, 60), (80, 110)], spoken=[(30, 60), (80, 110)]), speech, CFG
    )
    refrain = [seg(i, 30 + 5 * i, 34 + 5 * i, REFRAIN) for i in range(6)]
    short = [
        seg(10 + i, 80 + 2.5 * i, 81 + 2.5 * i, text) for i, text in enumerate(filmlike_songs.SHORT_LINES)
    ]
    songs, rejected = lyrics_detection.find_songs(windows, refrain + short, speech, CFG)
    assert [(s["start"], s["end"]) for s in songs] == [(30.0, 60.0)]
    assert songs[0]["segment_ids"] == list(range(6))
    assert [r["start"] for r in rejected] == [80.0]


@pytest.mark.parametrize("action", ["style", "plain", "drop"])
def test_actions(action):
    cfg = lyrics_detection.settings({"action": action})
    segments = [seg(0, 1, 4, "Hello there.")] + [seg(i, 30 + 5 * i, 34 + 5 * i, REFRAIN) for i in range(1, 6)]
    doc = seglib.new_document("t", "en", "05_ner", segments)
    speech = [(1, 4), (30, 60)]
    windows = lyrics_detection.score_windows(raw_windows(70, sung=[(30, 60)], spoken=[(0, 5)]), speech, cfg)
    out, report = lyrics_detection.detect(doc, windows, speech, cfg)
    seglib.validate(out)
    assert len(report["songs"]) == 1
    if action == "drop":
        assert [s["text"] for s in out["segments"]] == ["Hello there."]
        assert len(report["dropped_segments"]) == 5
    else:
        assert [s["lyrics"] for s in out["segments"]] == [False] + [True] * 5
        assert out["segments"][1]["flags"]["06_lyrics_detection"]["song"] == 0
        assert report["dropped_segments"] == []


def test_drop_keeps_the_lines_of_a_song_it_is_not_sure_of():
    cfg = lyrics_detection.settings({"action": "drop"})
    segments = [seg(i, 30 + 5 * i, 34 + 5 * i, text) for i, text in enumerate(cleanset.DIALOGUE)]
    doc = seglib.new_document("t", "en", "05_ner", segments)
    windows = raw_windows(70, sung=[(30, 60)])
    for w in windows:  # notes held less steadily: a song, but not a sure one
        w.steady_pitch = min(w.steady_pitch, 0.26)
    windows = lyrics_detection.score_windows(windows, [(30, 60)], cfg)
    out, report = lyrics_detection.detect(doc, windows, [(30, 60)], cfg)
    assert len(report["songs"]) == 1
    assert cfg["threshold"] <= report["songs"][0]["confidence"] < cfg["drop_confidence"]
    assert report["dropped_segments"] == [] and all(s["lyrics"] for s in out["segments"])


# ---- audio features on real audio ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beat_and_speech(tmp_path_factory):
    workdir = Path(cleanset._workdir())
    speech = np.concatenate(
        [np.concatenate([cleanset.speak(t, workdir), np.zeros(cleanset.SR // 2)]) for t in cleanset.DIALOGUE]
    )
    music = cleanset.beat_loop(workdir, 30.0)
    audio = np.concatenate([speech, music, np.zeros(cleanset.SR * 5, dtype=np.float32)])
    path = tmp_path_factory.mktemp("lyrics") / "mix.wav"
    sf.write(path, audio, cleanset.SR, subtype="PCM_16")
    return path, len(speech) / cleanset.SR


def test_beat_scores_music_not_speech_or_silence(beat_and_speech):
    path, speech_end = beat_and_speech
    audio = lyrics_detection.analyse_audio(path, CFG)
    windows = lyrics_detection.score_windows(audio, vad.speech_timeline(path), CFG)
    speech = [w.music for w in windows if w.time < speech_end - 3]
    music = [w.music for w in windows if speech_end + 3 < w.time < speech_end + 27]
    silence = [w.music for w in windows if w.time > speech_end + 33]
    assert np.mean(music) > 0.8 and min(music) >= CFG["music_threshold"]
    assert np.mean(speech) < 0.2
    assert max(silence) == 0.0
    runs = lyrics_detection.music_runs(windows, CFG)
    assert len(runs) == 1 and abs(runs[0][0] - speech_end) < 3 and abs(runs[0][1] - (speech_end + 30)) < 3


def test_block_size_does_not_change_the_answer(beat_and_speech):
    path, _ = beat_and_speech
    whole = lyrics_detection.analyse_audio(path, lyrics_detection.settings({"block_s": 600}))
    blocks = lyrics_detection.analyse_audio(path, lyrics_detection.settings({"block_s": 10}))
    assert [w.time for w in whole] == [w.time for w in blocks]
    assert np.allclose([w.beat for w in whole], [w.beat for w in blocks], atol=0.08)
    assert np.allclose([w.steady_pitch for w in whole], [w.steady_pitch for w in blocks], atol=0.08)
    speech = vad.speech_timeline(path)
    whole, blocks = (lyrics_detection.score_windows(w, speech, CFG) for w in (whole, blocks))
    assert [w.music >= 0.5 for w in whole] == [w.music >= 0.5 for w in blocks]
    assert [w.sung >= 0.5 for w in whole] == [w.sung >= 0.5 for w in blocks]


def test_run_writes_segments_and_songs(tmp_path):
    workdir = Path(cleanset._workdir())
    audio = cleanset.song(workdir, 30.0)
    speech = cleanset.speak(cleanset.DIALOGUE[0], workdir)
    wav = tmp_path / "audio.wav"
    sf.write(wav, np.concatenate([speech, np.zeros(cleanset.SR), audio]), cleanset.SR, subtype="PCM_16")
    start = len(speech) / cleanset.SR + 1
    segments = [seg(0, 0.0, start - 1, cleanset.DIALOGUE[0])]
    segments += [
        seg(i, start + 2.4 * i, start + 2.4 * i + 2.2, cleanset.SONG_LINES[i % 4]) for i in range(1, 11)
    ]
    source = tmp_path / "in.json"
    seglib.save(source, seglib.new_document("t", "en", "05_ner", segments))
    # the job's speech timeline, as 01_demux writes it
    timeline = tmp_path / "speech.json"
    vad_cfg = configschema.validated_section("demux", {})["vad"]
    duration = sf.info(wav).duration
    speechlib.save(timeline, speechlib.new_document("t", duration, speechlib.find(wav, vad_cfg), vad_cfg))
    windows = tmp_path / "windows.json"
    common = {
        "params": SimpleNamespace(lyrics={"min_song_s": 15}),
        "log": logging.getLogger("test"),
        "job": "t",
    }
    # lyrics_detection_analyse: the audio and the timeline only
    analyse = SimpleNamespace(
        input=SimpleNamespace(audio=str(wav), speech=str(timeline)),
        output=SimpleNamespace(windows=str(windows)),
        **common,
    )
    lyrics_detection.run(analyse)
    cfg = lyrics_detection.settings({"min_song_s": 15})
    stored = lyrics_detection.windows_of(lyrics_detection.WINDOWS_FILE.load(windows), cfg, "windows.json")
    assert stored == lyrics_detection.analyse(
        wav, speechlib.load(timeline), cfg
    )  # the JSON round trip is exact
    # lyrics_detection_detect: those windows and the transcript
    ctx = SimpleNamespace(
        input=SimpleNamespace(windows=str(windows), speech=str(timeline), segments=str(source)),
        output=SimpleNamespace(segments=str(tmp_path / "out.json"), songs=str(tmp_path / "songs.json")),
        **common,
    )
    lyrics_detection.run(ctx)
    out = seglib.load(tmp_path / "out.json")
    songs = songsfile.load(tmp_path / "songs.json")
    assert len(songs["songs"]) == 1 and songs["songs"][0]["vocal_share"] > 0.5
    assert (
        cleanset.span_iou([(songs["songs"][0]["start"], songs["songs"][0]["end"])], (start, start + 30))
        >= 0.7
    )
    assert out["segments"][0]["lyrics"] is False
    assert sum(s["lyrics"] for s in out["segments"]) >= 8
    with pytest.raises(
        CinesubError, match=r"windows\.json was analysed with lyrics\.hop_s 1; the config says 0\.5"
    ):
        lyrics_detection.windows_of(
            lyrics_detection.WINDOWS_FILE.load(windows), {**cfg, "hop_s": 0.5}, "windows.json"
        )


# ---- film-like song cases (tests/filmlike_songs.py): audio and the known dialogue, no ASR -----------------


@pytest.fixture(scope="module")
def filmlike(tmp_path_factory):
    folder = tmp_path_factory.mktemp("filmlike_songs")
    return {
        name: (case, case.write(folder / f"{name}.wav"))
        for name, case in filmlike_songs.build_cases().items()
    }


def detect_case(case, path, action="style"):
    """06 on a case whose transcript is its known dialogue lines (the ASR often hears nothing sung)."""
    segments = [seg(i, s, e, text) for i, (s, e, text) in enumerate(case.dialogue)]
    doc = seglib.new_document(case.name, "en", "05_ner", segments, duration=case.duration)
    cfg = lyrics_detection.settings({"action": action})
    timeline = vad.speech_timeline(path)
    return lyrics_detection.detect(doc, lyrics_detection.analyse(path, timeline, cfg), timeline, cfg)


@pytest.mark.parametrize("name", ["refrain_chords", "a_cappella"])
def test_a_song_without_a_beat_is_found(filmlike, name):
    case, path = filmlike[name]
    out, report = detect_case(case, path)
    found = [(s["start"], s["end"]) for s in report["songs"]]
    assert cleanset.span_iou(found, case.song) >= 0.8, report["songs"]
    assert all(s["audio"]["music_score"] < 0.5 for s in report["songs"])  # found without any beat
    assert not any(seg["lyrics"] for seg in out["segments"])  # the dialogue around it stays dialogue
    assert all(s["audio"]["chroma_stability"] > 0.3 for s in report["songs"])  # described: a candidate


@pytest.mark.parametrize("name", ["a_cappella", "short_lines_over_beat"])
def test_pitch_is_found_only_where_it_can_make_a_held_note_and_the_notes_do_not_change(filmlike, name):
    """06 runs YIN only on the frames _pitch_needed keeps (issue 13); every other frame's pitch set to
    anything gives the notes that the pitch of every frame gives."""
    _, path = filmlike[name]
    y, rate = sf.read(path, dtype="float32")
    step, hop = lyrics_detection.PITCH_STEP, lyrics_detection.HOP
    rms = spectral.rms(spectral.stft_magnitude(y, 1024, hop), 1024)
    loud = rms[::step] > CFG["silence_rms"]
    span = max(2, round(CFG["note_min_s"] * rate / hop / step))
    f0 = spectral.yin(y, 80.0, 800.0, rate, 1024, hop * step)
    needed = lyrics_detection._pitch_needed(loud, span)
    assert loud.size == f0.size and 0 < needed.sum() < loud.sum() < loud.size  # some frames skipped
    notes = lyrics_detection._held_notes(f0, loud, span, CFG["note_tolerance_st"])
    assert notes.any()
    for filler in (1.0, 220.0, f0[needed].mean()):
        partial = np.where(needed, f0, filler)
        np.testing.assert_array_equal(
            lyrics_detection._held_notes(partial, loud, span, CFG["note_tolerance_st"]), notes
        )


def test_beats_of_one_call_are_each_windows_own(beat_and_speech):
    """Windows of a length share one autocorrelation call; each window's beat is what its own
    autocorrelation gives (the film's edges make shorter windows)."""
    path, _ = beat_and_speech
    y, _ = sf.read(path, dtype="float32")
    spec = spectral.stft_magnitude(y, 1024, lyrics_detection.HOP)
    onset = spectral.onset_strength(spectral.power_to_db(spectral.apply_bank("mel", spec**2)))
    centres = np.arange(0.5, len(y) / 16000, 1.0)
    spans = [lyrics_detection._frames_of(t, 0.0, spec.shape[1], CFG) for t in centres]
    assert len({b - a for a, b in spans}) > 2
    fps = 16000 / lyrics_detection.HOP
    low, high = int(fps * 60 / CFG["max_tempo_bpm"]), int(fps * 60 / CFG["min_tempo_bpm"])
    for (a, b), (beat, tempo) in zip(spans, lyrics_detection._beats(onset, spans, CFG), strict=True):
        ac = spectral.autocorrelate(onset[a:b] - onset[a:b].mean())
        if b - a <= high + 1 or ac[0] <= 0:
            assert (beat, tempo) == (0.0, 0.0)
            continue
        lag = low + int(np.argmax(ac[low:high] / ac[0]))
        assert tempo == 60.0 * fps / lag and beat == pytest.approx(max(0.0, ac[lag] / ac[0]), abs=1e-6)


def test_only_candidates_pay_for_the_descriptive_features(filmlike):
    case, path = filmlike["refrain_chords"]
    timeline = vad.speech_timeline(path)
    windows = lyrics_detection.analyse(path, timeline, CFG)
    spans = lyrics_detection.candidate_spans(windows, CFG)
    inside = [w for w in windows if any(a <= w.time <= b for a, b in spans)]
    outside = [w for w in windows if w not in inside]
    assert spans and inside and outside
    assert np.mean([w.chroma_stability for w in inside]) > 0.3
    assert all(w.chroma_stability == 0.0 and w.percussive_share == 0.0 for w in outside)


def test_the_analysis_never_reads_a_judgement_setting(filmlike):
    """lyrics_detection_analyse leaves the ``x-detect-setting`` keys out of its params (changing them
    reruns only the judgement), so the analysis must not read one: without them it runs and finds the
    same windows."""
    from cinesub.stagecache import annotated_keys

    detect_only = annotated_keys("x-detect-setting", "lyrics")
    assert {"threshold", "action", "min_song_s"} <= detect_only
    case, path = filmlike["refrain_chords"]
    timeline = vad.speech_timeline(path)
    analysis_cfg = {k: v for k, v in CFG.items() if k not in detect_only}
    assert lyrics_detection.analyse(path, timeline, analysis_cfg) == lyrics_detection.analyse(
        path, timeline, CFG
    )


@pytest.mark.parametrize("name", ["dialogue_over_beat", "short_lines_over_beat"])
def test_dialogue_over_a_beat_is_not_a_song_and_drop_keeps_it(filmlike, name):
    case, path = filmlike[name]
    out, report = detect_case(case, path, action="drop")
    assert report["songs"] == [] and report["dropped_segments"] == []
    assert any(r["audio"]["music_score"] >= 0.5 for r in report["rejected"])  # the beat was heard
    assert [s["text"] for s in out["segments"]] == [text for _, _, text in case.dialogue]


def test_drop_removes_the_song_and_never_the_dialogue(filmlike):
    case, path = filmlike["refrain_beat"]
    sung = [seg(100 + k, case.song[0] + 8 * k, case.song[0] + 8 * k + 7, REFRAIN) for k in range(4)]
    dialogue = [seg(i, s, e, text) for i, (s, e, text) in enumerate(case.dialogue)]
    doc = seglib.new_document(case.name, "en", "05_ner", dialogue + sung, duration=case.duration)
    cfg = lyrics_detection.settings({"action": "drop"})
    timeline = vad.speech_timeline(path)
    windows = lyrics_detection.score_windows(lyrics_detection.analyse_audio(path, cfg), timeline, cfg)
    out, report = lyrics_detection.detect(doc, windows, timeline, cfg)
    assert [s["text"] for s in out["segments"]] == [text for _, _, text in case.dialogue]
    assert [s["text"] for s in report["dropped_segments"]] == [REFRAIN] * 4


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
