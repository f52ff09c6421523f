"""07_hallucination_removal: remove the words and spans Whisper invented, never the dialogue, and say why.

Two kinds of evidence, and text alone is never enough to delete a word somebody said:

- **audio**: the job's speech timeline (01_demux/speech.json) says whether a voice is under each word;
  word probabilities say how sure the decoder was; the segment's decode checks (compression ratio,
  Whisper's own low-confidence rule: avg_logprob < -1.0 with no_speech_prob > 0.6) say whether the
  decode failed;
- **text rules** point at candidate spans: phrase-list boilerplate ("thanks for watching", web
  addresses, weak phrases like "you" or "thank you" as a whole segment), the extra copies of a
  repetition loop, identical lines beyond ``max_identical_run``.

A candidate span goes only when the audio does not support it: no voice under any of its words, the
decoder's own no-speech verdict (no_speech_prob above ``high_no_speech``), a failed decode, or, for
the extra copies of a loop, a mean word probability under ``min_word_probability``. Bracketed sound tags
("[Music]") and tokens with neither letters nor digits ("...", "♪") are not speech and always go;
numbers stay. Without a text rule, words with no voice under them go only when the decoder was unsure
of them too (no_speech_audio). Whole segments go on the segment's own decode checks (compression_ratio,
low_confidence), or on impossible timings (speaking_rate, zero_length_words) the audio agrees with.
``script_mismatch`` flags a segment (records the doubt) when its letters are mostly in another script of
our languages (code-switching, Hindi written in Urdu script), and removes it only when they are mostly in a
script none of our languages is written in (a Thai loop in a Hindi job: a decode failure). Sung segments
(``lyrics: true``, set by 06) keep every repetition and are never removed by no_speech_audio or
low_confidence.

Every removal (and every doubt) is recorded in removed.json (cinesub.removed) with its evidence.
"""

from __future__ import annotations

import copy
import os
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import languages, qc
from . import removed as removedlib
from . import segments as seglib
from . import speech as speechlib

STAGE = "07_hallucination_removal"
PACKAGES = ("faster-whisper",)  # the libraries whose versions its manifest records
SECTION = "hallucination"  # the config section its rule passes as params (section_params)

DETECTORS = (
    "boilerplate",
    "repetition_loop",
    "identical_run",
    "compression_ratio",
    "low_confidence",
    "no_speech_audio",
    "speaking_rate",
    "zero_length_words",
    "script_mismatch",
    "no_letters",
)
# whatever lyrics_exempt says: refrains repeat, VAD misses singing, and low confidence is what
# makes 06 call a stretch sung
SUNG_NEVER = ("repetition_loop", "identical_run", "low_confidence", "no_speech_audio")


def settings(params: dict | None) -> dict:
    """The hallucination section: ``params`` checked against the config schema, every default from it."""
    from .configschema import validated_section

    return validated_section("hallucination", {k: v for k, v in (params or {}).items() if v is not None})


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
        if tuple(norm[i : i + n]) == phrase:
            return i
    return -1


def only_weak_phrases(text: str, weak: list[tuple[str, ...]]) -> bool:
    """True when the text is nothing but weak phrases ("Thank you. Thank you.")."""
    norm = [t for t in _tokens(text)[1] if t]
    if not norm:
        return False
    i = 0
    while i < len(norm):
        match = next(
            (p for p in sorted(weak, key=len, reverse=True) if tuple(norm[i : i + len(p)]) == p), None
        )
        if match is None:
            return False
        i += len(match)
    return True


def letters(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch)[0] == "L")


def allowed_scripts(language: str, cfg: dict) -> set[str]:
    return qc.allowed_scripts(language, cfg["allowed_scripts"])


# ---- the pure core ----------------------------------------------------------------------------------------


@dataclass
class Token:
    """One shown word with its timing and probability (None when the segment has no word times)."""

    text: str
    norm: str
    start: float | None = None
    end: float | None = None
    probability: float | None = None
    word: dict | None = None


