"""07_hallucination_removal: drop or trim text that Whisper invented, and say why for every change.

Independent detectors, each switchable in config and each recorded as a reason:

- boilerplate: per-language phrase lists (``resources/hallucination/<lang>.txt``): "thanks for watching",
  "please subscribe", "subtitles by", web addresses, bracketed sound tags; weak phrases ("thank you",
  "you") count only when the segment is doubtful anyway;
- repetition_loop: an n-gram repeated back to back inside one segment is cut to one copy;
- identical_run: a run of identical consecutive segments keeps only the first few;
- compression_ratio: zlib compression ratio of the (trimmed) text above a threshold, as in Whisper;
- low_confidence: low avg_logprob together with high no_speech_prob;
- no_speech_audio: the audio under the segment has (almost) no speech according to Silero VAD;
- speaking_rate / zero_length_words: more characters per second than anyone speaks, or word timings
  that collapse to nothing;
- script_mismatch: letters mostly in a script the language is not written in;
- no_letters: nothing readable left (".", "♪", "...").

Sung segments (``lyrics: true``) are exempt from the repetition detectors (refrains repeat) and from
zero_length_words (word alignment over music is unreliable). The output
keeps every surviving segment; removed.json lists every dropped or trimmed segment with its reasons.
"""

from __future__ import annotations

import copy
import os
import re
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import languages, vad
from . import segments as seglib
from .fileio import write_json_atomic

STAGE = "07_hallucination_removal"

DETECTORS = ("boilerplate", "repetition_loop", "identical_run", "compression_ratio", "low_confidence",
             "no_speech_audio", "speaking_rate", "zero_length_words", "script_mismatch", "no_letters")
REPETITION_DETECTORS = ("repetition_loop", "identical_run", "compression_ratio")

DEFAULTS: dict[str, Any] = {
    "phrases_dir": "resources/hallucination",
    "extra_phrase_languages": ["en"],  # Whisper invents English boilerplate whatever the language
    "detectors": {name: True for name in DETECTORS},
    # refrains repeat, and word timings over music are unreliable
    "lyrics_exempt": [*REPETITION_DETECTORS, "zero_length_words"],
    "min_words_after_trim": 2,  # a boilerplate-trimmed segment with fewer words is dropped
    "loop_max_ngram": 8,
    "loop_min_repeats": 3,  # back-to-back copies of a multi-word n-gram that make a loop
    "loop_min_repeats_single": 4,  # ... of a single word ("no, no, no" is speech)
    "max_identical_run": 2,
    "max_compression_ratio": 2.4,
    "low_logprob": -0.8,
    "high_no_speech": 0.6,
    "doubtful_no_speech": 0.5,  # for weak phrases: this no_speech_prob makes a segment doubtful
    "min_speech_share": 0.2,  # share of the segment the VAD must hear as speech
    "vad_threshold": 0.5,
    "vad_block_s": 600.0,
    "max_chars_per_s": 40.0,
    "max_zero_length_share": 0.5,
    "zero_length_s": 0.0,
    "allowed_scripts": {},  # {lang: [ISO 15924 scripts]}; default: the language's script (+ Latn if Indic)
    "min_script_share": 0.5,
}


def settings(params: dict | None) -> dict:
    merged = copy.deepcopy(DEFAULTS)
    for key, value in (params or {}).items():
        if key == "detectors" and isinstance(value, dict):
            merged["detectors"].update(value)
        elif value is not None:
            merged[key] = value
    unknown = set(merged["detectors"]) - set(DETECTORS)
    if unknown:
        raise ValueError(f"unknown hallucination detectors {sorted(unknown)} (known: {', '.join(DETECTORS)})")
    return merged


# ---- text helpers -----------------------------------------------------------------------------------------

def normalise(token: str) -> str:
    """Lowercase letters, marks and digits only: Devanagari matras and Urdu letters survive."""
    return "".join(ch for ch in token.lower() if unicodedata.category(ch)[0] in "LMN")


