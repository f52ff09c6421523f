"""08_translation: translate the source segments into one target language, keeping every name right.

Pure core (unit-testable without a model):

1. ``build_units`` joins consecutive segments into sentence units (context across cue boundaries); a unit
   ends at sentence-final punctuation, a long pause, a size cap, or a switch between song and dialogue;
   each sung line is its own unit.
2. ``find_protections`` marks names (05's entities, glossary/TMDB names) and glossary terms; ``mask``
   turns them into ``<ID1xx>`` placeholders, which IndicTrans2 was trained to copy.
3. A backend (``mt_backends``) translates all units in length-sorted batches under a token budget.
4. ``restore`` puts each name back in its target-language form (Latin for Latin-script targets, the
   glossary's spelling in the target script or a transliteration for Indic ones); a name whose placeholder
   the model lost is re-inserted at the matching relative position, so no protected name is ever dropped.
5. ``split_translation`` maps each translated unit back onto its segments' time spans in proportion to
   the source characters, at word boundaries, never inside a name and never leaving a segment empty.

The edge ``run`` reads the segments and the optional glossary and writes ``<lang>.segments.json``.
"""

from __future__ import annotations

import bisect
import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import glossaryfile, languages
from . import segments as segments_doc
from .errors import CinesubError
from .languages import Language
from .mt_backends import MAX_PLACEHOLDERS, PLACEHOLDER_BASE, backend_class, model_runtime, placeholder
from .progress import Progress
from .runner import optional_input

STAGE = "08_translation"
# the libraries whose versions its manifest (and its result-cache key) records
PACKAGES = ("ctranslate2", "torch", "transformers", "IndicTransToolkit", "sentencepiece", "huggingface-hub")
SECTION = "translation"  # the config section its rule passes as params (section_params)

SENTENCE_END = re.compile(r"[.?!।॥…][\"'”’)\]]*$")
# Letters of any script next to a match mean it is part of a longer word. Indic vowel signs are not
# str.isalnum(), so the Indic blocks are listed explicitly instead of relying on \b.
_WORD_CHAR = r"[\w\u0900-\u0DFF]"
_CANONICAL_PLACEHOLDER = re.compile(r"<ID(1\d\d)>")
_SPACE_BEFORE_PUNCT = re.compile(r"(<ID1\d\d>)\s+([.,!?;:।॥…])")
# Brahmic scripts indicnlp can transliterate Devanagari into (by ISO 639-1 code of the script's language).
_TRANSLITERATION_CODE = {
    "Deva": "hi",
    "Beng": "bn",
    "Gujr": "gu",
    "Guru": "pa",
    "Orya": "or",
    "Taml": "ta",
    "Telu": "te",
    "Knda": "kn",
    "Mlym": "ml",
}
CONTINUATION = "…"
UNSPACED_SCRIPTS = {"Hans", "Jpan"}  # written without spaces between words: cut between characters


# ---------------------------------------------------------------------------------------------- settings


@dataclass
class Settings:
    """The validated ``translation`` config section (every default lives in the config schema)."""

    models: dict[str, str]
    runtimes: dict[str, str]
    model_cache: str
    device: str
    compute_type: str
    threads: int
    batch_tokens: int
    max_batch_sentences: int
    num_beams: int
    max_new_tokens: int
    max_gap_s: float
    max_unit_chars: int
    max_unit_segments: int
    protect_labels: list[str]
    result_cache: str
    mem_mb: int


def settings_from(params: dict | None) -> Settings:
    """The config's ``translation`` section, validated; missing keys take the schema's defaults."""
    from .configschema import validated_section

    return Settings(**validated_section("translation", dict(params or {})))


direction_for = languages.direction_for


# ------------------------------------------------------------------------------------------ sentence units


@dataclass
class Unit:
    """Consecutive segments translated together; ``texts`` are their stripped source texts."""

    indices: list[int]
    texts: list[str]
    lyrics: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def offsets(self) -> list[int]:
        """Where each segment's text starts in ``text``."""
        starts, position = [], 0
        for piece in self.texts:
            starts.append(position)
            position += len(piece) + 1
        return starts