def tokens_of(seg: dict) -> list[Token]:
    """The segment's words as tokens, timed when its word list spells its text, else the bare text."""
    words = seg.get("words") or []
    text_norm = [t for t in _tokens(seg["text"])[1] if t]
    if words and [t for t in (normalise(w["word"]) for w in words) if t] == text_norm:
        return [
            Token(w["word"], normalise(w["word"]), w["start"], w["end"], w.get("probability"), w)
            for w in words
        ]
    original, norm = _tokens(seg["text"])
    return [Token(t, n) for t, n in zip(original, norm, strict=True)]


class Evidence:
    """What the audio says about spans of one segment: voice (the speech timeline), word probability,
    and the segment's decode checks."""

    def __init__(self, seg: dict, tokens: list[Token], speech: speechlib.Spans | None, cfg: dict):
        self.seg, self.tokens, self.speech, self.cfg = seg, tokens, speech, cfg
        logprob, no_speech = seg.get("avg_logprob"), seg.get("no_speech_prob")
        self.low_confidence = (
            logprob is not None
            and no_speech is not None
            and logprob < cfg["low_logprob"]
            and no_speech > cfg["high_no_speech"]
        )
        self.loop = compression_ratio(seg["text"]) > cfg["max_compression_ratio"]

    def voiced(self, indices: list[int]) -> bool | None:
        """Whether any of these tokens has a voice under it (None: no timeline to tell)."""
        if self.speech is None:
            return None
        timed = [self.tokens[i] for i in indices if self.tokens[i].start is not None]
        if not timed:
            share = speechlib.share(self.speech, self.seg["start"], self.seg["end"])
            return share >= self.cfg["min_speech_share"]
        pad = self.cfg["word_pad_s"]
        return any(speechlib.share(self.speech, t.start - pad, t.end + pad) > 0 for t in timed)

    def mean_probability(self, indices: list[int]) -> float | None:
        probs = [self.tokens[i].probability for i in indices if self.tokens[i].probability is not None]
        return sum(probs) / len(probs) if probs else None

    def unsupported(self, indices: list[int], weak_words: bool = False) -> dict | None:
        """Evidence that the audio does not support these tokens; None when it does (or cannot tell).

        No voice under them, the decoder's own verdict that there is no speech (no_speech_prob above
        high_no_speech), or a failed decode; ``weak_words``: a low mean word probability counts too
        (for the extra copies of a loop: a short real reply is often decoded with low probability)."""
        voiced = self.voiced(indices)
        probability = self.mean_probability(indices)
        no_speech = self.seg.get("no_speech_prob")
        found: dict[str, Any] = {}
        if voiced is False:
            found["voiced"] = False
        if no_speech is not None and no_speech > self.cfg["high_no_speech"]:
            found["no_speech_prob"] = no_speech
        if weak_words and probability is not None and probability < self.cfg["min_word_probability"]:
            found["mean_probability"] = round(probability, 3)
        if self.loop:
            found["compression_ratio"] = round(compression_ratio(self.seg["text"]), 2)
        if self.low_confidence:
            found["low_confidence"] = True
        return found or None


def tag_tokens(tokens: list[Token], tags: set[str]) -> set[int]:
    """Tokens inside a bracketed sound tag on the list ([Music], (applause), ♪)."""
    offsets, text = [], ""
    for token in tokens:
        offsets.append((len(text), len(text) + len(token.text)))
        text += token.text + " "
    hit: set[int] = set()
    for match in TAG_RE.finditer(text):
        inner = match.group(1)
        if inner is None or normalise(inner) in tags:
            hit |= {i for i, (a, b) in enumerate(offsets) if a < match.end() and b > match.start()}
    return hit