def compression_ratio(text: str) -> float:
    """Whisper's measure: bytes of text over bytes of its zlib compression."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


TAG_RE = re.compile(r"[\[\(\*]\s*([^\]\)\*]{1,40}?)\s*[\]\)\*]|♪+|♫+")
URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:com|org|net|in)\b/?\S*", re.IGNORECASE)


@dataclass
class PhraseList:
    strong: list[tuple[str, ...]] = field(default_factory=list)  # cut wherever found
    weak: list[tuple[str, ...]] = field(default_factory=list)  # whole segment + doubtful only
    tags: set[str] = field(default_factory=set)  # bracketed sound tags


def parse_phrases(lines: list[str]) -> PhraseList:
    phrases = PhraseList()
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            phrases.tags.add(normalise(line[1:-1]))
            continue
        weak = line.startswith("? ")
        tokens = tuple(t for t in (normalise(w) for w in (line[2:] if weak else line).split()) if t)
        if tokens:
            (phrases.weak if weak else phrases.strong).append(tokens)
    # longest first, so "thank you so much for watching" wins over "thank you"
    phrases.strong.sort(key=len, reverse=True)
    return phrases


def load_phrases(phrases_dir: str | os.PathLike, language: str, extra: list[str]) -> PhraseList:
    merged = PhraseList()
    for lang in dict.fromkeys([language, *extra]):
        path = Path(phrases_dir) / f"{lang}.txt"
        if not path.is_file():
            continue
        part = parse_phrases(path.read_text(encoding="utf-8").splitlines())
        merged.strong.extend(part.strong)
        merged.weak.extend(part.weak)
        merged.tags |= part.tags
    merged.strong.sort(key=len, reverse=True)
    return merged


def _tokens(text: str) -> tuple[list[str], list[str]]:
    original = text.split()
    return original, [normalise(t) for t in original]


def _find(norm: list[str], phrase: tuple[str, ...], start: int = 0) -> int:
    """Index in ``norm`` where ``phrase`` starts (empty tokens like "," are not skipped), or -1."""
    n = len(phrase)
    for i in range(start, len(norm) - n + 1):
        if tuple(norm[i:i + n]) == phrase:
            return i
    return -1


def strip_tags(text: str, tags: set[str]) -> tuple[str, list[str]]:
    """Remove bracketed sound tags ([Music], (applause), ♪) that are in ``tags``; return text and removals."""
    removed: list[str] = []

    def cut(match: re.Match) -> str:
        inner = match.group(1)
        if inner is None or normalise(inner) in tags:
            removed.append(match.group(0))
            return " "
        return match.group(0)

    return " ".join(TAG_RE.sub(cut, text).split()), removed


def cut_phrases(text: str, phrases: list[tuple[str, ...]]) -> tuple[str, list[str]]:
    """Remove every occurrence of the strong phrases (on whole words); return the text and what went."""
    original, norm = _tokens(text)
    drop = [False] * len(original)
    found: list[str] = []
    for phrase in phrases:
        i = _find(norm, phrase)
        while i >= 0:
            # overlapping phrases ("please subscribe" + "subscribe to my channel") extend one cut
            if not all(drop[i:i + len(phrase)]):
                for j in range(i, i + len(phrase)):
                    drop[j] = True
                found.append(" ".join(phrase))
            i = _find(norm, phrase, i + 1)
    kept = [tok for tok, gone in zip(original, drop, strict=True) if not gone]
    return " ".join(kept), found


def only_weak_phrases(text: str, weak: list[tuple[str, ...]]) -> bool:
    """True when the text is nothing but weak phrases ("Thank you. Thank you.")."""
    norm = [t for t in _tokens(text)[1] if t]
    if not norm:
        return False
    i = 0
    while i < len(norm):
        match = next((p for p in sorted(weak, key=len, reverse=True) if tuple(norm[i:i + len(p)]) == p), None)
        if match is None:
            return False
        i += len(match)
    return True


def cut_loops(text: str, max_ngram: int, min_repeats: int, min_repeats_single: int) -> tuple[str, int]:
    """Collapse back-to-back repeats of an n-gram to one copy; return the text and tokens removed."""
    original, norm = _tokens(text)
    kept: list[str] = []
    removed = 0
    i = 0
    while i < len(original):
        best_n, best_k = 0, 1
        for n in range(1, max_ngram + 1):
            unit = norm[i:i + n]
            if len(unit) < n or not any(unit):
                break
            k = 1
            while norm[i + k * n: i + (k + 1) * n] == unit:
                k += 1
            needed = min_repeats_single if n == 1 else min_repeats
            if k >= needed and k * n > best_k * best_n:
                best_n, best_k = n, k
        if best_n:
            kept.extend(original[i:i + best_n])
            removed += (best_k - 1) * best_n
            i += best_k * best_n
        else:
            kept.append(original[i])
            i += 1
    return " ".join(kept), removed


def letters(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch)[0] == "L")


def allowed_scripts(language: str, cfg: dict) -> set[str]:
    if language in cfg["allowed_scripts"]:
        return set(cfg["allowed_scripts"][language])
    lang = languages.LANGUAGES.get(language)
    if lang is None:
        return set()
    # Indian films mix English into Indic dialogue, so Latin letters are expected there.
    return {lang.script, "Latn"} if lang.indic else {lang.script}


# ---- the pure core ----------------------------------------------------------------------------------------

@dataclass
class Verdict:
    segment: dict
    reasons: list[str] = field(default_factory=list)  # why it was dropped
    trims: list[str] = field(default_factory=list)  # why its text was shortened
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped(self) -> bool:
        return bool(self.reasons)


def _words_after_trim(seg: dict, new_text: str) -> list[dict]:
    """Timings of the words left in ``new_text`` (matched in order); all of them if no clean match."""
    words = seg.get("words") or []
    wanted = [normalise(t) for t in new_text.split()]
    kept, j = [], 0
    for word in words:
        if j < len(wanted) and normalise(word["word"]) == wanted[j]:
            kept.append(word)
            j += 1
    return kept if j == len(wanted) else words


def judge(seg: dict, cfg: dict, phrases: PhraseList, language: str,
          speech_share: Callable[[float, float], float] | None) -> Verdict:
    """All per-segment detectors on one segment: trims first, then drop reasons on what is left."""
    on = cfg["detectors"]
    exempt = set(cfg["lyrics_exempt"]) if seg.get("lyrics") else set()
    active = {name for name, enabled in on.items() if enabled and name not in exempt}
    verdict = Verdict(segment=copy.deepcopy(seg))
    out = verdict.segment
    text = out["text"]
    duration = max(0.0, out["end"] - out["start"])

    if "boilerplate" in active:
        text, tags = strip_tags(text, phrases.tags)
        text, found = cut_phrases(text, phrases.strong)
        # addresses last, so "subtitles by the amara.org community" matches as a phrase first
        found += URL_RE.findall(text)
        text = " ".join(URL_RE.sub(" ", text).split())
        if tags or found:
            verdict.details["boilerplate"] = list(dict.fromkeys(tags + found))
            if len([t for t in _tokens(text)[1] if t]) < cfg["min_words_after_trim"]:
                verdict.reasons.append("boilerplate")
            else:
                verdict.trims.append("boilerplate")
    if "repetition_loop" in active:
        text, removed = cut_loops(text, cfg["loop_max_ngram"], cfg["loop_min_repeats"],
                                  cfg["loop_min_repeats_single"])
        if removed:
            verdict.trims.append("repetition_loop")
            verdict.details["loop_tokens_removed"] = removed

    logprob, no_speech = out.get("avg_logprob"), out.get("no_speech_prob")
    share = speech_share(out["start"], out["end"]) if speech_share and "no_speech_audio" in active else None
    if share is not None:
        verdict.details["speech_share"] = round(share, 3)
    doubtful = ((no_speech is not None and no_speech >= cfg["doubtful_no_speech"])
                or (logprob is not None and logprob < cfg["low_logprob"])
                or (share is not None and share < 0.5))
    if "boilerplate" in active and "boilerplate" not in verdict.reasons and doubtful \
            and only_weak_phrases(text, phrases.weak):
        verdict.reasons.append("boilerplate")
        verdict.details.setdefault("boilerplate", []).append(text)
    if "compression_ratio" in active:
        ratio = compression_ratio(text)
        if ratio > cfg["max_compression_ratio"]:
            verdict.reasons.append("compression_ratio")
            verdict.details["compression_ratio"] = round(ratio, 2)
    if "low_confidence" in active and logprob is not None and no_speech is not None \
            and logprob < cfg["low_logprob"] and no_speech > cfg["high_no_speech"]:
        verdict.reasons.append("low_confidence")
    if share is not None and share < cfg["min_speech_share"]:
        verdict.reasons.append("no_speech_audio")
    if "speaking_rate" in active:
        chars = len(letters(text))
        if chars and (duration <= 0 or chars / duration > cfg["max_chars_per_s"]):
            verdict.reasons.append("speaking_rate")
            verdict.details["chars_per_s"] = round(chars / duration, 1) if duration > 0 else None
    words = out.get("words") or []
    if "zero_length_words" in active and len(words) >= 2:
        zero = sum(1 for w in words if w["end"] - w["start"] <= cfg["zero_length_s"])
        if zero / len(words) > cfg["max_zero_length_share"]:
            verdict.reasons.append("zero_length_words")
            verdict.details["zero_length_words"] = zero
    if "script_mismatch" in active:
        allowed = allowed_scripts(language, cfg)
        shares = languages.script_share(text)
        if allowed and shares and sum(v for k, v in shares.items() if k in allowed) < cfg["min_script_share"]:
            verdict.reasons.append("script_mismatch")
            verdict.details["scripts"] = {k: round(v, 2) for k, v in shares.items()}
    # after a boilerplate cut, leftover punctuation is a consequence, not a second reason
    if "no_letters" in active and not letters(text) and "boilerplate" not in verdict.reasons:
        verdict.reasons.append("no_letters")

    if verdict.trims and not verdict.reasons:
        verdict.details["original_text"] = out["text"]
        out["words"] = _words_after_trim(out, text)
        out["text"] = text
        seglib.set_flag(out, STAGE, "trimmed", list(verdict.trims))
    return verdict


def identical_runs(segments: list[dict], cfg: dict) -> set[int]:
    """Ids beyond ``max_identical_run`` in each run of identical consecutive texts (lyrics exempt)."""
    if not cfg["detectors"].get("identical_run", True):
        return set()
    doomed: set[int] = set()
    previous, run = None, 0
    for seg in segments:
        if seg.get("lyrics") and "identical_run" in cfg["lyrics_exempt"]:
            previous, run = None, 0
            continue
        key = " ".join(t for t in _tokens(seg["text"])[1] if t)
        run = run + 1 if key and key == previous else 1
        previous = key
        if run > cfg["max_identical_run"]:
            doomed.add(seg["id"])
    return doomed


def clean(doc: dict, cfg: dict, phrases: PhraseList,
          speech_share: Callable[[float, float], float] | None = None) -> tuple[dict, dict]:
    """The whole stage on data: (cleaned document, removed report)."""
    ordered = sorted(doc["segments"], key=lambda s: (s["start"], s["end"]))
    beyond_run = identical_runs(ordered, cfg)
    kept, removed = [], []
    counts = {name: 0 for name in DETECTORS}
    for seg in ordered:
        verdict = judge(seg, cfg, phrases, doc["language"], speech_share)
        if seg["id"] in beyond_run:
            verdict.reasons.append("identical_run")
        for reason in dict.fromkeys(verdict.reasons + verdict.trims):
            counts[reason] += 1
        if verdict.dropped or verdict.trims:
            entry = {"id": seg["id"], "start": seg["start"], "end": seg["end"], "text": seg["text"],
                     "lyrics": bool(seg.get("lyrics")),
                     "action": "dropped" if verdict.dropped else "trimmed",
                     "reasons": list(dict.fromkeys(verdict.reasons + verdict.trims)),
                     "trims": verdict.trims,
                     "details": verdict.details}
            if not verdict.dropped:
                entry["kept_text"] = verdict.segment["text"]
            removed.append(entry)
        if not verdict.dropped:
            kept.append(verdict.segment)
    summary = {"segments_in": len(ordered), "segments_out": len(kept),
               "dropped": sum(1 for r in removed if r["action"] == "dropped"),
               "trimmed": sum(1 for r in removed if r["action"] == "trimmed"),
               "by_reason": {k: v for k, v in counts.items() if v}}
    out = seglib.derive(doc, STAGE, kept, meta=summary)
    report = {"job": doc["job"], "stage": STAGE, "summary": summary, "removed": removed,
              "settings": {k: v for k, v in cfg.items()}}
    return out, report


def run(ctx) -> None:
    cfg = settings(dict(ctx.params.cfg))
    doc = seglib.load(ctx.input.segments)
    phrases = load_phrases(cfg["phrases_dir"], doc["language"], list(cfg["extra_phrase_languages"]))
    ctx.log.info("%d boilerplate phrases, %d weak phrases, %d sound tags for %s",
                 len(phrases.strong), len(phrases.weak), len(phrases.tags), doc["language"])
    share = None
    if cfg["detectors"].get("no_speech_audio", True):
        timeline = vad.speech_timeline(ctx.input.audio, block_s=cfg["vad_block_s"],
                                       threshold=cfg["vad_threshold"])
        ctx.log.info("VAD: %d speech spans, %.1f s of speech", len(timeline),
                     sum(e - s for s, e in timeline))

        def share(start: float, end: float) -> float:
            return vad.share_of(timeline, start, end)

    out, report = clean(doc, cfg, phrases, share)
    ctx.log.info("kept %d of %d segments; dropped %d, trimmed %d; reasons %s",
                 report["summary"]["segments_out"], report["summary"]["segments_in"],
                 report["summary"]["dropped"], report["summary"]["trimmed"], report["summary"]["by_reason"])
    seglib.save(ctx.output.segments, out)
    write_json_atomic(ctx.output.removed, report)
