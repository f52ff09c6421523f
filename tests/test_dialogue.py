"""Never lose a line: the rules that must always hold, on film-like audio through the real code.

One recording (tests/filmlike.py's helpers: espeak-ng lines, a 20 s music break, a 30 s silence, short,
numeric and repeated lines) goes through the real speech timeline (Silero), the real 04 (tiny.en fed the
timeline, segments split) and the real 07.
"""

from __future__ import annotations

import re

import cleanset
import filmlike
import pytest
import soundfile as sf
from cinesub import asr, hallucination_removal, speech, synth
from cinesub import segments as seglib
from cinesub.configschema import validated_config
from conftest import run_snakemake, write_workdir

REPO_CFG = validated_config()
SHORT = ["Bye.", "Okay.", "Room 42."]


@pytest.fixture(scope="module")
def transcribed(tmp_path_factory):
    t = filmlike.Timeline("invariants").pause(1).say(cleanset.DIALOGUE[0]).pause(1).stretch("music", 20)
    t.pause(1).say(cleanset.DIALOGUE[1]).pause(1.6)
    for line in SHORT:
        t.say(line).pause(1.6)
    for _ in range(3):
        t.say(filmlike.REPEATED_LINE).pause(1.6)
    case = t.pause(30).say(cleanset.DIALOGUE[2]).pause(1).build()
    wav = tmp_path_factory.mktemp("dialogue") / "audio.wav"
    sf.write(wav, case.audio, cleanset.SR, subtype="PCM_16")
    timeline = speech.find(wav, REPO_CFG["demux"]["vad"])
    settings = dict(REPO_CFG["asr"], speech_pad_s=REPO_CFG["demux"]["vad"]["pad_ms"] / 1000)
    segments = asr.transcribe_file(str(wav), settings, "en", speech=timeline)
    cfg = hallucination_removal.settings({})
    phrases = hallucination_removal.load_phrases(
        REPO_CFG["hallucination"]["phrases_dir"], "en", cfg["extra_phrase_languages"]
    )
    doc = seglib.new_document(
        "invariants", "en", "04_asr", [dict(s) for s in segments], duration=case.duration
    )
    final, report = hallucination_removal.clean(doc, cfg, phrases, timeline)
    return {
        "case": case,
        "wav": wav,
        "timeline": timeline,
        "asr": segments,
        "final": final["segments"],
        "report": report,
    }


def _count(segments, line):
    words = " ".join(cleanset.normalise_words(line))
    return sum(" ".join(cleanset.normalise_words(s["text"])).count(words) for s in segments)


def test_split_segment_keeps_word_times_and_decode_checks():
    words = [
        {"word": w, "start": a, "end": a + 0.4, "probability": 0.9}
        for w, a in (("Go", 10.0), ("home.", 10.5), ("Now", 31.0), ("then.", 31.5))
    ]
    segment = {
        "id": 0,
        "start": 9.8,
        "end": 32.0,
        "text": "Go home. Now then.",
        "words": words,
        "avg_logprob": -0.2,
        "no_speech_prob": 0.1,
        "compression_ratio": 1.1,
    }
    parts = asr.split_segment(segment, None, 1.5)
    assert [(p["start"], p["end"], p["text"]) for p in parts] == [
        (10.0, 10.9, "Go home."),
        (31.0, 31.9, "Now then."),
    ]
    assert all(p["avg_logprob"] == -0.2 for p in parts) and parts[1]["words"] == words[2:]
    # 1 s between words is no split by itself, but a timeline with no speech in that second is
    close = [
        dict(w, start=w["start"] - 20.0 * (i > 1), end=w["end"] - 20.0 * (i > 1)) for i, w in enumerate(words)
    ]
    assert len(asr.split_segment(dict(segment, words=close), None, 1.5)) == 1
    assert len(asr.split_segment(dict(segment, words=close), [(10.0, 10.9), (11.0, 11.9)], 0.9)) == 1
    parts = asr.split_segment(dict(segment, words=close), [(10.0, 10.9)], 0.5)
    assert [p["text"] for p in parts] == ["Go home. Now", "then."]


