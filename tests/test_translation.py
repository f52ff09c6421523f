"""08_translation: sentence units, name protection, batching, mapping back to cues, backends, the edge.

Models are tiny stand-ins built at test time (tests/tiny_indictrans.py), one per direction with separate
source/target vocabularies and SentencePiece models like IndicTrans2: a CTranslate2 model (the default
runtime) and a transformers checkpoint loaded through ``trust_remote_code`` like the Hub ones (needs the
transformers extra: torch). Their weights copy the source into the target script (placeholders as they
are), so the tests check real placeholder copying and the exact text; an NLLB-shaped random model covers
the generic backend.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from cinesub import glossary_load as glossary_stage
from cinesub import languages, models, mt_backends, segments, translation
from cinesub import manifest as manifest_file
from cinesub.errors import CinesubError
from cinesub.runner import StageContext
from tiny_indictrans import build_ct2_standin, build_indictrans_standin, build_nllb_standin, standin_text

REPO = Path(__file__).resolve().parents[1]

# Cast names as TMDB would give them, with the Devanagari/Gujarati spellings 03_glossary_load writes.
CAST = {
    "Shah Rukh Khan": ["शाहरुख़ ख़ान", "શાહરુખ ખાન"],
    "Priya": ["प्रिया"],
    "Raj": ["राज"],
    "Meera": ["मीरा"],
    "Dahisar": ["दहिसर"],
}

LINES = [
    "Raj went to the market",
    "with Priya yesterday.",
    "Where are you going, my friend?",
    "I am going home to Dahisar",
    "because Meera is waiting.",
    "Shah Rukh Khan said the film was long",
    "but the songs were good.",
    "Thank you very much.",
    "We will meet again tomorrow",
    "at nine in the morning, Raj.",
]


def glossary_json(path: Path) -> Path:
    """A glossary.json as 03_glossary_load writes it, built by that stage from the shipped TSV
    and the cast names above (so the terms are the real shipped Hinglish glossary)."""
    shipped = glossary_stage.read_glossary_tsv(REPO / "resources" / "glossary" / "hinglish.tsv", "shipped")
    built = glossary_stage.build_glossary(
        shipped, [], {"cast": [{"name": n} for n in CAST]}, "en", 200, glossary_stage.estimate_tokens
    )
    names = {n["name"]: n for n in built["names"]}
    for name, variants in CAST.items():
        entry = names.setdefault(name, {"name": name, "variants": [], "source": "tmdb", "label": "PERSON"})
        entry["variants"] = list(dict.fromkeys([*variants, *entry["variants"]]))
    built["names"] = list(names.values())
    path.write_text(json.dumps(built, ensure_ascii=False), encoding="utf-8")
    return path


def make_doc(
    lines: list[str], language: str = "en", gap: float = 0.3, lyrics: set[int] = frozenset()
) -> dict:
    segs, t = [], 1.0
    for index, text in enumerate(lines):
        duration = 0.5 + 0.06 * len(text)
        seg = {"id": index, "start": round(t, 3), "end": round(t + duration, 3), "text": text}
        if index in lyrics:
            seg["lyrics"] = True
        segs.append(seg)
        t += duration + gap
    doc = segments.new_document("j1", language, "07_hallucination_removal", segs, duration=t)
    return segments.validate(doc)


DIRECTIONS = ("en-indic", "indic-en")


@pytest.fixture(scope="module")
def ct2(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ct2")
    return {d: str(build_ct2_standin(root / d, d)) for d in DIRECTIONS}


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("torch", reason="the transformers backend is an extra: requirements-transformers.txt")
    root = tmp_path_factory.mktemp("hf")
    return {d: str(build_indictrans_standin(root / d, d)) for d in DIRECTIONS}


@pytest.fixture(scope="module", params=["ctranslate2", "transformers"])
def both(request) -> dict[str, str]:
    """The stand-ins of one runtime (each test runs once per runtime)."""
    return request.getfixturevalue("ct2" if request.param == "ctranslate2" else "standin")


@pytest.fixture(scope="module")
def nllb(tmp_path_factory) -> str:
    pytest.importorskip("torch", reason="the transformers backend is an extra: requirements-transformers.txt")
    return str(build_nllb_standin(tmp_path_factory.mktemp("models") / "tiny_nllb"))


@pytest.fixture(scope="module")
def glossary_path(tmp_path_factory) -> Path:
    return glossary_json(tmp_path_factory.mktemp("glossary") / "glossary.json")


def settings_for(models: dict[str, str], nllb: str = "", **overrides) -> translation.Settings:
    params = {
        "models": {**models, **({"generic": nllb} if nllb else {})},
        "num_beams": 1,
        "max_new_tokens": 64,
        "threads": 1,
        **overrides,
    }
    return translation.settings_from(params)


def count_model_calls(backend) -> list[int]:
    """Wrap the loaded model's batch call so the test counts calls itself; returns the batch sizes."""
    calls: list[int] = []
    if backend.runtime == "ctranslate2":
        translator = backend.translator

        class Counting:
            def translate_batch(self, batch, **kwargs):
                calls.append(len(batch))
                return translator.translate_batch(batch, **kwargs)

        backend.translator = Counting()
        return calls
    original = backend.model.generate

    def counting(*args, **kwargs):
        calls.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    backend.model.generate = counting
    return calls


def expected_copy(text: str, renderings: dict[str, str], direction: str = "en-indic") -> str:
    """What the copying stand-in must produce for ``text`` (names as rendered), spaces ignored."""
    for name in sorted(renderings, key=len, reverse=True):
        text = text.replace(name, renderings[name])
    return standin_text(text, direction).replace(" ", "")


# ------------------------------------------------------------------------------------------ pure core