def build_units(
    segments: list[dict], *, max_gap_s: float = 1.5, max_unit_chars: int = 400, max_unit_segments: int = 8
) -> list[Unit]:
    """Group segments with text into sentence units, in order. Empty segments belong to no unit."""
    units: list[Unit] = []
    current: Unit | None = None
    previous: dict | None = None
    for index, seg in enumerate(segments):
        text = " ".join(seg.get("text", "").split())
        if not text:
            continue
        lyrics = bool(seg.get("lyrics"))
        starts_new = (
            current is None
            or lyrics
            or current.lyrics
            or (previous is not None and seg["start"] - previous["end"] > max_gap_s)
            or SENTENCE_END.search(current.texts[-1]) is not None
            or len(current.text) + 1 + len(text) > max_unit_chars
            or len(current.indices) >= max_unit_segments
        )
        if starts_new:
            current = Unit([], [], lyrics=lyrics)
            units.append(current)
        current.indices.append(index)
        current.texts.append(text)
        previous = seg
    return units


# ------------------------------------------------------------------------------------- glossary and names


def dominant_script(text: str) -> str | None:
    shares = languages.script_share(text)
    return max(shares, key=shares.get) if shares else None


def transliterate_devanagari(text: str, target: Language) -> str | None:
    """``text`` (Devanagari) in the target's Brahmic script, or None when indicnlp cannot do it."""
    code = _TRANSLITERATION_CODE.get(target.script)
    if code is None:
        return None
    if code == "hi":
        return text
    from indicnlp.transliterate.unicode_transliterate import UnicodeIndicTransliterator

    return UnicodeIndicTransliterator.transliterate(text, "hi", code)


def name_rendering(spellings: Iterable[str], target: Language) -> str:
    """How a name is written in the target: a given spelling in the target's script, else (Indic targets)
    a transliteration of its Devanagari spelling, else its Latin spelling. The first spelling is canonical."""
    spellings = [s for s in dict.fromkeys(s.strip() for s in spellings) if s]
    in_script = [s for s in spellings if dominant_script(s) == target.script]
    if in_script:
        return in_script[0]
    devanagari = next((s for s in spellings if dominant_script(s) == "Deva"), None)
    if target.script != "Latn" and devanagari:
        converted = transliterate_devanagari(devanagari, target)
        if converted:
            return converted
    latin = next((s for s in spellings if dominant_script(s) == "Latn"), None)
    return latin or spellings[0]


def term_rendering(english: str, spellings: Iterable[str], target: Language) -> str | None:
    """A glossary term in the target, or None to let the model translate it: its English rendering for
    English, its spelling in (or transliterated to) the target script for Indic targets."""
    if target.code == "en":
        first = re.split(r"[|/;]", english or "")[0].strip()
        return first or None
    if not target.indic:
        return None
    spellings = [s.strip() for s in spellings if s and s.strip()]
    in_script = [s for s in spellings if dominant_script(s) == target.script]
    if in_script:
        return in_script[0]
    devanagari = next((s for s in spellings if dominant_script(s) == "Deva"), None)
    return transliterate_devanagari(devanagari, target) if devanagari else None


@dataclass
class GlossaryEntry:
    spellings: list[str]  # canonical first
    kind: str  # "name" or "term"
    english: str = ""


@dataclass
class Glossary:
    entries: list[GlossaryEntry] = field(default_factory=list)

    def name_spellings(self, text: str) -> list[str] | None:
        """All spellings of the glossary name that ``text`` is a spelling of."""
        folded = text.casefold()
        for entry in self.entries:
            if entry.kind == "name" and any(s.casefold() == folded for s in entry.spellings):
                return entry.spellings
        return None


def load_glossary(path: str | Path | None) -> Glossary:
    """03_glossary_load's glossary.json: names (TMDB, per-job) and terms with English renderings.
    Place terms ("Dahisar", "Dilli") are names: never translated, shown in the target's spelling."""
    data = glossaryfile.load_optional(path)
    if data is None:
        return Glossary()
    entries = []
    for name in data["names"]:
        entries.append(GlossaryEntry(_spellings([name["name"], *name["variants"]]), "name"))
    for term in data["terms"]:
        written = [term["term"], term["devanagari"], *term["variants"]]
        if term["kind"] == "place":
            entries.append(GlossaryEntry(_spellings([term["english"], *written]), "name"))
        else:
            entries.append(GlossaryEntry(_spellings(written), "term", term["english"]))
    return Glossary(entries)