def phrase_spans(norm: list[str], phrases: list[tuple[str, ...]]) -> list[list[int]]:
    """Token index runs where strong phrases occur (overlapping phrases extend one run)."""
    taken = [False] * len(norm)
    spans = []
    for phrase in phrases:
        i = _find(norm, phrase)
        while i >= 0:
            if not all(taken[i : i + len(phrase)]):
                spans.append(list(range(i, i + len(phrase))))
                for j in range(i, i + len(phrase)):
                    taken[j] = True
            i = _find(norm, phrase, i + 1)
    return spans


def loop_copies(
    norm: list[str], max_ngram: int, min_repeats: int, min_repeats_single: int
) -> list[list[int]]:
    """Token index runs of the extra copies of each n-gram repeated back to back (the first copy stays)."""
    spans, i = [], 0
    while i < len(norm):
        best_n, best_k = 0, 1
        for n in range(1, max_ngram + 1):
            unit = norm[i : i + n]
            if len(unit) < n or not any(unit):
                break
            k = 1
            while norm[i + k * n : i + (k + 1) * n] == unit:
                k += 1
            needed = min_repeats_single if n == 1 else min_repeats
            if k >= needed and k * n > best_k * best_n:
                best_n, best_k = n, k
        if best_n:
            spans.append(list(range(i + best_n, i + best_k * best_n)))
            i += best_k * best_n
        else:
            i += 1
    return spans


def is_numberish(token: str) -> bool:
    """A token with letters or digits in it: words and numbers ("42", "₹500", "9:30") are readable."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def script_doubt(text: str, language: str, cfg: dict) -> dict | None:
    """The script shares when ``text``'s letters are mostly in scripts ``language`` is not written in."""
    return qc.wrong_script(text, language, cfg["allowed_scripts"], cfg["min_script_share"])


@dataclass
class Verdict:
    segment: dict  # the segment as kept (text and words without the removed tokens)
    reasons: list[str] = field(default_factory=list)  # whole segment dropped: why
    spans: list[dict] = field(default_factory=list)  # removed token runs, each with reasons and evidence
    doubts: dict[str, Any] = field(default_factory=dict)  # kept, with a recorded doubt
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped(self) -> bool:
        return bool(self.reasons)

    @property
    def trimmed(self) -> bool:
        return not self.reasons and bool(self.spans)