def test_the_decoder_sees_what_faster_whispers_own_vad_would_give_it(transcribed):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = transcribed["case"].audio
    own = [(s["start"], s["end"]) for s in get_speech_timestamps(audio, VadOptions())]
    ours = [
        (round(a * cleanset.SR), round(b * cleanset.SR))
        for a, b in asr.engine_chunks(transcribed["timeline"], 0.1, len(audio) / cleanset.SR)
    ]
    assert len(ours) == len(own)
    # the same chunks to a Silero window or two (512 samples each): its pause rule differs a little
    # with min_silence, and 01 hears the audio a minute at a time, each minute from a fresh VAD state
    assert max(max(abs(a - c), abs(b - d)) for (a, b), (c, d) in zip(ours, own, strict=True)) <= 2 * 512


def test_no_segment_spans_a_gap(transcribed):
    case, timeline = transcribed["case"], transcribed["timeline"]
    assert len(transcribed["asr"]) >= 6
    for seg in transcribed["asr"] + transcribed["final"]:
        assert (
            speech.longest_silence(timeline, seg["start"], seg["end"]) < REPO_CFG["asr"]["max_word_gap_s"]
        ), seg
        inside = sum(cleanset.overlap((seg["start"], seg["end"]), span) for span in case.nonspeech)
        assert inside < 1.0, seg


def test_repeated_short_and_numeric_real_lines_survive(transcribed):
    heard, final = transcribed["asr"], transcribed["final"]
    for line in [filmlike.REPEATED_LINE, *SHORT]:
        assert _count(final, line) == _count(heard, line), (line, transcribed["report"]["removed"])
    # the engine heard the repeats and short lines, or this proves nothing (tiny.en misses "Bye." here)
    assert _count(heard, filmlike.REPEATED_LINE) >= 2
    assert _count(heard, "Okay") >= 1 and _count(heard, "42") >= 1
    assert any(re.search(r"\b42\b", s["text"]) for s in final)  # digits are not "no letters"


def test_nothing_real_is_removed(transcribed):
    removed = transcribed["report"]["removed"]
    assert transcribed["report"]["summary"]["removed_word_share"] == 0.0, removed
    assert len(transcribed["final"]) == len(transcribed["asr"])


@pytest.mark.slow
def test_a_job_whose_tracks_come_out_empty_fails_with_one_line(tmp_path):
    """A film with music and no speech: 04 finds nothing, 09 writes an empty track, 10 fails the job."""
    silent = tmp_path / "music.wav"
    music = cleanset.beat_loop(filmlike.Timeline("x").workdir, 10.0)
    sf.write(silent, music, cleanset.SR, subtype="PCM_16")
    film = tmp_path / "silent.mkv"
    synth.make_film(str(silent), str(film), size="160x90", rate=5)
    workdir = write_workdir(tmp_path / "work", [{"job": "silent", "media": str(film), "source_lang": "en"}])
    result = run_snakemake(workdir, "jobs/silent/10_mux/out.mkv", check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("cinesub: ")]
    failure = "cinesub: job silent: 10_mux: every subtitle track is empty (en): no dialogue survived"
    # the job's one line, first and again last (the console's summary repeats it)
    assert lines[0] == lines[-1] == failure, lines
    assert {line for line in lines if line.startswith("cinesub: job ")} == {failure}, lines
    assert not (workdir / "jobs" / "silent" / "10_mux" / "out.mkv").exists()


def test_the_speech_timeline_file_round_trips_and_rejects_bad_spans(tmp_path, transcribed):
    from cinesub.errors import CinesubError

    path = tmp_path / "speech.json"
    vad_cfg = REPO_CFG["demux"]["vad"]
    speech.save(
        path, speech.new_document("j", transcribed["case"].duration, transcribed["timeline"], vad_cfg)
    )
    assert speech.load(path) == [(round(a, 5), round(b, 5)) for a, b in transcribed["timeline"]]
    spans = [(1.0, 2.0), (4.0, 5.0)]
    assert speech.share(spans, 1.5, 4.5) == pytest.approx(1 / 3)
    assert speech.longest_silence(spans, 0.0, 6.0) == 2.0
    assert speech.overlapping(spans, 1.5, 4.2) == [(1.5, 2.0), (4.0, 4.2)]
    with pytest.raises(CinesubError, match="sorted and not overlap"):
        speech.save(path, speech.new_document("j", 6.0, [(4.0, 5.0), (1.0, 2.0)], vad_cfg))
    with pytest.raises(CinesubError, match="does not match the speech schema"):
        speech.save(path, dict(speech.new_document("j", 6.0, spans, vad_cfg), extra=1))