def test_direction_picks_the_checkpoint_by_language_pair():
    assert translation.direction_for("hi", "en") == "indic-en"
    assert translation.direction_for("en", "gu") == "en-indic"
    assert translation.direction_for("hi", "ta") == "indic-indic"
    assert translation.direction_for("en", "fr") == "generic"
    assert translation.direction_for("hi", "fr") == "generic"
    assert translation.direction_for("fr", "hi") == "generic"
    assert translation.direction_for("hi", "hi") == "identity"
    with pytest.raises(CinesubError, match="unknown language"):
        translation.direction_for("hi", "xx")


def test_units_join_cues_into_sentences_and_split_on_punctuation_pauses_and_songs():
    doc = make_doc(
        [
            "Raj went to the market",
            "with Priya yesterday.",
            "Where are you",
            "going?",
            "la la la",
            "la la la",
            "After the song",
            "",
            "we talk",
        ],
        lyrics={4, 5},
    )
    doc["segments"][6]["end"] = doc["segments"][8]["start"] - 3.0  # a long pause before "we talk"
    units = translation.build_units(doc["segments"], max_gap_s=1.5)
    assert [u.indices for u in units] == [[0, 1], [2, 3], [4], [5], [6], [8]]
    assert units[0].text == "Raj went to the market with Priya yesterday."
    assert [u.lyrics for u in units] == [False, False, True, True, False, False]
    capped = translation.build_units(doc["segments"][:4], max_unit_chars=30)
    assert [u.indices for u in capped] == [[0], [1], [2, 3]]
    assert [u.indices for u in translation.build_units(doc["segments"][:2], max_unit_segments=1)] == [
        [0],
        [1],
    ]


