"""03_glossary_load: the shipped glossary, name transliteration, merging and the ASR prompt, on real text."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from cinesub import glossary_load, languages, metadatafile
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "resources" / "glossary" / "hinglish.tsv"
KINDS = {"term", "exclamation", "greeting", "kinship", "honorific", "food", "place", "slang"}

METADATA = {
    "source": "api",
    "title": "Dilwale Dulhania Le Jayenge",
    "year": 1995,
    "tmdb_id": 11,
    "cast": [
        {"name": "Shah Rukh Khan", "character": "Raj Malhotra", "order": 0},
        {"name": "Kajol", "character": "Simran Singh", "order": 1},
        {"name": "Anupam Kher", "character": "Dharamvir Malhotra / Himself", "order": 2},
    ],
    "crew": [{"name": "Aditya Chopra", "job": "Director"}],
    "names": [
        "Shah Rukh Khan",
        "Raj Malhotra",
        "Kajol",
        "Simran Singh",
        "Anupam Kher",
        "Dharamvir Malhotra",
        "Aditya Chopra",
    ],
    "variants": {"Kajol": ["काजोल"], "Shah Rukh Khan": ["SRK"]},
    "warnings": [],
}


@pytest.fixture(scope="module")
def shipped():
    return glossary_load.read_glossary_tsv(SHIPPED, "shipped")


@pytest.fixture(scope="module")
def count():
    return glossary_load.token_counter()


def test_shipped_glossary_is_complete_and_consistent(shipped):
    assert len(shipped) >= 100
    terms = [row["term"].casefold() for row in shipped]
    assert len(terms) == len(set(terms)), "duplicate terms"
    for row in shipped:
        assert row["english"], row["term"]
        assert row["kind"] in KINDS, row
        assert glossary_load.is_devanagari(row["devanagari"]), row["term"]
        assert languages.script_share(row["devanagari"]) == {"Deva": 1.0}, row["term"]
        assert not glossary_load.is_devanagari(row["term"])
    # A spelling variant of one entry must not be another entry's headword (it would be ambiguous).
    for row in shipped:
        clashes = [v for v in row["variants"] if v.casefold() in set(terms) - {row["term"].casefold()}]
        assert not clashes, (row["term"], clashes)
    by_term = {row["term"]: row for row in shipped}
    for word in (
        "yaar",
        "accha",
        "arre",
        "bhai",
        "didi",
        "ji",
        "beta",
        "chalo",
        "jaldi",
        "bas",
        "theek hai",
        "kya baat hai",
        "jugaad",
        "chai",
    ):
        assert word in by_term, word
    assert "acha" in by_term["accha"]["variants"] and "arey" in by_term["arre"]["variants"]
    assert by_term["Dahisar"]["english"] == "Dahisar" and by_term["Dahisar"]["kind"] == "place"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Priya", "प्रिया"),
        ("Deepak", "दीपक"),
        ("Vikram", "विक्रम"),
        ("Meera", "मीरा"),
        ("Rekha", "रेखा"),
        ("Sharma", "शर्मा"),
        ("Raj Malhotra", "राज मल्होत्रा"),
        ("Lakshmi", "लक्ष्मी"),
        ("Chandra", "चंद्रा"),
        ("Puri", "पुरी"),
        ("Jatin-Lalit", "जतिन-ललित"),
        ("Shah Rukh Khan", "शाह रुख़ ख़ान"),
    ],
)
def test_transliteration_of_real_names(name, expected):
    assert glossary_load.transliterate_name(name) == expected


def test_transliteration_always_yields_devanagari():
    for name in (
        "Amrish Puri",
        "Farida Jalal",
        "Anupam Kher",
        "Sunita Krishnan",
        "Zeenat Aman",
        "Xavier",
        "Shilpa Shetty",
        "Saif Ali Khan",
        "Chhaya",
        "Àishwarya Rai",
    ):
        deva = glossary_load.transliterate_name(name)
        assert not re.search(r"[A-Za-z]", deva), (name, deva)
        assert glossary_load.is_devanagari(deva), (name, deva)


def test_devanagari_variants_cover_nukta_and_joined_spellings():
    forms = glossary_load.devanagari_variants("Shah Rukh Khan")
    assert {"शाह रुख़ ख़ान", "शाहरुख़ ख़ान", "शाहरुख खान", "शाह रुख खान"} <= set(forms)
    # Hand-written spellings replace the transliteration.
    assert glossary_load.devanagari_variants("Kajol", ["काजोल", "Kaajol"]) == ["काजोल"]


def test_merge_names_with_metadata_variants_and_job_rows(tmp_path):
    job_tsv = tmp_path / "ddlj.tsv"
    job_tsv.write_text(
        "# per-job glossary\n"
        "term\tdevanagari\tenglish\tvariants\tkind\tnote\n"
        "Pammi\tपम्मी\t\tPammy\tcharacter\tSimran's aunt\n"
        "Dahisar\tदहिसर\tDahisar\tदहीसर\tplace\t\n"
        "Raj\tराज\tRaj Malhotra\tRaju\tcharacter\t\n"
        "yaar\tयार\tdude\t\tterm\tthis film's register\n",
        encoding="utf-8",
    )
    rows = glossary_load.read_glossary_tsv(job_tsv, "job")
    shipped = glossary_load.read_glossary_tsv(SHIPPED, "shipped")
    doc = glossary_load.build_glossary(shipped, rows, METADATA, "en", 200)
    names = {n["name"]: n for n in doc["names"]}
    assert names["Raj Malhotra"]["source"] == "tmdb+job"
    assert names["Raj Malhotra"]["character_of"] == "Shah Rukh Khan"
    assert {"Raj", "Raju", "राज"} <= set(names["Raj Malhotra"]["variants"])
    assert names["Kajol"]["variants"] == ["काजोल"]  # the hand-written spelling, not the rule's कजोल
    assert "SRK" in names["Shah Rukh Khan"]["variants"]
    assert names["Pammi"]["variants"] == ["Pammy", "पम्मी"] and names["Pammi"]["source"] == "job"
    assert names["Dahisar"]["label"] == "GPE" and "दहीसर" in names["Dahisar"]["variants"]
    assert "Himself" not in names and "Dharamvir Malhotra" in names
    terms = {t["term"]: t for t in doc["terms"]}
    assert terms["yaar"]["english"] == "dude" and terms["yaar"]["source"] == "job"
    assert terms["accha"]["source"] == "shipped" and "अच्छा" in terms["accha"]["variants"]
    assert len(doc["terms"]) == len(glossary_load.read_glossary_tsv(SHIPPED, "shipped"))


def test_prompt_fits_the_token_budget_and_puts_names_first(shipped, count):
    doc = glossary_load.build_glossary(shipped, [], METADATA, "en", 200, count)
    assert 150 < doc["prompt_tokens"] <= 200 and doc["prompt_tokens"] == count(doc["prompt"])
    items = doc["prompt"].rstrip(".").split(", ")
    assert items[:2] == ["Raj Malhotra", "Simran Singh"]  # characters first: they are spoken most
    assert {"Shah Rukh Khan", "Kajol", "Aditya Chopra", "yaar", "accha"} <= set(items)
    assert doc["hotwords"].split(", ")[0] == "Raj Malhotra" and "yaar" not in doc["hotwords"]

    capped = glossary_load.build_glossary(shipped, [], METADATA, "en", 200, count, hotwords_max_tokens=10)
    assert capped["hotwords"].endswith(".") and count(capped["hotwords"]) <= 10  # a sentence, not a list
    assert capped["hotwords"].rstrip(".").split(", ")[0] == "Raj Malhotra"
    assert len(capped["hotwords"]) < len(doc["hotwords"])

    small = glossary_load.build_glossary(shipped, [], METADATA, "en", 12, count)
    assert count(small["prompt"]) <= 12 and small["prompt"].startswith("Raj Malhotra")
    assert glossary_load.build_glossary(shipped, [], METADATA, "en", 0, count)["prompt"] == ""


def test_prompt_script_follows_the_source_language(shipped, count):
    hindi = glossary_load.build_glossary(shipped, [], METADATA, "hi", 200, count)
    assert glossary_load.is_devanagari(hindi["prompt"]) and hindi["prompt_tokens"] <= 200
    assert hindi["prompt"].startswith("राज मल्होत्रा, ") and "काजोल" in hindi["prompt"]
    assert "यार" in hindi["prompt"]
    french = glossary_load.build_glossary(shipped, [], METADATA, "fr", 200, count)
    assert "Kajol" in french["prompt"] and "yaar" not in french["prompt"]
    tamil = glossary_load.build_glossary(shipped, [], METADATA, "ta", 200, count)
    assert tamil["prompt"] == "" and tamil["hotwords"] == "" and tamil["prompt_tokens"] == 0


def test_estimate_is_conservative_against_the_real_tokenizer(count, shipped):
    for text in (
        "Raj Malhotra, Simran Singh, yaar, accha.",
        "राज मल्होत्रा, सिमरन सिंह, यार, अच्छा.",
        ", ".join(row["devanagari"] for row in shipped[:40]),
    ):
        assert glossary_load.estimate_tokens(text) >= count(text)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("word\tenglish\nyaar\tbuddy\n", "must name a 'term' column"),
        ("term\tmeaning\nyaar\tbuddy\n", "unknown column"),
        ("term\tenglish\nyaar\tbuddy\textra\n", "more fields than the header"),
        ("term\tenglish\n\tbuddy\n", "has no term"),
    ],
)
def test_bad_glossary_files_fail_with_one_clear_line(tmp_path, content, problem):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CinesubError, match=problem):
        glossary_load.read_glossary_tsv(path, "job")


def test_missing_and_empty_glossary_files(tmp_path):
    with pytest.raises(CinesubError, match="cannot read glossary"):
        glossary_load.read_glossary_tsv(tmp_path / "absent.tsv", "job")
    empty = tmp_path / "empty.tsv"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert glossary_load.read_glossary_tsv(empty, "job") == []


def _ctx(tmp_path, language, metadata, job_glossary):
    return SimpleNamespace(
        job="j",
        log=logging.getLogger("cinesub.test_glossary"),
        input=SimpleNamespace(shipped=str(SHIPPED), job_glossary=job_glossary, metadata=metadata),
        params=SimpleNamespace(
            glossary=validated_section("glossary", {"prompt_max_tokens": 100}), language=language
        ),
        output=SimpleNamespace(glossary=str(tmp_path / "out" / "glossary.json")),
    )


def test_run_writes_glossary_with_and_without_metadata(tmp_path):
    meta_path = tmp_path / "metadata.json"
    metadatafile.save(meta_path, METADATA)
    job_tsv = tmp_path / "j.tsv"
    job_tsv.write_text("term\tkind\nBorivali\tplace\n", encoding="utf-8")
    glossary_load.run(_ctx(tmp_path, "en", str(meta_path), [str(job_tsv)]))
    doc = json.loads((tmp_path / "out" / "glossary.json").read_text(encoding="utf-8"))
    assert {"terms", "names", "prompt", "hotwords"} <= set(doc)
    assert doc["prompt"].startswith("Borivali, Raj Malhotra") and 0 < doc["prompt_tokens"] <= 100
    assert any(n["name"] == "Borivali" and n["label"] == "GPE" for n in doc["names"])

    glossary_load.run(_ctx(tmp_path, "hi", [], []))  # tmdb disabled, no per-job file
    doc = json.loads((tmp_path / "out" / "glossary.json").read_text(encoding="utf-8"))
    assert doc["names"] == [] and doc["prompt"].startswith("यार, अच्छा")


def test_every_consumer_reads_glossary_json_through_one_schema(tmp_path):
    """03 writes glossary.json through cinesub.glossaryfile; 04's prompt and 08's names read it back
    there, so a file that does not match the schema stops every consumer with the same one line."""
    from cinesub import asr, glossaryfile, translation

    written = tmp_path / "out" / "glossary.json"
    glossary_load.run(_ctx(tmp_path, "en", [], []))
    doc = glossaryfile.load(written)
    assert asr.glossary_words(str(written), True) == (doc["prompt"], doc["hotwords"] or None)
    assert doc["prompt"] != ""
    assert translation.load_glossary(str(written)).entries  # the shipped terms

    broken = dict(doc, names=[{"name": "Raj", "variants": [], "source": "job", "lable": "PERSON"}])
    written.write_text(json.dumps(broken), encoding="utf-8")
    for read in (lambda: asr.glossary_words(str(written), True), lambda: translation.load_glossary(written)):
        with pytest.raises(CinesubError, match=r"does not match the glossary schema at names/0"):
            read()
    with pytest.raises(CinesubError, match="does not match the glossary schema"):
        glossaryfile.save(written, {k: v for k, v in doc.items() if k != "prompt"})
