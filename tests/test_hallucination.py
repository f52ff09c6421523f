"""07_hallucination_removal: each detector on its own, then the measured set (real tiny.en hallucinations)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import cleanset
import numpy as np
import pytest
import soundfile as sf
from cinesub import hallucination as H
from cinesub import segments as seglib
from cinesub import vad

REPO = Path(__file__).resolve().parents[1]
PHRASES = REPO / "resources" / "hallucination"


def seg(text, start=0.0, end=2.0, **extra):
    base = {"id": extra.pop("id", 0), "start": start, "end": end, "text": text,
            "avg_logprob": -0.3, "no_speech_prob": 0.1}
    base.update(extra)
    return base


def doc_of(segments, language="en"):
    for i, s in enumerate(segments):
        s["id"] = i
    return seglib.new_document("t", language, "06_lyrics_detection", segments)


def cleaned(segments, language="en", share=None, **params):
    cfg = H.settings(params)
    phrases = H.load_phrases(PHRASES, language, cfg["extra_phrase_languages"])
    return H.clean(doc_of(segments, language), cfg, phrases, share)


def texts(doc):
    return [s["text"] for s in doc["segments"]]


# ---- detectors one by one --------------------------------------------------------------------------------

def test_boilerplate_whole_segment_dropped_and_tail_trimmed():
    out, report = cleaned([seg("Thanks for watching!"),
                           seg("We leave at nine. Please subscribe to my channel.", 3, 6),
                           seg("Subtitles by the Amara.org community", 7, 9)])
    assert texts(out) == ["We leave at nine."]
    actions = {r["text"]: (r["action"], r["reasons"]) for r in report["removed"]}
    assert actions["Thanks for watching!"] == ("dropped", ["boilerplate"])
    assert actions["We leave at nine. Please subscribe to my channel."] == ("trimmed", ["boilerplate"])
    assert actions["Subtitles by the Amara.org community"][0] == "dropped"
    assert out["segments"][0]["flags"]["07_hallucination_removal"]["trimmed"] == ["boilerplate"]


def test_sound_tags_are_cut_but_other_brackets_stay():
    out, report = cleaned([seg("[Music]"), seg("(applause) You came back (finally).", 3, 6),
                           seg("Visit www.example.com for more", 7, 9)])
    assert texts(out) == ["You came back (finally).", "Visit for more"]
    assert [r["action"] for r in report["removed"]] == ["dropped", "trimmed", "trimmed"]


def test_weak_phrase_needs_a_doubtful_segment():
    sure = seg("Thank you.", no_speech_prob=0.1, avg_logprob=-0.2)
    doubtful = seg("Thank you.", 3, 4, no_speech_prob=0.9, avg_logprob=-0.4)
    no_audio = seg("You", 5, 6)
    out, report = cleaned([sure, doubtful, no_audio], share=lambda a, b: 0.0 if a >= 5 else 1.0)
    assert texts(out) == ["Thank you."]
    assert out["segments"][0]["start"] == 0.0
    reasons = {r["start"]: r["reasons"] for r in report["removed"]}
    assert reasons[3] == ["boilerplate"]
    assert set(reasons[5]) == {"boilerplate", "no_speech_audio"}
    # "thank you" inside real dialogue is never touched
    out, report = cleaned([seg("Thank you for the tea, it was lovely.", no_speech_prob=0.9)])
    assert texts(out) == ["Thank you for the tea, it was lovely."] and not report["removed"]


def test_hindi_and_urdu_phrase_lists_match_with_matras():
    out, report = cleaned([seg("देखने के लिए धन्यवाद।"), seg("हम कल सुबह निकलेंगे।", 3, 5)], language="hi")
    assert texts(out) == ["हम कल सुबह निकलेंगे।"]
    assert report["removed"][0]["reasons"][0] == "boilerplate"
    out, _ = cleaned([seg("ہمارے چینل کو سبسکرائب کریں"), seg("میں کل آؤں گا", 3, 5)], language="ur")
    assert texts(out) == ["میں کل آؤں گا"]
    # English boilerplate is caught in a Hindi job too (extra_phrase_languages)
    out, _ = cleaned([seg("Thanks for watching"), seg("चलो घर चलते हैं", 3, 5)], language="hi")
    assert texts(out) == ["चलो घर चलते हैं"]


def test_repetition_loop_is_cut_to_one_copy():
    loop = "I'm sorry, " * 6 + "we missed the train."
    out, report = cleaned([seg(loop, 0, 6)])
    assert texts(out) == ["I'm sorry, we missed the train."]
    assert report["removed"][0]["action"] == "trimmed"
    assert report["removed"][0]["details"]["loop_tokens_removed"] == 10
    # three single words are ordinary speech
    out, report = cleaned([seg("No, no, no, you are wrong.", 0, 3)])
    assert texts(out) == ["No, no, no, you are wrong."] and not report["removed"]


def test_trimmed_words_keep_their_timings():
    words = [{"word": w, "start": i * 0.4, "end": i * 0.4 + 0.3, "probability": 0.9}
             for i, w in enumerate(" go go go go go home now".split(" ")[1:])]
    out, _ = cleaned([seg("go go go go go home now", 0, 3, words=words)])
    assert texts(out) == ["go home now"]
    assert [w["word"] for w in out["segments"][0]["words"]] == ["go", "home", "now"]


def test_identical_runs_keep_two_and_lyrics_are_exempt():
    line = "Where are you going?"
    out, report = cleaned([seg(line, i * 2, i * 2 + 1.5) for i in range(5)])
    assert len(out["segments"]) == 2
    assert [r["reasons"] for r in report["removed"]] == [["identical_run"]] * 3
    sung = [seg(line, i * 2, i * 2 + 1.5, lyrics=True) for i in range(5)]
    out, report = cleaned(sung)
    assert len(out["segments"]) == 5 and not report["removed"]


def test_compression_ratio_drops_loops_the_trim_cannot_fix():
    text = "la li la lo la li la lo la li la lu la li la lo la li la lo la li la le " * 3
    assert H.compression_ratio(text) > 2.4
    out, report = cleaned([seg(text, 0, 10)], detectors={"repetition_loop": False})
    assert not out["segments"] and report["removed"][0]["reasons"] == ["compression_ratio"]
    out, _ = cleaned([seg(text, 0, 10, lyrics=True)], detectors={"repetition_loop": False})
    assert len(out["segments"]) == 1


def test_low_confidence_needs_both_signals():
    out, report = cleaned([seg("Where is the car", avg_logprob=-1.2, no_speech_prob=0.9),
                           seg("Where is the bus", 3, 5, avg_logprob=-1.2, no_speech_prob=0.1),
                           seg("Where is the van", 6, 8, avg_logprob=-0.2, no_speech_prob=0.9)])
    assert texts(out) == ["Where is the bus", "Where is the van"]
    assert report["removed"][0]["reasons"] == ["low_confidence"]


def test_speaking_rate_and_zero_length_words():
    fast = seg("This sentence is far too long to be said in a fifth of a second", 1.0, 1.2)
    zero = seg("We will meet at the gate", 3, 5,
               words=[{"word": w, "start": 3.0, "end": 3.0} for w in "We will meet at the".split()]
               + [{"word": "gate", "start": 3.0, "end": 3.4}])
    ok = seg("We will meet at the gate", 6, 8,
             words=[{"word": w, "start": 6 + i * 0.3, "end": 6.25 + i * 0.3}
                    for i, w in enumerate("We will meet at the gate".split())])
    out, report = cleaned([fast, zero, ok])
    assert texts(out) == ["We will meet at the gate"] and out["segments"][0]["start"] == 6
    assert [r["reasons"] for r in report["removed"]] == [["speaking_rate"], ["zero_length_words"]]
    assert report["removed"][0]["details"]["chars_per_s"] > 40


def test_script_mismatch_uses_the_language_script():
    out, report = cleaned([seg("यह हिंदी है"), seg("This is English", 3, 5), seg("ہم کل جائیں گے", 6, 8),
                           seg("Это русский", 9, 11)], language="hi")
    # Hindi allows Devanagari and (code-mixed) Latin; Urdu script and Cyrillic are wrong here
    assert texts(out) == ["यह हिंदी है", "This is English"]
    assert [r["reasons"] for r in report["removed"]] == [["script_mismatch"]] * 2
    out, _ = cleaned([seg("यह हिंदी है"), seg("fine", 3, 5)], language="en")
    assert texts(out) == ["fine"]
    out, _ = cleaned([seg("यह हिंदी है")], language="en", allowed_scripts={"en": ["Latn", "Deva"]})
    assert texts(out) == ["यह हिंदी है"]


def test_no_letters_and_detector_switches():
    out, report = cleaned([seg(". . ."), seg("♪", 3, 4), seg("Go home.", 5, 6)])
    assert texts(out) == ["Go home."]
    out, report = cleaned([seg(". . .")], detectors={"no_letters": False})
    assert texts(out) == [". . ."]
    with pytest.raises(ValueError, match="unknown hallucination detectors"):
        H.settings({"detectors": {"telepathy": True}})


def test_every_change_is_listed_and_counts_add_up():
    segments = [seg("Thanks for watching!"), seg("Hello there, friend.", 3, 5),
                seg("go go go go go home now", 6, 8), seg(".", 9, 10)]
    out, report = cleaned(segments)
    summary = report["summary"]
    assert summary["segments_in"] == 4
    assert summary["segments_out"] == len(out["segments"]) == 2
    assert summary["dropped"] + summary["segments_out"] == summary["segments_in"]
    assert summary["trimmed"] == 1
    listed = {r["text"] for r in report["removed"]}
    trimmed = [s["text"] for s in out["segments"] if "07_hallucination_removal" in s.get("flags", {})]
    assert {"Thanks for watching!", ".", "go go go go go home now"} <= listed
    assert trimmed == ["go home now"]
    seglib.validate(out)


# ---- the audio check -------------------------------------------------------------------------------------

def test_vad_hears_speech_not_silence_or_music(tmp_path):
    workdir = Path(cleanset._workdir())
    speech = cleanset.speak(cleanset.DIALOGUE[0], workdir)
    music = cleanset.beat_loop(workdir, 6.0)
    audio = np.concatenate([np.zeros(cleanset.SR * 3), speech, np.zeros(cleanset.SR * 2), music])
    path = tmp_path / "a.wav"
    sf.write(path, audio, cleanset.SR)
    speech_end = 3 + len(speech) / cleanset.SR
    assert vad.speech_share(path, 3.0, speech_end) > 0.8
    assert vad.speech_share(path, 0.2, 2.8) == 0.0
    assert vad.speech_share(path, speech_end + 2.5, speech_end + 7.5) < 0.1
    assert vad.speech_share(path, 5.0, 5.0) == 0.0
    timeline = vad.speech_timeline(path, block_s=30.0)
    small_blocks = vad.speech_timeline(path, block_s=4.0)
    assert vad.share_of(timeline, 3.0, speech_end) > 0.8
    assert vad.share_of(small_blocks, 3.0, speech_end) > 0.8
    assert vad.share_of(small_blocks, 0.2, 2.8) == 0.0


def test_run_writes_segments_and_removed(tmp_path):
    workdir = Path(cleanset._workdir())
    speech = cleanset.speak(cleanset.DIALOGUE[1], workdir)
    audio = np.concatenate([np.zeros(cleanset.SR * 4), speech, np.zeros(cleanset.SR)])
    wav = tmp_path / "audio.wav"
    sf.write(wav, audio, cleanset.SR, subtype="PCM_16")
    end = 4 + len(speech) / cleanset.SR
    source = tmp_path / "in.json"
    seglib.save(source, doc_of([seg("You", 1.0, 2.5), seg(cleanset.DIALOGUE[1], 4.0, end)]))
    ctx = SimpleNamespace(input=SimpleNamespace(audio=str(wav), segments=str(source)),
                          output=SimpleNamespace(segments=str(tmp_path / "out.json"),
                                                 removed=str(tmp_path / "removed.json")),
                          params=SimpleNamespace(cfg={"phrases_dir": str(PHRASES)}),
                          log=logging.getLogger("test"))
    H.run(ctx)
    out = seglib.load(tmp_path / "out.json")
    removed = json.loads((tmp_path / "removed.json").read_text())
    assert texts(out) == [cleanset.DIALOGUE[1]]
    assert removed["removed"][0]["text"] == "You"
    assert "no_speech_audio" in removed["removed"][0]["reasons"]
    assert removed["removed"][0]["details"]["speech_share"] == 0.0


# ---- the measured set ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def measured(tmp_path_factory):
    return cleanset.measure(tmp_path_factory.mktemp("cleanset"))


@pytest.mark.parametrize("name", ["silence", "music", "noise"])
def test_no_invented_cues_survive_in_non_speech(measured, name):
    numbers = cleanset.case_numbers(measured[name])
    # the unfiltered ASR really hallucinated here, or the case would prove nothing
    assert numbers["hallucinated_cues_before"] >= 1, numbers
    assert numbers["hallucinated_cues_after"] == 0, numbers


@pytest.mark.parametrize("name", ["silence", "music", "noise", "song"])
def test_dialogue_is_not_eaten(measured, name):
    numbers = cleanset.case_numbers(measured[name])
    assert numbers["dialogue_words_recognised_before"] >= 30, numbers
    assert numbers["dialogue_words_lost"] == 0, numbers
    assert numbers["dialogue_wer_after"] <= numbers["dialogue_wer_before"], numbers


def test_every_measured_removal_is_recorded(measured):
    for result in measured.values():
        removed = result["removed"]
        gone = {r["id"] for r in removed["removed"] if r["action"] == "dropped"}
        kept_ids = len(result["clean"]["segments"])
        assert kept_ids + len(gone) == len(result["sung"]["segments"])
        assert all(r["reasons"] for r in removed["removed"])