def test_batches_respect_the_token_budget_and_row_limit():
    lengths = [5, 40, 12, 12, 3, 40, 7, 90, 1, 20]
    batches = mt_backends.plan_batches(lengths, batch_tokens=80, max_batch_sentences=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= 80
        assert lengths[batch[0]] == longest  # longest first: padding stays small
    assert [lengths[i] for i in batches[0]] == [90]  # over the budget alone: its own batch
    assert len(mt_backends.plan_batches([10] * 100, batch_tokens=2048, max_batch_sentences=64)) == 2


def test_split_follows_source_shares_at_word_boundaries_and_keeps_names_whole():
    text = "aa bb cc dd ee ff gg hh"
    assert translation.split_translation(text, [6, 17]) == ["aa bb", "cc dd ee ff gg hh"]
    assert translation.split_translation(text, [17, 6]) == ["aa bb cc dd ee ff", "gg hh"]
    named = "he met Shah Rukh Khan at the door"
    span = (named.index("Shah"), named.index("Khan") + 4)
    for shares in ([10, 10], [8, 12], [12, 8], [1, 1, 1]):
        pieces = translation.split_translation(named, shares, [span])
        assert " ".join(pieces) == named
        assert any("Shah Rukh Khan" in p for p in pieces)
        assert all(p.strip() for p in pieces)


def test_split_never_leaves_a_cue_empty():
    pieces = translation.split_translation("yes", [10, 10, 10])
    assert pieces.count("yes") == 1 and all(pieces)
    pieces = translation.split_translation("one two", [5, 50, 5])
    assert [p for p in pieces if p != "…"] == ["one", "two"] and all(pieces)
    cjk = translation.split_translation("你好世界", [4, 4])
    assert cjk == ["你好", "世界"]


def test_restore_handles_mangled_placeholders_and_reports_lost_ones():
    found = [
        translation.Protection(0, 3, "Raj", "राज", "name"),
        translation.Protection(10, 15, "Priya", "प्रिया", "name"),
        translation.Protection(20, 27, "Dahisar", "दहिसर", "name"),
        translation.Protection(30, 34, "yaar", "यार", "term"),
    ]
    model_output = mt_backends.canonical_placeholders("< ID101 > ने [ID 102] से कहा आईडी103 .")
    text, spans, lost = translation.restore(model_output, found)
    assert text == "राज ने प्रिया से कहा दहिसर."
    assert [text[s:e] for s, e in spans] == ["राज", "प्रिया", "दहिसर"]
    assert [p.rendering for p in lost] == ["यार"]


def test_lost_names_go_back_into_the_cue_that_had_them():
    unit = translation.Unit([0, 1], ["Raj went to the market", "with Priya yesterday."])
    found = [
        translation.Protection(0, 3, "Raj", "Raj", "name"),
        translation.Protection(
            unit.text.index("Priya"), unit.text.index("Priya") + 5, "Priya", "Priya", "name"
        ),
    ]
    text, spans, lost = translation.restore("il est allé au marché hier.", found)
    assert len(lost) == 2
    pieces = translation.place_in_segments(unit, text, spans, lost)
    assert pieces[0].startswith("Raj ") and "Priya" not in pieces[0]
    assert "Priya" in pieces[1] and "Raj" not in pieces[1]


def test_names_render_in_the_target_script():
    spellings = ["Shah Rukh Khan", "शाहरुख़ ख़ान", "શાહરુખ ખાન"]
    assert translation.name_rendering(spellings, languages.get("en")) == "Shah Rukh Khan"
    assert translation.name_rendering(spellings, languages.get("fr")) == "Shah Rukh Khan"
    assert translation.name_rendering(spellings, languages.get("hi")) == "शाहरुख़ ख़ान"
    assert translation.name_rendering(spellings, languages.get("gu")) == "શાહરુખ ખાન"  # the given spelling
    bengali = translation.name_rendering(["Raj", "राज"], languages.get("bn"))
    assert translation.dominant_script(bengali) == "Beng" and len(bengali) == len("राज")
    assert translation.name_rendering(["Raj", "राज"], languages.get("ur")) == "Raj"  # no Arabic spelling
    assert translation.name_rendering(["राज"], languages.get("en")) == "राज"  # nothing better known


def test_real_glossary_protects_names_and_romanized_terms_only(glossary_path):
    glossary = translation.load_glossary(glossary_path)
    english = languages.get("en")
    matcher = translation.GlossaryMatcher.build(glossary, english)
    # A Hindi line with the place the seed project mistranslated, and a romanized code-mixed line.
    hindi = translation.Unit([0], ["अब दहिसर चलो, मैं नहीं रुकूँगा"])
    found = translation.find_protections(hindi, [{"text": hindi.text}], glossary, matcher, english, [])
    assert [(p.source, p.rendering) for p in found] == [
        ("दहिसर", "Dahisar")
    ]  # "चलो", "नहीं" left to the model
    romanized = translation.Unit([0], ["arre yaar, Dilli chalo"])
    found = translation.find_protections(
        romanized, [{"text": romanized.text}], glossary, matcher, english, []
    )
    assert {p.source: p.rendering for p in found} == {
        "arre": "hey",
        "yaar": "buddy",
        "Dilli": "Delhi",
        "chalo": "let's go",
    }
    hindi_target = translation.GlossaryMatcher.build(glossary, languages.get("hi"))
    line = translation.Unit([0], ["Come on yaar, Shah Rukh Khan is in Mumbai"])
    found = translation.find_protections(
        line, [{"text": line.text}], glossary, hindi_target, languages.get("hi"), []
    )
    assert {p.source: p.rendering for p in found} == {
        "yaar": "यार",
        "Shah Rukh Khan": "शाहरुख़ ख़ान",
        "Mumbai": "मुंबई",
    }
    french = translation.GlossaryMatcher.build(glossary, languages.get("fr"))
    assert [p.source for p in french.find("yaar, Raj is in Mumbai")] == [
        "Raj",
        "Mumbai",
    ]  # terms: model's job
    assert translation.load_glossary(None).entries == []


def test_entities_from_ner_are_protected_at_their_offsets():
    glossary = translation.Glossary([translation.GlossaryEntry(["Raj", "राज"], "name")])
    segs = [
        {
            "text": "  Then   Kabir met",
            "entities": [
                {"text": "Kabir", "label": "PERSON", "start_char": 9, "end_char": 14, "canonical": "Kabir"}
            ],
        },
        {
            "text": "Raj in Pune.",
            "entities": [
                {"text": "Raj", "label": "PERSON", "start_char": 0, "end_char": 3, "canonical": "Raj"},
                {"text": "Pune", "label": "GPE", "start_char": 7, "end_char": 11},
                {"text": "Raj", "label": "NORP", "start_char": 0, "end_char": 3},
            ],
        },
    ]
    unit = translation.build_units([{**s, "start": i, "end": i + 0.5} for i, s in enumerate(segs)])[0]
    assert unit.text == "Then Kabir met Raj in Pune."
    hindi = languages.get("hi")
    found = translation.find_protections(
        unit, segs, glossary, translation.GlossaryMatcher.build(glossary, hindi), hindi, ["PERSON", "GPE"]
    )
    assert [(unit.text[p.start : p.end], p.rendering) for p in found] == [
        ("Kabir", "Kabir"),
        ("Raj", "राज"),
        ("Pune", "Pune"),
    ]
    assert translation.mask(unit.text, found) == "Then <ID101> met <ID102> in <ID103>."
    assert not translation.needs_model("<ID101>!") and translation.needs_model("<ID101> went")


def test_settings_take_schema_defaults():
    settings = translation.settings_from({"device": "cuda", "models": {"generic": "x/y"}})
    assert settings.device == "cuda" and settings.batch_tokens == 2048
    assert settings.models["generic"] == "x/y"
    assert settings.models["en-indic"] == "models/indictrans2/en-indic-dist"
    assert settings.runtimes["en-indic"] == "auto" and settings.compute_type == "auto"
    assert set(vars(settings)) == set(
        json.loads((REPO / "workflow/schemas/config.schema.json").read_text())["properties"]["translation"][
            "properties"
        ]
    )  # every key of the section, no defaults of its own


# ----------------------------------------------------------------------------------- with a stand-in


def test_standin_loads_through_the_remote_code_path(standin):
    backend = translation.load_translator("en-indic", settings_for(standin))
    assert backend.runtime == "transformers"
    assert type(backend.model).__name__ == "IndicTransForConditionalGeneration"
    assert type(backend.tokenizer).__name__ == "IndicTransTokenizer"
    assert type(backend.model).__module__.startswith("transformers_modules.")


def test_the_runtime_comes_from_the_directory_or_the_explicit_key(ct2, tmp_path):
    assert translation.load_translator("en-indic", settings_for(ct2)).runtime == "ctranslate2"
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    assert mt_backends.model_runtime(str(hf_dir)) == "transformers"
    assert mt_backends.model_runtime(ct2["en-indic"]) == "ctranslate2"
    assert mt_backends.model_runtime(ct2["en-indic"], "transformers") == "transformers"
    with pytest.raises(CinesubError, match="could not load translation model .* \\(transformers\\)"):
        translation.load_translator("en-indic", settings_for(ct2, runtimes={"en-indic": "transformers"}))


def test_ct2_stand_in_copies_and_ends_its_sentences_itself(ct2):
    """The stand-in is faithful where it matters: its own </s> ends each output (max length far off),
    and its target pieces decode only with model.TGT (the source model leaves raw pieces)."""
    backend = translation.load_translator("en-indic", settings_for(ct2, max_new_tokens=200))
    tokens = backend._pieces("eng_Latn hin_Deva Raj met < ID101 > today .")
    [result] = backend.translator.translate_batch([tokens], beam_size=4, max_decoding_length=200)
    hypothesis = result.hypotheses[0]
    assert len(hypothesis) == len(tokens) - 2  # one output per source piece, then </s>
    assert backend.sp_target.decode_pieces(hypothesis) == "रअज मएत < ID101 > तओदअय ."
    assert "▁" in backend.sp_source.decode_pieces(hypothesis)  # the wrong side does not decode


def test_hundred_segments_need_at_least_eight_times_fewer_model_calls(both, glossary_path):
    lines = [LINES[i % len(LINES)] for i in range(100)]
    doc = make_doc(lines)
    settings = settings_for(both)
    backend = translation.load_translator("en-indic", settings)
    calls = count_model_calls(backend)
    result = translation.translate_document(
        doc, "hi", backend, translation.load_glossary(glossary_path), settings
    )
    segments.validate(result)
    meta = result["meta"]["08_translation"]
    assert len(calls) == meta["model_calls"] == meta["batches"]
    assert len(calls) * 8 <= len(doc["segments"]), f"{len(calls)} model calls for 100 segments"
    assert sum(calls) == meta["model_inputs"] < 100  # sentence units span several cues
    assert result["language"] == "hi" and result["stage"] == "08_translation"
    assert meta["reinserted_names"] == 0  # the model copied every placeholder
    for source, target in zip(doc["segments"], result["segments"], strict=True):
        assert (target["id"], target["start"], target["end"]) == (
            source["id"],
            source["start"],
            source["end"],
        )
        assert target["source_text"] == source["text"]
        assert target["text"].strip()


def renderings_for(target: str) -> dict[str, str]:
    wanted = languages.get(target)
    return {name: translation.name_rendering([name, *variants], wanted) for name, variants in CAST.items()}


@pytest.mark.parametrize("target", ["hi", "gu"])
def test_every_cast_name_survives_into_indic_targets(both, glossary_path, target):
    doc = make_doc(LINES)
    settings = settings_for(both)
    backend = translation.load_translator("en-indic", settings)
    glossary = translation.load_glossary(glossary_path)
    result = translation.translate_document(doc, target, backend, glossary, settings)
    wanted = languages.get(target)
    checked = 0
    for source, out in zip(doc["segments"], result["segments"], strict=True):
        for name, spelling in renderings_for(target).items():
            if name in source["text"]:
                assert translation.dominant_script(spelling) == wanted.script
                assert spelling in out["text"], (name, out["text"])
                checked += 1
        assert translation.dominant_script(out["text"]) == wanted.script, out["text"]
    assert checked == 6  # Raj twice, Priya, Dahisar, Meera, Shah Rukh Khan
    assert result["meta"]["08_translation"]["reinserted_names"] == 0  # copied by the model, not re-inserted


def test_every_cast_name_survives_unchanged_into_english(both, glossary_path):
    hindi = ["राज बाज़ार गया", "प्रिया के साथ।", "शाहरुख़ ख़ान ने कहा कि फ़िल्म लंबी थी।", "मीरा दहिसर में है।"]
    doc = make_doc(hindi, language="hi")
    settings = settings_for(both)
    result = translation.translate_document(
        doc,
        "en",
        translation.load_translator("indic-en", settings),
        translation.load_glossary(glossary_path),
        settings,
    )
    expected = [["Raj"], ["Priya"], ["Shah Rukh Khan"], ["Meera", "Dahisar"]]
    for out, names in zip(result["segments"], expected, strict=True):
        for name in names:
            assert re.search(rf"(?<!\w){re.escape(name)}(?!\w)", out["text"]), (name, out["text"])
        assert translation.dominant_script(out["text"]) == "Latn", out["text"]
    meta = result["meta"]["08_translation"]
    assert meta["direction"] == "indic-en" and meta["reinserted_names"] == 0


def test_english_words_inside_hindi_lines_reach_the_model_as_written(ct2):
    """Code-mixed Hinglish: Latin-script words in a Devanagari line are not transliterated or dropped;
    IndicTrans2 reads them as written (its Indic vocabularies cover Latin) and 08 records the mix."""
    doc = make_doc(["मीरा ने कहा कि Office में meeting है।", "yaar tum kahan ho"], language="hi")
    backend = translation.load_translator("indic-en", settings_for(ct2))
    result = translation.translate_document(doc, "en", backend)
    first, second = result["segments"]
    assert "Office" in first["text"] and "meeting" in first["text"]  # the copying model kept them
    assert first["flags"]["08_translation"]["code_mixed"] == pytest.approx(0.45, abs=0.1)
    assert second["flags"]["08_translation"]["code_mixed"] == 1.0  # romanised Hindi: all Latin


def test_order_cue_mapping_and_placeholder_round_trips_with_a_copying_model(ct2, glossary_path):
    settings = settings_for(ct2, max_batch_sentences=3)
    backend = translation.load_translator("en-indic", settings)
    lines = [
        "the train to Mumbai leaves at nine",
        "in the morning, Raj.",
        "thank you very much, Priya.",
        "Shah Rukh Khan said we will meet again",
        "tomorrow in Dahisar.",
        "where are you going, yaar?",
        "Meera!",
    ]
    doc = make_doc(lines)
    result = translation.translate_document(
        doc, "hi", backend, translation.load_glossary(glossary_path), settings
    )
    meta = result["meta"]["08_translation"]
    assert meta["batches"] >= 2  # sorted by length into batches, then put back in order
    assert meta["protected_spans"] == 7 and meta["reinserted_names"] == 0  # every placeholder came back
    assert meta["model_inputs"] == 4  # "Meera!" is only a name: no model needed
    renderings = {**renderings_for("hi"), "Mumbai": "मुंबई", "yaar": "यार"}
    for source, out in zip(doc["segments"], result["segments"], strict=True):
        assert out["text"].replace(" ", "") == expected_copy(source["text"], renderings), out


def test_several_target_languages_and_a_generic_backend(standin, nllb, glossary_path):
    doc = make_doc(LINES[:5])
    settings = settings_for(standin, nllb)
    glossary = translation.load_glossary(glossary_path)
    outputs = {}
    for target in ("hi", "gu", "fr"):
        direction = translation.direction_for("en", target)
        backend = translation.load_translator(direction, settings)
        outputs[target] = segments.validate(
            translation.translate_document(doc, target, backend, glossary, settings)
        )
    assert {t: d["language"] for t, d in outputs.items()} == {"hi": "hi", "gu": "gu", "fr": "fr"}
    assert outputs["fr"]["meta"]["08_translation"]["direction"] == "generic"
    assert (
        type(translation.load_translator("generic", settings).model).__name__
        == "M2M100ForConditionalGeneration"
    )
    assert "राज" in outputs["hi"]["segments"][0]["text"] and "રાજ" in outputs["gu"]["segments"][0]["text"]
    assert "Raj" in outputs["fr"]["segments"][0]["text"] and "Priya" in outputs["fr"]["segments"][1]["text"]


def test_both_runtimes_give_the_same_translation(ct2, standin, glossary_path):
    doc = make_doc(LINES)
    glossary = translation.load_glossary(glossary_path)
    texts = {}
    for runtime, models_of in (("ctranslate2", ct2), ("transformers", standin)):
        settings = settings_for(models_of, num_beams=4)
        backend = translation.load_translator("en-indic", settings)
        assert backend.runtime == runtime
        texts[runtime] = [
            s["text"]
            for s in translation.translate_document(doc, "hi", backend, glossary, settings)["segments"]
        ]
    assert texts["ctranslate2"] == texts["transformers"]


def test_identity_direction_copies_without_a_model():
    doc = make_doc(["Hello there.", "Bye."])
    result = translation.translate_document(
        doc, "en", translation.load_translator("identity", settings_for({}))
    )
    assert [s["text"] for s in result["segments"]] == ["Hello there.", "Bye."]
    assert result["meta"]["08_translation"]["model_calls"] == 0


def test_empty_model_output_falls_back_to_the_source_text():
    class Silent:
        model_calls = 1

        def translate(self, texts, source, target):
            return [""] * len(texts)

        def describe(self):
            return {"model": "silent", "model_calls": 1, "batches": 1}

    result = translation.translate_document(make_doc(["Hello", "there."]), "hi", Silent())
    assert [s["text"] for s in result["segments"]] == ["Hello", "there."]
    assert result["segments"][0]["flags"]["08_translation"]["model_output_empty"] is True
    assert result["meta"]["08_translation"]["empty_model_outputs"] == 1


# ------------------------------------------------------------------------------------------- the edge


def stage_context(tmp_path: Path, doc: dict, params: dict, target: str, glossary=None) -> StageContext:
    seg_path = tmp_path / "segments.json"
    segments.save(seg_path, doc)
    inputs = types.SimpleNamespace(segments=str(seg_path), glossary=glossary if glossary is not None else [])
    outputs = types.SimpleNamespace(segments=str(tmp_path / f"{target}.segments.json"))
    return StageContext(
        stage="08_translation",
        job="j1",
        input=inputs,
        output=outputs,
        params=types.SimpleNamespace(translation=params, target_lang=target),
    )


def test_run_writes_the_target_document_and_reports_model_calls(tmp_path, ct2, glossary_path):
    params = {"models": {"en-indic": ct2["en-indic"]}, "num_beams": 1, "max_new_tokens": 64}
    ctx = stage_context(tmp_path, make_doc(LINES), params, "gu", glossary=[str(glossary_path)])
    translation.run(ctx)
    written = segments.load(ctx.output.segments)
    assert written["language"] == "gu" and len(written["segments"]) == len(LINES)
    assert ctx.models["translation"]["model_calls"] == written["meta"]["08_translation"]["model_calls"] == 1
    assert "રાજ" in written["segments"][0]["text"]


def test_missing_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    params = {
        "models": {"en-indic": "ai4bharat/indictrans2-en-indic-dist-200M"},
        "model_cache": str(tmp_path / "cache"),
    }
    ctx = stage_context(tmp_path, make_doc(LINES[:2]), params, "hi")
    with pytest.raises(CinesubError) as err:
        translation.run(ctx)
    message = str(err.value)
    assert "ai4bharat/indictrans2-en-indic-dist-200M" in message and str(tmp_path / "cache") in message
    assert "make models" in message and "HF_HUB_OFFLINE" in message and "\n" not in message


def test_a_broken_checkpoint_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(CinesubError, match="could not load translation model"):
        translation.load_translator(
            "en-indic", translation.settings_from({"models": {"en-indic": str(broken)}})
        )


def copy_model(source: str, target: Path) -> str:
    import shutil

    shutil.copytree(source, target)
    return str(target)


def test_a_ct2_model_without_its_sentencepiece_models_stops_at_load(ct2, tmp_path):
    model = copy_model(ct2["en-indic"], tmp_path / "no_spm")
    (Path(model) / "vocab" / "model.TGT").unlink()
    with pytest.raises(CinesubError) as err:
        translation.load_translator("en-indic", settings_for({"en-indic": model}))
    assert str(err.value).count("\n") == 0 and model in str(err.value)
    assert "SentencePiece model.SRC/model.TGT" in str(err.value)


def test_a_corrupt_ct2_model_bin_is_one_clear_error(ct2, tmp_path):
    model = copy_model(ct2["en-indic"], tmp_path / "corrupt")
    weights = Path(model) / "model.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CinesubError, match=r"could not load translation model .*corrupt.* \(ctranslate2\)"):
        translation.load_translator("en-indic", settings_for({"en-indic": model}))


def test_a_model_for_the_other_direction_stops_before_translating(ct2):
    backend = translation.load_translator("en-indic", settings_for({"en-indic": ct2["en-indic"]}))
    with pytest.raises(CinesubError, match="does not read Hindi text"):
        backend.translate(["राज बाज़ार गया। मीरा घर पर है।"], languages.get("hi"), languages.get("en"))
    assert backend.model_calls == 0


# ------------------------------------------------------------------------------------------ cinesub.models


def test_resolve_local_directory_and_missing_path(tmp_path):
    assert models.resolve_hf_model(str(tmp_path), None, "m") == str(tmp_path)
    with pytest.raises(CinesubError, match="directory not found"):
        models.resolve_hf_model(str(tmp_path / "nope"), None, "translation model (en-indic)")
    with pytest.raises(CinesubError, match="no model id"):
        models.resolve_hf_model(" ", None, "m")


def test_resolve_finds_a_cached_snapshot_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "models--org--tiny"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert Path(models.resolve_hf_model("org/tiny", str(tmp_path), "m")) == snapshot
    with pytest.raises(CinesubError, match="'org/other' is not available"):
        models.resolve_hf_model("org/other", str(tmp_path), "m")


def write_sheet(tmp_path: Path, config: dict, jobs: list[tuple[str, str, str]]) -> Path:
    sheet = tmp_path / "jobs.tsv"
    sheet.write_text(
        "job\tmedia\tsource_lang\ttarget_langs\n" + "".join(f"{j}\tf.mkv\t{s}\t{t}\n" for j, s, t in jobs)
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"jobs": str(sheet), **config}))
    return path