def _spellings(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in items if s and s.strip()))


# ------------------------------------------------------------------------------------------- protection


@dataclass
class Protection:
    """A span of the unit's source text that the model must not translate."""

    start: int
    end: int
    source: str
    rendering: str
    kind: str  # entity | name | term


@dataclass
class GlossaryMatcher:
    """All glossary spellings as one regex (longest first), with the rendering of each for one target."""

    pattern: re.Pattern | None
    renderings: dict[str, tuple[str, str]]  # casefolded spelling -> (rendering, kind)

    @classmethod
    def build(cls, glossary: Glossary, target: Language) -> GlossaryMatcher:
        renderings: dict[str, tuple[str, str]] = {}
        for entry in glossary.entries:
            if entry.kind == "name":
                rendering: str | None = name_rendering(entry.spellings, target)
            else:
                rendering = term_rendering(entry.english, entry.spellings, target)
            if not rendering:
                continue
            for spelling in entry.spellings:
                # Names win over terms with the same spelling; the first entry wins among equals.
                key = spelling.casefold()
                if key not in renderings or (entry.kind == "name" and renderings[key][1] == "term"):
                    renderings[key] = (rendering, entry.kind)
        if not renderings:
            return cls(None, {})
        alternatives = "|".join(re.escape(s) for s in sorted(renderings, key=len, reverse=True))
        pattern = re.compile(f"(?<!{_WORD_CHAR})(?:{alternatives})(?!{_WORD_CHAR})", re.IGNORECASE)
        return cls(pattern, renderings)

    def find(self, text: str) -> list[Protection]:
        if self.pattern is None:
            return []
        found = []
        for match in self.pattern.finditer(text):
            rendering, kind = self.renderings[match.group(0).casefold()]
            # Terms written in an Indic script are left to the model, which knows them in context
            # ("नहीं" is not always "no"); romanized Hinglish ("yaar") is what it handles badly.
            if kind == "term" and dominant_script(match.group(0)) != "Latn":
                continue
            found.append(Protection(match.start(), match.end(), match.group(0), rendering, kind))
        return found


def entity_protections(
    unit: Unit, segments: list[dict], glossary: Glossary, target: Language, labels: Iterable[str]
) -> list[Protection]:
    """05_ner's entities with a protected label, moved from segment offsets to unit offsets."""
    wanted = set(labels)
    found = []
    for offset, index in zip(unit.offsets(), unit.indices, strict=True):
        raw = segments[index].get("text", "")
        normalized = " ".join(raw.split())
        for entity in segments[index].get("entities", []) or []:
            if entity.get("label") not in wanted:
                continue
            surface = entity.get("text", "")
            start = _locate(normalized, raw, surface, entity.get("start_char", 0))
            if start is None:
                continue
            canonical = entity.get("canonical") or surface
            spellings = (
                glossary.name_spellings(canonical) or glossary.name_spellings(surface) or [canonical, surface]
            )
            found.append(
                Protection(
                    offset + start,
                    offset + start + len(surface),
                    surface,
                    name_rendering(spellings, target),
                    "entity",
                )
            )
    return found


def _locate(normalized: str, raw: str, surface: str, raw_start: int) -> int | None:
    """Where ``surface`` is in the whitespace-normalized text, nearest its offset in the raw text."""
    if not surface:
        return None
    before = raw[:raw_start]
    approx = len(" ".join(before.split()))
    if before.strip() and before[-1:].isspace():
        approx += 1  # the single space that separates it from the text before
    if normalized[approx : approx + len(surface)] == surface:
        return approx
    hits = [m.start() for m in re.finditer(re.escape(surface), normalized)]
    return min(hits, key=lambda h: abs(h - approx)) if hits else None


