"""Script handling for non-English jobs (cinesub.writing_system, asr.check_scripts): per-segment script
verdicts, Urdu→Devanagari transliteration, the decoder constraint built from base-bundled's real
tokenizer, and wrong-script output (a Thai loop in a Hindi job) that 04 flags and 07 removes."""

from __future__ import annotations

import unicodedata

import pytest
from cinesub import asr, bundled, hallucination_removal, languages, writing_system

URDU_HINDI = "کیا تم میرے ساتھ بازار چلوگے؟"  # "क्या तुम मेरे साथ बाज़ार चलोगे?" in Urdu script
THAI_LOOP = "สวัสดีครับ สวัสดีครับ สวัสดีครับ สวัสดีครับ"


def test_script_verdicts_per_segment():
    assert writing_system.script_report("क्या तुम मेरे साथ चलोगे?", "hi")["status"] == "ok"
    assert writing_system.script_report("Chalo yaar, let's go", "hi")["status"] == "ok"  # code-mixed Latin
    assert writing_system.script_report(URDU_HINDI, "hi")["status"] == "transliterable"
    assert writing_system.script_report(THAI_LOOP, "hi") == {"status": "wrong", "scripts": {"Thai": 1.0}}
    assert writing_system.script_report(URDU_HINDI, "ur")["status"] == "ok"
    assert writing_system.script_report("नमस्ते", "en")["status"] == "wrong"


def test_urdu_script_hindi_becomes_devanagari():
    text = writing_system.transliterate(URDU_HINDI, "hi", "Arab")
    assert writing_system.letter_scripts(text).keys() == {"Deva"}
    assert text.startswith("कया तम") and text.endswith("?")
    assert unicodedata.normalize("NFC", "बाज़ार") in text  # nukta letters in NFC, as 05's gazetteer reads them
    # a romanized Hindi word in a Devanagari line follows; English words stay as spoken
    assert writing_system.romanized_to_native("Namaste, आज मौसम अच्छा है", "hi").startswith("नमस्ते,")
    assert writing_system.romanized_to_native("आज meeting है", "hi") == "आज meeting है"
    assert writing_system.romanized_to_native("Namaste, how are you", "hi") == "Namaste, how are you"


def test_check_scripts_fixes_urdu_and_flags_other_scripts():
    segments = [
        {
            "id": 0,
            "start": 0.0,
            "end": 2.0,
            "text": URDU_HINDI,
            "words": [{"word": w, "start": 0.0, "end": 1.0, "probability": 0.9} for w in URDU_HINDI.split()],
        },
        {"id": 1, "start": 2.0, "end": 4.0, "text": THAI_LOOP, "words": []},
        {"id": 2, "start": 4.0, "end": 5.0, "text": "ठीक है", "words": []},
    ]
    counts = asr.check_scripts(segments, "hi", {"transliterate_script": True})
    assert counts == {"segments": 3, "transliterated": 1, "wrong_script": 1}
    assert segments[0]["flags"]["04_asr"] == {"transliterated_from": "Arab", "original": URDU_HINDI}
    assert all(writing_system.letter_scripts(w["word"]).keys() == {"Deva"} for w in segments[0]["words"])
    assert segments[1]["flags"]["04_asr"] == {"wrong_script": {"Thai": 1.0}}
    assert "flags" not in segments[2]
    # with transliteration off, the Urdu-script line is a decode failure too
    again = [{"id": 0, "start": 0.0, "end": 2.0, "text": URDU_HINDI}]
    assert asr.check_scripts(again, "hi", {"transliterate_script": False})["wrong_script"] == 1


def test_07_removes_a_thai_loop_in_a_hindi_job():
    assert languages.script_share(THAI_LOOP) == {"Thai": 1.0}  # before: no known script, nothing to judge
    segment = {"id": 0, "start": 0.0, "end": 3.0, "text": "สวัสดีครับ"}
    settings = hallucination_removal.settings({})
    verdict = hallucination_removal.judge(segment, settings, hallucination_removal.PhraseList(), "hi", None)
    assert "script_mismatch" in verdict.reasons


@pytest.fixture(scope="module")
def base_model():
    from faster_whisper import WhisperModel

    return WhisperModel(bundled.base_dir(), device="cpu", compute_type="int8", cpu_threads=1)


def test_decoder_constraint_suppresses_other_scripts_tokens(base_model):
    assert base_model.model.is_multilingual
    tokenizer = base_model.hf_tokenizer
    suppressed = set(writing_system.suppress_ids_for(base_model, "hi"))
    with_latin = set(writing_system.suppress_ids_for(base_model, "hi", with_latin=True))
    assert -1 in suppressed and with_latin < suppressed

    def ids(text):
        return tokenizer.encode(text, add_special_tokens=False).ids

    assert not set(ids(" नमस्ते, आज मौसम बहुत अच्छा है।")) & suppressed
    assert set(ids(" آج موسم")) <= suppressed | set(ids(" "))  # every Urdu-script token
    assert set(ids(" สวัสดีครับ")) & suppressed
    assert not set(ids(" hello there")) & with_latin and set(ids(" hello there")) & suppressed
    eot = tokenizer.token_to_id("<|endoftext|>")
    assert max(suppressed) < eot  # special and timestamp tokens are never suppressed