def test_fetch_lists_what_each_job_needs(tmp_path, capsys):
    config = {
        "asr": {
            "model": "large-v3",
            "model_cache": "/c/asr",
            "backend": "whisperx",
            "align_model": "org/w2v",
        },
        "translation": {"models": {"generic": str(tmp_path)}, "model_cache": "/c/mt"},
    }
    jobs = [("film_a", "en", "hi,gu"), ("film_b", "hi", "en"), ("film_c", "fr", "")]
    path = write_sheet(tmp_path, config, jobs)
    loaded = models.load_config(path)
    named = models.models_named(loaded, models.jobs_of(loaded))
    assert {n.key: n.jobs for n in named} == {
        "asr.model": ["film_a", "film_b", "film_c"],
        "asr.align_model": ["film_a", "film_b", "film_c"],
        "translation.models.en-indic": ["film_a"],
        "translation.models.indic-en": ["film_b"],
    }
    assert models.main(["fetch", "--config", str(path), "--dry-run", "--job", "film_b"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would fetch ASR model large-v3 (jobs: film_b)",
        "would fetch ASR alignment model org/w2v (jobs: film_b)",
        "would fetch translation model (indic-en) models/indictrans2/indic-en-dist (jobs: film_b)",
    ]
    assert models.main(["fetch", "--config", str(path), "--dry-run", "--direction", "generic"]) == 0
    assert capsys.readouterr().out.strip() == f"would fetch translation model (generic) {tmp_path} (jobs: -)"
    assert models.asr_repo_for("tiny.en-bundled") is None and models.asr_repo_for("turbo").endswith("turbo")
    assert models.asr_repo_for("large-v3") == "Systran/faster-whisper-large-v3"
    assert models.asr_repo_for("org/whisper-ct2") == "org/whisper-ct2"


def test_fetch_from_the_repository_root_reports_every_model_offline(tmp_path):
    config = {
        "translation": {"model_cache": str(tmp_path / "empty")},
        "asr": {"model": "large-v3", "model_cache": str(tmp_path / "empty")},
    }
    path = write_sheet(tmp_path, config, [("film_a", "en", "hi"), ("film_b", "hi", "en")])
    result = subprocess.run(
        [sys.executable, "-m", "cinesub.models", "fetch", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("offline: HF_HUB_OFFLINE is set, so nothing is downloaded")
    assert [line.split()[0] for line in lines[1:]] == ["FAILED"] * 3  # ASR + both directions, kept going
    assert "Systran/faster-whisper-large-v3" in lines[1] and "HF_HUB_OFFLINE" in lines[1]
    assert "indic-en-dist" in result.stdout and "en-indic-dist" in result.stdout
    assert result.stderr.strip() == "cinesub: 3 model(s) not fetched (see FAILED above)"
    assert "…To enable" not in result.stdout and not re.search(r"\w\)$", lines[1].split("(")[-1])


def test_fetch_unpacks_a_ct2_archive_layout_into_the_configured_directory(ct2, tmp_path, monkeypatch):
    """AI4Bharat's archive: one folder with an int8 and a float16 CT2 model; the configured directory
    resolves to the int8 one on CPU and the float16 one on CUDA."""
    import shutil
    import tarfile

    bundle = tmp_path / "en-indic-dist"
    for name in ("ct2_int8_model", "ct2_fp16_model"):
        shutil.copytree(ct2["en-indic"], bundle / name)
    archive = tmp_path / "en-indic-dist.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bundle, arcname="en-indic-dist")
    import huggingface_hub

    seen = {}

    def fake_download(repo, filename, repo_type, cache_dir):
        seen.update(repo=repo, filename=filename, repo_type=repo_type)
        return str(archive)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    target = tmp_path / "models" / "indictrans2" / "en-indic-dist"
    need = models.Need("translation model (en-indic)", "translation.models.en-indic", str(target), "")
    assert models.fetch_one(need) == str(target)
    assert seen == {
        "repo": "ai4bharat/BPCC",
        "filename": "additional/en-indic-dist.tar.gz",
        "repo_type": "dataset",
    }
    assert models.ct2_model_dir(str(target), "cpu").endswith("ct2_int8_model")
    assert models.ct2_model_dir(str(target), "cuda").endswith("ct2_fp16_model")
    settings = settings_for({"en-indic": str(target)})
    assert translation.load_translator("en-indic", settings).path.endswith("ct2_int8_model")


# ------------------------------------------------------------------------------------- through snakemake


# On PYTHONPATH, this makes torch as absent as in the default venv (it may be installed here: the
# transformers extra) for every Python process, and logs each process that even looks for it.
WITHOUT_TORCH = """
import os, sys
from importlib.machinery import PathFinder

_log = os.environ.get("CINESUB_IMPORT_LOG")


class _WithoutTorch(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            with open(_log, "a") as handle:
                handle.write(f"{os.getpid()} {' '.join(sys.argv)[:200]}\\n")
            return None
        return PathFinder.find_spec(name, path, target)


if _log:
    sys.meta_path[:] = [_WithoutTorch if finder is PathFinder else finder for finder in sys.meta_path]
"""


HINDI_TRANSCRIPT = [
    "राज कल प्रिया के साथ बाज़ार गया",
    "और मीरा घर पर थी।",
    "तुम कहाँ जा रहे हो दोस्त?",
    "मैं घर जा रहा हूँ।",
    "मीरा ने कहा कि Office में meeting है।",
    "बहुत बहुत धन्यवाद।",
    "हम कल फिर मिलेंगे",
    "सुबह नौ बजे, राज।",
    "मुंबई की ट्रेन निकलती है।",
]


def write_hindi_asr_output(workdir: Path, job: str, duration: float) -> None:
    """04's output for a Hindi job, as a multilingual Whisper would write it (the bundled tiny.en is
    English-only; Hindi ASR itself is tested elsewhere): the stages after it run for real."""
    step = duration / (len(HINDI_TRANSCRIPT) + 1)
    segs = [
        {
            "start": round(step * i + 0.2, 2),
            "end": round(step * (i + 1), 2),
            "text": text,
            "avg_logprob": -0.3,
            "no_speech_prob": 0.01,
            "compression_ratio": 1.2,
            "words": [],
        }
        for i, text in enumerate(HINDI_TRANSCRIPT)
    ]
    out = workdir / f"jobs/{job}/04_asr"
    out.mkdir(parents=True, exist_ok=True)
    segments.save(out / "segments.json", segments.new_document(job, "hi", "04_asr", segs, duration=duration))
    (out / "manifest.json").write_text(json.dumps({"stage": "04_asr", "job": job, "written_by": "test"}))


@pytest.mark.slow
def test_pipeline_translates_en_and_hi_jobs_through_ct2_without_importing_torch(tmp_path, english_film, ct2):
    from conftest import ffprobe_streams, run_snakemake, write_workdir

    film, truth = english_film
    workdir = write_workdir(
        tmp_path / "work",
        [
            {"job": "tr1", "media": str(film), "source_lang": "en", "target_langs": "hi,gu"},
            {"job": "tr2", "media": str(film), "source_lang": "hi", "target_langs": "en"},
        ],
        {"translation": {"models": dict(ct2), "num_beams": 2}},
    )
    # tiny.en hears "Meera" as "Mira", on some machines as "Mirror": the hand-written metadata lists
    # those spellings too.
    metadata = {
        "cast": [{"name": "Meera", "character": "Meera", "order": 0}, {"name": "Raj", "order": 1}],
        "variants": {"Meera": ["मीरा", "Mira", "Mirror"], "Raj": ["राज"]},
    }
    (workdir / "config" / "metadata").mkdir(parents=True, exist_ok=True)
    for job in ("tr1", "tr2"):
        (workdir / "config" / "metadata" / f"{job}.json").write_text(json.dumps(metadata, ensure_ascii=False))
    recorder = tmp_path / "recorder"
    recorder.mkdir()
    (recorder / "sitecustomize.py").write_text(WITHOUT_TORCH)
    imports = tmp_path / "torch_lookups.log"
    env = {"TMDB_API_KEY": "", "PYTHONPATH": str(recorder), "CINESUB_IMPORT_LOG": str(imports)}
    run_snakemake(
        workdir,
        "jobs/tr1/10_mux/out.mkv",
        "jobs/tr2/01_demux/media.json",
        "jobs/tr2/03_glossary_load/glossary.json",
        env=env,
    )
    write_hindi_asr_output(workdir, "tr2", truth[-1]["end"] + 1.0)
    # 04 of tr2 is the transcript above (newer than its inputs): only modification times decide.
    run_snakemake(workdir, "jobs/tr2/10_mux/out.mkv", "--rerun-triggers", "mtime", env=env)
    # Every stage ran without torch; 08 (CTranslate2) did not even look for it (spaCy's thinc, in 05,
    # probes for it and carries on without).
    lookups = imports.read_text() if imports.exists() else ""
    assert "translation.py" not in lookups, lookups
    tracks = {}
    for job in ("tr1", "tr2"):
        streams = ffprobe_streams(workdir / f"jobs/{job}/10_mux/out.mkv")
        tracks[job] = [s["tags"]["language"] for s in streams if s["codec_type"] == "subtitle"]
    assert tracks == {"tr1": ["eng", "hin", "guj"], "tr2": ["hin", "eng"]}
    for job, lang, names in (
        ("tr1", "hi", {"Meera|Mira": "मीरा"}),
        ("tr1", "gu", {"Meera|Mira": "મીરા"}),
        ("tr2", "en", {"मीरा": "Meera", "राज": "Raj"}),
    ):
        source = segments.load(workdir / f"jobs/{job}/07_hallucination_removal/segments.json")
        out = segments.load(workdir / f"jobs/{job}/08_translation/{lang}.segments.json")
        assert [s["source_text"] for s in out["segments"]] == [s["text"] for s in source["segments"]]
        meta = out["meta"]["08_translation"]
        assert meta["runtime"] == "ctranslate2" and meta["reinserted_names"] == 0
        # The whole film in one token-budget batch (>= 8x fewer calls over 100 segments: see above).
        assert meta["model_calls"] == 1 and meta["batch_sizes"] == [meta["model_inputs"]], meta
        manifest = manifest_file.load(workdir / f"jobs/{job}/08_translation/{lang}.manifest.json")
        assert manifest["models"]["translation"]["model_calls"] == meta["model_calls"]
        for pattern, spelling in names.items():
            named = [seg for seg in out["segments"] if re.search(pattern, seg["source_text"])]
            assert named and all(spelling in seg["text"] for seg in named), named
        wanted = languages.get(lang).script
        assert all(translation.dominant_script(seg["text"]) == wanted for seg in out["segments"]), out


@pytest.mark.slow
def test_a_missing_model_fails_at_start_before_outputs_are_removed(tmp_path, english_film, ct2):
    from conftest import run_snakemake, write_workdir

    film, _ = english_film
    jobs = [{"job": "tr1", "media": str(film), "source_lang": "en", "target_langs": "hi", "title": "River"}]
    models_config = {"translation": {"models": {"en-indic": ct2["en-indic"]}}}
    workdir = write_workdir(tmp_path / "work", jobs, models_config)
    run_snakemake(workdir, "jobs/tr1/04_asr/segments.json", env={"TMDB_API_KEY": ""})
    asr_output = workdir / "jobs/tr1/04_asr/segments.json"
    before = asr_output.read_bytes()
    # A new ASR model (a params change: 04 would rerun) that is not in the cache, offline.
    write_workdir(
        workdir, jobs, {"asr": {"model": "large-v3", "model_cache": str(tmp_path / "empty")}, **models_config}
    )
    result = run_snakemake(workdir, "jobs/tr1/10_mux/out.mkv", env={"TMDB_API_KEY": ""}, check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "large-v3" in line]
    assert errors and "not in the model cache" in errors[0] and "job tr1" in errors[0], result.stderr[-2000:]
    assert "python -m cinesub.models fetch --job tr1" in errors[0]
    assert asr_output.read_bytes() == before  # nothing was deleted


def test_result_cache_translates_the_same_source_once(tmp_path, ct2, glossary_path):
    params = {
        "models": {"en-indic": ct2["en-indic"]},
        "num_beams": 1,
        "max_new_tokens": 64,
        "result_cache": str(tmp_path / "cache"),
    }
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = stage_context(first_dir, make_doc(LINES), params, "hi", glossary=[str(glossary_path)])
    translation.run(first)
    assert first.models["translation"]["result_cache"]["hit"] is False
    second = stage_context(second_dir, make_doc(LINES), params, "hi", glossary=[str(glossary_path)])
    second.job = "j2"
    translation.run(second)
    assert second.models["translation"]["result_cache"]["hit"] is True
    a, b = segments.load(first.output.segments), segments.load(second.output.segments)
    assert [s["text"] for s in a["segments"]] == [s["text"] for s in b["segments"]]
    assert b["meta"]["08_translation"]["model_calls"] == a["meta"]["08_translation"]["model_calls"]
    # a different source misses
    third_dir = tmp_path / "c"
    third_dir.mkdir()
    third = stage_context(third_dir, make_doc(LINES[:2]), params, "hi", glossary=[str(glossary_path)])
    translation.run(third)
    assert third.models["translation"]["result_cache"]["hit"] is False


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("INDICTRANS2_HF_INTERFACE"),
    reason="AI4Bharat's model code is not ours to commit: set INDICTRANS2_HF_INTERFACE to a checkout's "
    "huggingface_interface/ (bench/real_indictrans2.py)",
)
def test_real_indictrans2_code_generates_with_beams_and_cache():
    pytest.importorskip("torch", reason="the transformers backend is an extra: requirements-transformers.txt")
    sys.path.insert(0, str(REPO / "bench"))
    from real_indictrans2 import run

    report = run(Path(os.environ["INDICTRANS2_HF_INTERFACE"]))
    rows = [line for line in report if "08 (load-time fixes)" in line]
    assert len(rows) == 2 and all("cached == uncached beams: True" in row for row in rows), rows


def test_fetch_names_each_jobs_default_alignment_model(tmp_path):
    # asr.align_model empty: the model WhisperX will load for each job's language is fetched and checked
    config = {"asr": {"model": "large-v3", "backend": "whisperx"}}
    path = write_sheet(tmp_path, config, [("film_en", "en", ""), ("film_hi", "hi", "")])
    loaded = models.load_config(path)
    needs = models.models_named(loaded, models.jobs_of(loaded))
    named = {n.model: n.jobs for n in needs if n.key == "asr.align_model"}
    assert named == {
        "facebook/wav2vec2-base-960h": ["film_en"],
        "theainerd/Wav2Vec2-large-xlsr-hindi": ["film_hi"],
    }
    path = write_sheet(tmp_path, config, [("film_ta", "ta", "")])
    loaded = models.load_config(path)
    with pytest.raises(CinesubError, match="no default alignment model for language 'ta'"):
        models.models_named(loaded, models.jobs_of(loaded))