def find_protections(
    unit: Unit,
    segments: list[dict],
    glossary: Glossary,
    matcher: GlossaryMatcher,
    target: Language,
    labels: Iterable[str],
) -> list[Protection]:
    """Non-overlapping protected spans of the unit text: entities first, then the longest glossary matches."""
    candidates = entity_protections(unit, segments, glossary, target, labels)
    candidates += sorted(matcher.find(unit.text), key=lambda p: (-(p.end - p.start), p.start))
    chosen: list[Protection] = []
    for candidate in candidates:
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
        if len(chosen) == MAX_PLACEHOLDERS:
            break
    return sorted(chosen, key=lambda p: p.start)


def mask(text: str, protections: list[Protection]) -> str:
    """``text`` with protection k (in order) replaced by its placeholder."""
    pieces, position = [], 0
    for number, protection in enumerate(protections, start=1):
        pieces.append(text[position : protection.start])
        pieces.append(placeholder(number))
        position = protection.end
    pieces.append(text[position:])
    return "".join(pieces)


def needs_model(masked: str) -> bool:
    """False when nothing but placeholders and punctuation is left to translate."""
    return any(ch.isalpha() for ch in _CANONICAL_PLACEHOLDER.sub("", masked))


def restore(
    translated: str, protections: list[Protection]
) -> tuple[str, list[tuple[int, int]], list[Protection]]:
    """Replace placeholders with their renderings. Returns the text, the spans of the restored names,
    and the protections whose placeholder the model lost (``place_in_segments`` re-inserts them)."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1\2", " ".join(translated.split()))
    out, spans, used, position = [], [], set(), 0
    length = 0
    for match in _CANONICAL_PLACEHOLDER.finditer(text):
        before = text[position : match.start()]
        out.append(before)
        length += len(before)
        number = int(match.group(1)) - PLACEHOLDER_BASE
        if 1 <= number <= len(protections):
            rendering = protections[number - 1].rendering
            spans.append((length, length + len(rendering)))
            out.append(rendering)
            length += len(rendering)
            used.add(number)
        position = match.end()
    out.append(text[position:])
    result, spans = _tidy("".join(out), spans)
    lost = [p for number, p in enumerate(protections, start=1) if number not in used]
    return result, spans, lost


def _tidy(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Collapse runs of spaces (a dropped placeholder leaves two) while keeping the spans right."""
    keep = [i for i, ch in enumerate(text) if not (ch == " " and (i == 0 or text[i - 1] == " "))]
    while keep and text[keep[-1]] == " ":
        keep.pop()
    new_index = {old: new for new, old in enumerate(keep)}
    tidy = "".join(text[i] for i in keep)

    def moved(old: int) -> int:
        index = bisect.bisect_left(keep, old)
        return new_index[keep[index]] if index < len(keep) else len(tidy)

    return tidy, [(moved(s), moved(s) + (e - s)) for s, e in spans]


def _insert(
    text: str, spans: list[tuple[int, int]], name: str, relative: float
) -> tuple[str, list[tuple[int, int]]]:
    """Insert ``name`` at the word boundary nearest ``relative`` x length, outside existing spans."""
    boundaries = [0, len(text)] + [i for i, ch in enumerate(text) if ch == " "]
    boundaries = [b for b in boundaries if not any(s < b < e for s, e in spans)]
    point = min(boundaries, key=lambda b: (abs(b - relative * len(text)), b))
    left, right = text[:point].rstrip(), text[point:].lstrip()
    start = len(left) + (1 if left else 0)
    right_start = start + len(name) + (1 if right else 0)
    lead = len(text) - point - len(right)
    new_spans = [
        (s, e) if e <= point else (right_start + s - point - lead, right_start + e - point - lead)
        for s, e in spans
    ]
    new_spans.append((start, start + len(name)))
    joined = (left + " " if left else "") + name + (" " + right if right else "")
    return joined, sorted(new_spans)


# ---------------------------------------------------------------------------------------- mapping back


