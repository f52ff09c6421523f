"""05_ner, before tagging: spell the film's names as the glossary lists them, whatever the ASR wrote.

Whisper (tiny.en on English dialogue, base on Hindi) writes names it does not know as look-alikes:
"Mira" for Meera, "Arjan" for Arjun, "Rancpur" for Ranakpur, "Meer and" for "Meera and". For every run
of one to three words of a segment, the closest spelling of a listed name (canonical, variants and
characters' first names; Latin in Latin text, Devanagari in Devanagari text) is scored by edit
similarity (rapidfuzz) and, for Latin, by sound (jellyfish's Metaphone). A run is rewritten only when

- it is similar enough (``min_similarity``; or sounds the same at ``min_similarity_same_sound``);
- none of its words is a common word heard with confidence: a word frequent in the language (wordfreq
  Zipf ≥ ``common_zipf``) is rewritten only if Whisper was unsure of it (word probability <
  ``common_max_probability``), capitalised it inside a sentence (it took it for a name: "I will meet
  Mirror"), or the run is a listed variant;
- the context allows a name: not right after an article or possessive ("the old Mira" is a mirror).

Every rewrite is returned (segment, from, to, score, probability, why) for 05's ``entities.json``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import languages

# Words after which a name is unlikely: articles, demonstratives and possessives ("the", "my").
NOT_BEFORE_NAMES = {
    "en": {
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "some",
        "any",
        "every",
        "each",
        "no",
    },
}
MAX_SPAN_WORDS = 3


@dataclass(frozen=True)
class Target:
    form: str  # a listed spelling, as written
    key: str  # its letters only, case-folded
    replacement: str  # what a match becomes: the canonical name, or the listed spelling in the text's script
    words: int
    listed_variant: bool  # a spelling the glossary lists besides the canonical one
    # derived once here, since candidates compares them for every run of words:
    devanagari: bool = field(init=False)  # the spelling's script
    replacement_key: str = field(init=False)  # the replacement's letters: a run spelled so needs no rewrite

    def __post_init__(self) -> None:
        object.__setattr__(self, "devanagari", is_devanagari(self.key))
        object.__setattr__(self, "replacement_key", letters(self.replacement))


def letters(text: str) -> str:
    """Only the letters and marks of ``text``, case-folded and NFC (what spellings are compared on)."""
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(c for c in text if unicodedata.category(c)[0] in "LM")


def is_devanagari(text: str) -> bool:
    return languages.script_share(text).get("Deva", 0.0) >= 0.5


def targets_from(entries: list[Any]) -> list[Target]:
    """Targets from 05's gazetteer entries (form, canonical, label): Latin forms become the canonical
    name; Devanagari forms stay as listed, since a Devanagari transcript keeps Devanagari names."""
    targets: dict[tuple[str, str], Target] = {}
    for entry in entries:
        key = letters(entry.form)
        if len(key) < 3:
            continue
        devanagari = is_devanagari(entry.form)
        replacement = entry.form if devanagari or is_devanagari(entry.canonical) else entry.canonical
        variant = letters(entry.form) != letters(entry.canonical)
        targets.setdefault(
            (key, replacement),
            Target(entry.form, key, replacement, len(entry.form.split()), variant),
        )
    return list(targets.values())


@lru_cache(maxsize=8192)
def zipf(word: str, language: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, language)


@lru_cache(maxsize=8192)
def metaphone(text: str) -> str:
    import jellyfish

    return jellyfish.metaphone(text)


def similarity(span_key: str, target: Target) -> tuple[float, bool]:
    """Edit similarity (0..1) of two letter strings, and whether they sound alike (Latin only)."""
    from rapidfuzz.distance import Levenshtein

    ratio = Levenshtein.normalized_similarity(span_key, target.key)
    latin = span_key.isascii() and target.key.isascii()
    return ratio, latin and metaphone(span_key) == metaphone(target.key)


def _is_edge(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZ"  # punctuation, symbols, spaces (not Devanagari vowel signs)


def _word_parts(word: str) -> tuple[str, str, str]:
    """(leading punctuation, the word, trailing punctuation)."""
    word = word.strip()
    first, last = 0, len(word)
    while first < last and _is_edge(word[first]):
        first += 1
    while last > first and _is_edge(word[last - 1]):
        last -= 1
    return word[:first], word[first:last], word[last:]


def _confident_common(word: dict, text: str, language: str, settings: dict) -> bool:
    """A frequent word Whisper was sure of (or gave no probability for): never rewritten."""
    if zipf(letters(text), language) < settings["common_zipf"]:
        return False
    probability = word.get("probability")
    return probability is None or probability >= settings["common_max_probability"]


def _capitalized_mid_sentence(words: list[dict], index: int, text: str) -> bool:
    """Whisper capitalised a word inside a sentence ("I will meet Mirror at"): it took it for a name."""
    if index == 0 or not text[:1].isupper() or text == "I":
        return False
    return not words[index - 1]["word"].strip().endswith((".", "!", "?", "।"))


def _after_article(words: list[dict], start: int, block: set[str]) -> bool:
    """True after an article or possessive, directly or across one lower-case word ("the old ...")."""
    previous = [_word_parts(w["word"])[1] for w in words[max(0, start - 2) : start]]
    if previous and letters(previous[-1]) in block:
        return True
    return len(previous) == 2 and letters(previous[0]) in block and previous[1][:1].islower()


def candidates(words: list[dict], targets: list[Target], language: str, settings: dict) -> list[dict]:
    """Every acceptable rewrite of a run of ``words`` into a target, best first (may overlap)."""
    found = []
    block = NOT_BEFORE_NAMES.get(language, set())
    word_language = "hi" if language == "hi" else "en"
    for start in range(len(words)):
        if _after_article(words, start, block):
            continue
        for length in range(1, MAX_SPAN_WORDS + 1):
            span = words[start : start + length]
            if len(span) < length:
                break
            texts = [_word_parts(w["word"])[1] for w in span]
            key = "".join(letters(t) for t in texts)
            if len(key) < 3:
                continue
            devanagari = is_devanagari(key)
            for target in targets:
                if abs(target.words - length) > 1 or devanagari != target.devanagari:
                    continue
                if key == target.replacement_key:
                    continue  # already spelled as listed
                ratio, same_sound = similarity(key, target)
                exact_variant = key == target.key and target.listed_variant
                if not (
                    exact_variant
                    or ratio >= settings["min_similarity"]
                    or (same_sound and ratio >= settings["min_similarity_same_sound"])
                ):
                    continue
                if not exact_variant and any(
                    _confident_common(w, t, word_language, settings)
                    and not _capitalized_mid_sentence(words, start + k, t)
                    for k, (w, t) in enumerate(zip(span, texts, strict=True))
                ):
                    continue
                probabilities = [w.get("probability") for w in span if w.get("probability") is not None]
                probability = sum(probabilities) / len(probabilities) if probabilities else None
                found.append(
                    {
                        "start": start,
                        "length": length,
                        "target": target,
                        "score": 1.0 if exact_variant else round(ratio, 3),
                        "probability": None if probability is None else round(probability, 3),
                        "why": "listed variant"
                        if exact_variant
                        else "same sound"
                        if same_sound
                        else "spelling",
                    }
                )
    return sorted(found, key=lambda c: (-c["score"], -c["length"], c["start"]))


def correct_segment(segment: dict, targets: list[Target], language: str, settings: dict) -> list[dict]:
    """Rewrite the names of one segment in place (its words and text); returns the corrections made."""
    words = [w for w in segment.get("words") or [] if str(w.get("word", "")).strip()]
    if not words:
        return []
    chosen, taken = [], set()
    for candidate in candidates(words, targets, language, settings):
        cells = set(range(candidate["start"], candidate["start"] + candidate["length"]))
        if not cells & taken:
            chosen.append(candidate)
            taken |= cells
    if not chosen:
        return []
    corrections = []
    for candidate in sorted(chosen, key=lambda c: -c["start"]):  # right to left: indices stay valid
        first, last = candidate["start"], candidate["start"] + candidate["length"]
        span = words[first:last]
        lead, _, _ = _word_parts(span[0]["word"])
        _, _, trail = _word_parts(span[-1]["word"])
        original = " ".join(w["word"].strip() for w in span)
        merged = {
            "word": f"{lead}{candidate['target'].replacement}{trail}",
            "start": span[0]["start"],
            "end": span[-1]["end"],
            "probability": candidate["probability"],
        }
        words[first:last] = [merged]
        corrections.append(
            {
                "segment": segment["id"],
                "start": merged["start"],
                "end": merged["end"],
                "from": original,
                "to": candidate["target"].replacement,
                "matched": candidate["target"].form,
                "score": candidate["score"],
                "probability": candidate["probability"],
                "why": candidate["why"],
            }
        )
    segment["words"] = words
    segment["text"] = " ".join(w["word"].strip() for w in words)
    return sorted(corrections, key=lambda c: c["start"])


def correct_names(segment_list: list[dict], entries: list[Any], language: str, settings: dict) -> list[dict]:
    """Correct every segment (in place) against the gazetteer ``entries``; all corrections, in time order."""
    targets = targets_from(entries)
    if not targets:
        return []
    corrections = []
    for segment in segment_list:
        made = correct_segment(segment, targets, language, settings)
        if made:
            segment.setdefault("flags", {}).setdefault("05_ner", {})["name_corrections"] = made
            corrections += made
    return corrections