def _runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in sorted(indices):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def judge(
    seg: dict,
    cfg: dict,
    phrases: PhraseList,
    language: str,
    speech: speechlib.Spans | None,
    repeated: bool = False,
) -> Verdict:
    """Every detector on one segment; ``repeated``: the segment is beyond an identical run."""
    exempt = set(cfg["lyrics_exempt"]) | set(SUNG_NEVER) if seg.get("lyrics") else set()
    active = {name for name, enabled in cfg["detectors"].items() if enabled and name not in exempt}
    verdict = Verdict(segment=copy.deepcopy(seg))
    tokens = tokens_of(seg)
    norm = [t.norm for t in tokens]
    evidence = Evidence(seg, tokens, speech, cfg)
    duration = max(0.0, seg["end"] - seg["start"])

    # the segment's own decode check: Whisper's rule, no text rule needed
    if "low_confidence" in active and evidence.low_confidence:
        verdict.reasons.append("low_confidence")
    # impossible timings: word times are loose (a real "Bye." can get 20 ms), so the audio must agree
    timing = []
    if "speaking_rate" in active:
        chars = len(letters(seg["text"]))
        if chars and (duration <= 0 or chars / duration > cfg["max_chars_per_s"]):
            timing.append("speaking_rate")
            verdict.details["chars_per_s"] = round(chars / duration, 1) if duration > 0 else None
    words = seg.get("words") or []
    if "zero_length_words" in active and len(words) >= 2:
        zero = sum(1 for w in words if w["end"] - w["start"] <= cfg["zero_length_s"])
        if zero / len(words) > cfg["max_zero_length_share"]:
            timing.append("zero_length_words")
            verdict.details["zero_length_words"] = zero
    if timing:
        against = evidence.unsupported(list(range(len(tokens))))
        if against:
            verdict.reasons.extend(timing)
            verdict.details["timing_evidence"] = against
        else:
            for reason in timing:
                verdict.doubts[reason] = seg["text"]

    removed: dict[int, list[str]] = {}  # token index -> reasons
    proof: dict[int, dict] = {}

    def remove(indices: list[int], reason: str, found: dict | None = None) -> None:
        for i in indices:
            removed.setdefault(i, []).append(reason)
            if found:
                proof[i] = {**proof.get(i, {}), **found}

    def candidate(indices: list[int], reason: str) -> None:
        """A text rule's span: removed only where the audio does not support it."""
        indices = [i for i in indices if i not in removed]
        if not indices:
            return
        found = evidence.unsupported(indices, weak_words=reason == "repetition_loop")
        if found:
            remove(indices, reason, found)
        else:
            verdict.doubts.setdefault(reason, []).append(" ".join(tokens[i].text for i in indices))

    if "boilerplate" in active:
        remove(sorted(tag_tokens(tokens, phrases.tags)), "boilerplate", {"sound_tag": True})
        for span in phrase_spans(norm, phrases.strong):
            candidate(span, "boilerplate")
        candidate([i for i, t in enumerate(tokens) if URL_RE.search(t.text)], "boilerplate")
    if "repetition_loop" in active:
        for span in loop_copies(
            norm, cfg["loop_max_ngram"], cfg["loop_min_repeats"], cfg["loop_min_repeats_single"]
        ):
            candidate(span, "repetition_loop")
    if seg.get("lyrics") and evidence.loop and cfg["detectors"]["repetition_loop"]:
        # a refrain is sung a few times; far more copies in a segment the decoder's compression check
        # failed are a decode loop (measured: tiny.en looped "and under the star my love" 20x on a song)
        many = cfg["lyrics_loop_min_repeats"]
        # a looped refrain line can be longer than loop_max_ngram words: any unit repeated that often
        for span in loop_copies(norm, max(cfg["loop_max_ngram"], len(norm) // many), many, many):
            remove(
                span,
                "repetition_loop",
                {"compression_ratio": round(compression_ratio(seg["text"]), 2), "sung": True},
            )
    if "no_letters" in active:
        remove([i for i, t in enumerate(tokens) if not is_numberish(t.text)], "no_letters")
    left = [i for i in range(len(tokens)) if i not in removed]
    left_text = " ".join(tokens[i].text for i in left)
    if "boilerplate" in active and left and only_weak_phrases(left_text, phrases.weak):
        candidate(left, "boilerplate")
    if repeated and "identical_run" in active:
        candidate(left, "identical_run")
    if "no_speech_audio" in active and speech is not None:
        for run in _runs([i for i in range(len(tokens)) if i not in removed]):
            unvoiced = [i for i in run if evidence.voiced([i]) is False]
            for part in _runs(unvoiced):
                probability = evidence.mean_probability(part)
                if probability is not None:
                    doubtful = probability < cfg["min_word_probability"]
                else:  # no word probabilities: the segment's own checks decide
                    no_speech = seg.get("no_speech_prob") or 0.0
                    doubtful = evidence.low_confidence or no_speech > cfg["high_no_speech"]
                if doubtful:
                    remove(
                        part,
                        "no_speech_audio",
                        {
                            "voiced": False,
                            "mean_probability": None if probability is None else round(probability, 3),
                        },
                    )
                else:
                    verdict.doubts.setdefault("no_voice", []).append(" ".join(tokens[i].text for i in part))
    kept = [i for i in range(len(tokens)) if i not in removed]
    kept_text = " ".join(tokens[i].text for i in kept)
    if "compression_ratio" in active and kept:
        ratio = compression_ratio(kept_text)
        if ratio > cfg["max_compression_ratio"]:
            verdict.reasons.append("compression_ratio")
            verdict.details["compression_ratio"] = round(ratio, 2)
    if "script_mismatch" in active:
        doubt = script_doubt(kept_text, language, cfg)
        if doubt and not set(doubt) & {lang.script for lang in languages.LANGUAGES.values()}:
            # mostly letters of a script no language of ours is written in (a Thai loop in a Hindi job):
            # a decode failure, not dialogue
            verdict.reasons.append("script_mismatch")
            verdict.details["scripts"] = doubt
        elif doubt:  # an Indian script or Latin: maybe a real code-switched line (or Hindi in Urdu script)
            verdict.doubts["script_mismatch"] = doubt

    for run in _runs(list(removed)):
        timed = [tokens[i] for i in run if tokens[i].start is not None]
        verdict.spans.append(
            {
                "text": " ".join(tokens[i].text for i in run),
                "start": timed[0].start if timed else seg["start"],
                "end": timed[-1].end if timed else seg["end"],
                "reasons": list(dict.fromkeys(r for i in run for r in removed[i])),
                "evidence": {k: v for i in run for k, v in proof.get(i, {}).items()},
            }
        )
    if not kept and not verdict.reasons:
        verdict.reasons.extend(dict.fromkeys(r for span in verdict.spans for r in span["reasons"]))
    out = verdict.segment
    if verdict.trimmed:
        verdict.details["original_text"] = seg["text"]
        if all(tokens[i].word is not None for i in kept):
            out["words"] = [copy.deepcopy(tokens[i].word) for i in kept]
            first, last = out["words"][0], out["words"][-1]
            out["start"], out["end"] = first["start"], max(last["end"], first["start"])
        else:
            out["words"] = _words_after_trim(out, kept_text)
        out["text"] = kept_text
        trims = list(dict.fromkeys(r for span in verdict.spans for r in span["reasons"]))
        seglib.set_flag(out, STAGE, "trimmed", trims)
    if verdict.doubts and not verdict.dropped:
        seglib.set_flag(out, STAGE, "doubt", sorted(verdict.doubts))
    return verdict


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


def identical_runs(segments: list[dict], cfg: dict) -> set[int]:
    """Ids beyond ``max_identical_run`` in each run of identical consecutive texts (sung lines never)."""
    if not cfg["detectors"]["identical_run"]:
        return set()
    doomed: set[int] = set()
    previous, run = None, 0
    for seg in segments:
        if seg.get("lyrics"):
            previous, run = None, 0
            continue
        key = " ".join(t for t in _tokens(seg["text"])[1] if t)
        run = run + 1 if key and key == previous else 1
        previous = key
        if run > cfg["max_identical_run"]:
            doomed.add(seg["id"])
    return doomed


def word_count(segments: list[dict]) -> int:
    return sum(len([t for t in _tokens(seg["text"])[1] if t]) for seg in segments)


def clean(
    doc: dict, cfg: dict, phrases: PhraseList, speech: speechlib.Spans | None = None
) -> tuple[dict, dict]:
    """The whole stage on data: (cleaned document, removed report). ``speech``: the speech timeline."""
    ordered = sorted(doc["segments"], key=lambda s: (s["start"], s["end"]))
    beyond_run = identical_runs(ordered, cfg)
    kept, removed, flagged = [], [], []
    counts = {name: 0 for name in DETECTORS}
    for seg in ordered:
        verdict = judge(seg, cfg, phrases, doc["language"], speech, repeated=seg["id"] in beyond_run)
        span_reasons = [r for span in verdict.spans for r in span["reasons"]]
        reasons = list(dict.fromkeys(verdict.reasons + span_reasons))
        for reason in reasons:
            counts[reason] += 1
        base = {
            "id": seg["id"],
            "start": seg["start"],
            "end": seg["end"],
            "text": seg["text"],
            "lyrics": bool(seg.get("lyrics")),
        }
        if verdict.dropped or verdict.trimmed:
            entry = {
                **base,
                "action": "dropped" if verdict.dropped else "trimmed",
                "reasons": reasons,
                "spans": verdict.spans,
                "details": verdict.details,
                "evidence": {
                    "avg_logprob": seg.get("avg_logprob"),
                    "no_speech_prob": seg.get("no_speech_prob"),
                    "speech_share": None
                    if speech is None
                    else round(speechlib.share(speech, seg["start"], seg["end"]), 3),
                },
            }
            if not verdict.dropped:
                entry["kept_text"] = verdict.segment["text"]
            removed.append(entry)
        if verdict.doubts and not verdict.dropped:
            flagged.append({**base, "doubts": verdict.doubts})
        if not verdict.dropped:
            kept.append(verdict.segment)
    words_in, words_out = word_count(ordered), word_count(kept)
    # the extra copies of a decode loop (its first copy stays) are not dialogue lost: the share that
    # max_removed_share guards leaves them out of both counts
    loop_copies = sum(
        len(span["text"].split())
        for entry in removed
        for span in entry["spans"]
        if span["reasons"] == ["repetition_loop"]
    )
    heard = words_in - loop_copies
    summary = {
        "segments_in": len(ordered),
        "segments_out": len(kept),
        "dropped": sum(1 for r in removed if r["action"] == "dropped"),
        "trimmed": sum(1 for r in removed if r["action"] == "trimmed"),
        "flagged": len(flagged),
        "words_in": words_in,
        "words_out": words_out,
        "removed_word_share": round(max(0.0, 1 - words_out / heard), 4) if heard > 0 else 0.0,
        "by_reason": {k: v for k, v in counts.items() if v},
    }
    out = seglib.derive(doc, STAGE, kept, meta=summary)
    report = {
        "schema_version": 1,
        "job": doc["job"],
        "stage": STAGE,
        "summary": summary,
        "removed": removed,
        "flagged": flagged,
        "settings": dict(cfg),
    }
    return out, report


def run(ctx) -> None:
    cfg = settings(dict(ctx.params.hallucination))
    doc = seglib.load(ctx.input.segments)
    phrases = load_phrases(cfg["phrases_dir"], doc["language"], list(cfg["extra_phrase_languages"]))
    ctx.log.info(
        "%d boilerplate phrases, %d weak phrases, %d sound tags for %s",
        len(phrases.strong),
        len(phrases.weak),
        len(phrases.tags),
        doc["language"],
    )
    timeline = speechlib.load(ctx.input.speech)
    ctx.log.info(
        "speech timeline: %d spans, %.1f s of speech", len(timeline), sum(e - s for s, e in timeline)
    )
    out, report = clean(doc, cfg, phrases, timeline)
    summary = report["summary"]
    ctx.log.info(
        "kept %d of %d segments; dropped %d, trimmed %d, flagged %d; %.1f%% of the words removed; reasons %s",
        summary["segments_out"],
        summary["segments_in"],
        summary["dropped"],
        summary["trimmed"],
        summary["flagged"],
        100 * summary["removed_word_share"],
        summary["by_reason"],
    )
    seglib.save(ctx.output.segments, out)
    removedlib.save(ctx.output.removed, report)
    qc_cfg = dict(ctx.params.qc)
    problems = []
    if summary["removed_word_share"] > cfg["max_removed_share"]:
        problems.append(
            f"removed {100 * summary['removed_word_share']:.0f}% of the ASR's words "
            f"(more than hallucination.max_removed_share {cfg['max_removed_share']:g}); "
            f"see {ctx.output.removed}"
        )
    doubt = qc.wrong_script(
        " ".join(s["text"] for s in out["segments"]),
        doc["language"],
        cfg["allowed_scripts"],
        qc_cfg["min_script_share"],
    )
    if doubt:
        language = doc["language"]
        problems.append(
            f"the {language} text is mostly in a script {language} is not written in "
            f"({qc.describe_scripts(doubt)})"
        )
    for problem in problems:
        qc.report_problem(ctx, problem, qc_cfg)