def _words(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Whitespace-separated words of ``text`` as (start, end); a protected span is never cut in two."""
    words: list[tuple[int, int]] = []
    for match in re.finditer(r"\S+", text):
        start, end = match.span()
        if words and any(s < words[-1][1] and e > start for s, e in spans):
            words[-1] = (words[-1][0], end)  # a name with a space inside: keep its words together
        else:
            words.append((start, end))
    return words


def _characters(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Characters as units (for scripts written without spaces), spans kept whole."""
    units, index = [], 0
    while index < len(text):
        span = next(((s, e) for s, e in spans if s == index), None)
        if span:
            units.append(span)
            index = span[1]
        elif text[index].isspace():
            index += 1
        else:
            units.append((index, index + 1))
            index += 1
    return units


def split_ranges(
    text: str, source_lengths: list[int], spans: list[tuple[int, int]] | None = None
) -> list[tuple[int, int] | None]:
    """Where to cut a unit's translation: one (start, end) range per source segment, in proportion to the
    segments' source characters, at word boundaries and never inside a protected span. ``None`` for a
    segment left without words (fewer words than segments)."""
    count = len(source_lengths)
    if count == 1:
        return [(0, len(text))]
    spans = spans or []
    tokens = _words(text, spans)
    if len(tokens) < count and dominant_script(text) in UNSPACED_SCRIPTS:
        tokens = _characters(text, spans)
    total = sum(n or 1 for n in source_lengths)
    cumulative, running = [], 0
    for n in source_lengths[:-1]:
        running += n or 1
        cumulative.append(running / total)
    length = len(text) or 1
    if len(tokens) >= count:
        bounds, previous = [0], 0
        for j, share in enumerate(cumulative, start=1):
            lowest, highest = previous + 1, len(tokens) - (count - j)
            target = share * length
            previous = min(range(lowest, highest + 1), key=lambda c: (abs(tokens[c - 1][1] - target), c))
            bounds.append(previous)
        bounds.append(len(tokens))
        return [(tokens[bounds[j]][0], tokens[bounds[j + 1] - 1][1]) for j in range(count)]
    ranges: list[tuple[int, int] | None] = [None] * count
    previous = -1
    for j, (start, end) in enumerate(tokens):
        wanted = bisect.bisect_right(cumulative, (start + end) / 2 / length)
        slot = min(max(wanted, previous + 1), count - (len(tokens) - j))
        ranges[slot] = (start, end)
        previous = slot
    return ranges


def split_translation(
    text: str, source_lengths: list[int], spans: list[tuple[int, int]] | None = None
) -> list[str]:
    """The pieces ``split_ranges`` cuts; a segment left without words shows a continuation mark."""
    return [text[r[0] : r[1]] if r else CONTINUATION for r in split_ranges(text, source_lengths, spans)]


def place_in_segments(
    unit: Unit, text: str, spans: list[tuple[int, int]], lost: list[Protection]
) -> list[str]:
    """The translation cut into the unit's segments; each name the model lost is inserted into the
    segment whose source had it, at the same relative position. No piece is empty."""
    offsets = unit.offsets()
    pieces = []
    for j, cut in enumerate(split_ranges(text, [len(t) for t in unit.texts], spans)):
        start, end = cut or (0, 0)
        piece = text[start:end]
        local = [(s - start, e - start) for s, e in spans if s >= start and e <= end]
        for protection in lost:
            if bisect.bisect_right(offsets, protection.start) - 1 == j:
                relative = (protection.start - offsets[j]) / max(1, len(unit.texts[j]))
                piece, local = _insert(piece, local, protection.rendering, relative)
        pieces.append(piece or CONTINUATION)
    return pieces


# ------------------------------------------------------------------------------------------- the core


class Translator(Protocol):
    model_calls: int

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...


class IdentityTranslator:
    """Source and target are the same language: copy."""

    model_calls = 0

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]:
        return list(texts)

    def describe(self) -> dict[str, Any]:
        return {"model": None, "direction": "identity", "model_calls": 0, "batches": 0}


def translate_document(
    doc: dict,
    target: str,
    translator: Translator,
    glossary: Glossary | None = None,
    settings: Settings | None = None,
) -> dict:
    """The canonical segments document of ``doc`` translated into ``target`` (same ids and timings)."""
    settings = settings or settings_from({})
    glossary = glossary or Glossary()
    source_lang, target_lang = languages.get(doc["language"]), languages.get(target)
    identity = source_lang.code == target_lang.code
    source_segments = doc["segments"]
    units = build_units(
        source_segments,
        max_gap_s=settings.max_gap_s,
        max_unit_chars=settings.max_unit_chars,
        max_unit_segments=settings.max_unit_segments,
    )
    matcher = GlossaryMatcher.build(glossary, target_lang)
    protections = [
        []
        if identity
        else find_protections(unit, source_segments, glossary, matcher, target_lang, settings.protect_labels)
        for unit in units
    ]
    masked = [mask(unit.text, found) for unit, found in zip(units, protections, strict=True)]
    to_model = [i for i, text in enumerate(masked) if identity or needs_model(text)]
    translated = list(masked)
    outputs = translator.translate([masked[i] for i in to_model], source_lang, target_lang)
    if len(outputs) != len(to_model):
        raise CinesubError(f"the translation model returned {len(outputs)} texts for {len(to_model)} inputs")
    for index, text in zip(to_model, outputs, strict=True):
        translated[index] = text

    # Code-mixed Indic lines go to the model as written: Latin-script (English) words inside Devanagari
    # stay Latin (IndicTrans2's Indic vocabularies cover Latin and it was trained on such text); the
    # share of Latin letters per unit is recorded so a reviewer can find Hinglish and romanised lines.
    mixed = [round(languages.script_share(unit.text).get("Latn", 0.0), 2) for unit in units]
    output = [_translated_segment(seg, target_lang) for seg in source_segments]
    reinserted = empty_outputs = 0
    for number, (unit, found, text) in enumerate(zip(units, protections, translated, strict=True)):
        restored, spans, lost = restore(text, found)
        reinserted += len(lost)
        if not restored:
            # The model gave nothing back: show the source rather than a blank cue, and say so.
            empty_outputs += 1
            pieces = list(unit.texts)
        else:
            pieces = place_in_segments(unit, restored, spans, lost)
        for position, (index, piece) in enumerate(zip(unit.indices, pieces, strict=True)):
            seg = output[index]
            seg["text"] = piece
            flags: dict[str, Any] = {"unit": number, "unit_segments": len(unit.indices), "position": position}
            if found:
                flags["protected"] = [p.rendering for p in found]
            if lost:
                flags["reinserted"] = [p.rendering for p in lost]
            if not restored:
                flags["model_output_empty"] = True
            if source_lang.indic and mixed[number]:
                flags["code_mixed"] = mixed[number]
            seg.setdefault("flags", {})[STAGE] = flags

    meta = {
        "source_language": source_lang.code,
        "target_language": target_lang.code,
        "units": len(units),
        "segments": len(source_segments),
        "model_inputs": len(to_model),
        "protected_spans": sum(len(f) for f in protections),
        "reinserted_names": reinserted,
        "empty_model_outputs": empty_outputs,
        **translator.describe(),
    }
    return segments_doc.derive(doc, STAGE, output, language=target_lang.code, meta=meta)


def _translated_segment(seg: dict, target: Language) -> dict:
    """A copy of the source segment for the target: timings and scores kept, source text recorded;
    word timings and entity offsets dropped because they describe the source text."""
    out = {k: copy.deepcopy(v) for k, v in seg.items() if k not in ("words", "entities")}
    out["source_text"] = seg.get("text", "")
    return out


# ------------------------------------------------------------------------------------------- the edge


def resolve_model(
    direction: str, settings: Settings, resolve: Callable[[str, str | None, str], str] | None = None
) -> tuple[str, str, str]:
    """(model id, local directory, runtime) of the model for ``direction``: a local directory or a Hub
    snapshot; a CTranslate2 archive directory resolves to its model subdirectory for the device."""
    from .models import ct2_model_dir

    if resolve is None:
        from .models import resolve_hf_model as resolve
    model_id = settings.models.get(direction, "")
    path = ct2_model_dir(
        resolve(model_id, settings.model_cache or None, f"translation model ({direction})"), settings.device
    )
    return model_id, path, model_runtime(path, settings.runtimes.get(direction, "auto"))


def load_translator(
    direction: str, settings: Settings, resolve: Callable[[str, str | None, str], str] | None = None
) -> Translator:
    """The backend for ``direction`` with its model resolved (local dir or Hub cache) and loaded; the
    runtime (CTranslate2 or transformers) comes from what the directory holds or ``runtimes``."""
    if direction == "identity":
        return IdentityTranslator()
    model_id, path, runtime = resolve_model(direction, settings, resolve)
    backend = backend_class(direction, runtime)(
        model_id=model_id,
        path=path,
        direction=direction,
        device=settings.device,
        compute_type=settings.compute_type,
        batch_tokens=settings.batch_tokens,
        max_batch_sentences=settings.max_batch_sentences,
        num_beams=settings.num_beams,
        max_new_tokens=settings.max_new_tokens,
        threads=settings.threads,
    )
    try:
        return backend.load()
    except CinesubError:
        raise
    except ImportError as exc:
        raise CinesubError(
            f"translation model {model_id!r} needs the {runtime} runtime, which is not "
            f"installed ({exc.name or exc}): pip install -r requirements-transformers.txt"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a broken or incompatible checkpoint is one clear line
        raise CinesubError(
            f"could not load translation model {model_id!r} from {path} ({runtime}): "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        ) from None


def cache_key(
    cache: Any,
    doc: dict,
    target: str,
    direction: str,
    settings: Settings,
    glossary_path: str | None,
    model_path: str,
) -> str:
    """Key of a translation: the source text and timing, target, settings, glossary, model and code."""
    from . import mt_backends, stagecache
    from .manifest import package_versions

    fields = ("text", "start", "end", "lyrics", "entities")
    source = [{k: seg.get(k) for k in fields} for seg in doc["segments"]]
    return cache.key(
        files={"glossary": glossary_path} if glossary_path else {},
        code=[__file__, mt_backends.__file__],
        data={
            "source": source,
            "language": doc["language"],
            "target": target,
            "direction": direction,
            "settings": stagecache.result_settings(vars(settings)),
            "model": stagecache.model_identity(model_path),
            "versions": package_versions(PACKAGES),
        },
    )


def run(ctx: Any) -> None:
    from . import stagecache

    settings = settings_from(dict(ctx.params.translation))
    target = str(ctx.params.target_lang)
    doc = segments_doc.load(ctx.input.segments)
    glossary_path = optional_input(ctx.input, "glossary")
    glossary = load_glossary(glossary_path)
    direction = direction_for(doc["language"], target)
    ctx.log.info(
        "translating %d segments %s -> %s (%s), glossary: %s",
        len(doc["segments"]),
        doc["language"],
        target,
        direction,
        glossary_path or "none",
    )

    def translate() -> dict:
        translator = load_translator(direction, settings)
        if hasattr(translator, "progress"):  # per batch, with elapsed time and ETA: log and console
            translator.progress = Progress(ctx.log, f"job {ctx.job}: {STAGE} {target}")
        result = translate_document(doc, target, translator, glossary, settings)
        described = translator.describe()
        summary = result["meta"][STAGE]
        ctx.log.info(
            "%d units, %d model calls in %d batches, %d names re-inserted",
            summary["units"],
            described["model_calls"],
            described["batches"],
            summary["reinserted_names"],
        )
        return {"segments": result["segments"], "meta": summary, "model": described}

    def make_key(cache: Any) -> str:
        _, model_path, _ = resolve_model(direction, settings)
        return cache_key(cache, doc, target, direction, settings, glossary_path, model_path)

    # The same source, settings and model are translated once, whichever job asks (an identity
    # "translation" costs nothing, so it is never cached).
    setting = "off" if direction == "identity" else settings.result_cache
    payload, key, hit = stagecache.reuse(setting, STAGE, make_key, translate)
    ctx.models["translation"] = payload["model"]
    if key is not None:
        ctx.models["translation"] = {**payload["model"], "result_cache": {"entry": key, "hit": hit}}
        if hit:
            ctx.log.info("result cache hit %s: translation reused", key[:16])
    result = segments_doc.derive(doc, STAGE, payload["segments"], language=target, meta=payload["meta"])
    segments_doc.save(ctx.output.segments, result)
