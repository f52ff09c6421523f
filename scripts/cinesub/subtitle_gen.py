"""Stage 09_subtitle_gen: canonical segments -> standards-conforming cues -> SRT, WebVTT and a QC report.

The rules are enforced while the cues are built, not checked afterwards:

* Words are never split. Cue text comes from the segment ``text`` (NFC); its timing comes from the
  segment's word timestamps where present, else the segment span is shared out in proportion to
  characters (translations have no word timings).
* Tokens separated by more than ``merge_gap_s`` of silence, or switching between sung and spoken
  text, never share a cue. Inside such a block a dynamic programme chooses where cues start and end,
  weighing reading speed, minimum duration, line layout and where the cut falls (after a sentence,
  at a pause, not inside a name). A cue that joins two segments is only allowed when it conforms.
* Each sentence opens a cue (a sentence: after . ? ! ।, after a comma and a pause, or where the voice
  starts again), unless a cue of its own would break a rule; such a sentence is listed in qc.json's
  ``sentences_mid_cue`` with the rule.
* Cue times: a cue starts when its voice starts: at the speech timeline's onset when the stage has
  one (Whisper's word stamps trail the voice by 0.15-0.6 s), else at the first word's stamp. It ends
  when its speech ends, extended into the following silence as far as reading speed needs (at most
  ``max_linger_s`` past the speech) or as far as ``min_duration`` needs (minimum duration wins over
  linger, because a flash cannot be read; to reach it a cue may delay the next one by up to
  ``max_start_delay_s``), never closer than ``min_gap_frames`` frames to the next cue and never
  longer than ``max_duration``. So overlaps and gap violations cannot occur; what cannot be fixed is
  reported by ``check_cues`` with a reason.

Line breaks: after sentence or clause punctuation; before English conjunctions and prepositions and
Hindi conjunctions (और, लेकिन, कि, तो ...); never after an article, preposition or conjunction. Hindi
postpositions and auxiliaries (में, से, को, के, की, का, है ...) follow their noun or verb, so a break goes
after them, never before them ("बाज़ार में | गया", not "बाज़ार | में गया"). Titles stay with names
("Mr. | Sharma" is avoided), and so do named-entity spans from 05_ner, where any other layout fits.

Counting: characters are Python ``str`` characters of NFC text. Line length counts everything
visible on the line, including the ``♪`` markers of sung lines and the space beside them. Reading
speed (cps) counts the characters of the words, spaces and punctuation of the text read as one line:
a line break counts as the space it replaces (so wrapping never changes cps), the ``♪`` markers do not
count (they are not read). Markup (``<i>``) counts toward nothing.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import functools
import html
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any

import srt
import webvtt

from . import mediafile, qcfile
from . import segments as segments_io
from .errors import CinesubError
from .fileio import write_text_atomic
from .runner import optional_input

STAGE = "09_subtitle_gen"
PACKAGES = ("srt", "webvtt-py")  # the libraries whose versions its manifest records
SECTION = "subtitles"  # the config section its rule passes as params (section_params)
DEFAULT_FPS = 25.0
LYRICS_STYLES = ("italic_note", "note", "plain")
NOTE = "♪"


@dataclass(frozen=True)
class Rules:
    """The timing and layout rules for one language. Built by :func:`rules_for`: the values, and their
    defaults (Netflix adult English; Hindi 22 cps), live in the config schema only."""

    max_chars_per_line: int
    max_lines: int
    max_cps: float
    min_duration: float
    max_duration: float
    min_gap_frames: int
    max_linger_s: float
    merge_gap_s: float
    max_start_delay_s: float
    fps: float

    @functools.cached_property  # asked ~10^5 times a film by the cue planner
    def min_gap_ms(self) -> int:
        """The minimum gap between cues in whole milliseconds, rounded up so it is never too small."""
        return math.ceil(self.min_gap_frames * 1000.0 / self.fps - 1e-6)

    @functools.cached_property
    def max_start_delay_ms(self) -> int:
        return round(self.max_start_delay_s * 1000)

    @functools.cached_property
    def min_duration_ms(self) -> int:
        return round(self.min_duration * 1000)

    @functools.cached_property
    def max_duration_ms(self) -> int:
        return round(self.max_duration * 1000)


RULE_KEYS = tuple(f.name for f in dataclasses.fields(Rules) if f.name != "fps")


def _parse_fps(fps: Any) -> float:
    if fps is None or isinstance(fps, bool):
        return DEFAULT_FPS
    try:
        value = float(Fraction(str(fps))) if isinstance(fps, str) else float(fps)
    except (ValueError, ZeroDivisionError):
        return DEFAULT_FPS
    return value if math.isfinite(value) and value > 0 else DEFAULT_FPS


def settings(subtitles_cfg: dict | None) -> dict:
    """The ``subtitles`` section validated against the config schema, its defaults filled in from there
    (the workflow hands it over validated already; filling again changes nothing)."""
    from .configschema import validated_section

    return validated_section("subtitles", subtitles_cfg)


def rules_for(lang: str, subtitles_cfg: dict | None, fps: Any = None) -> Rules:
    """The rules for ``lang``: ``subtitles.rules`` < ``subtitles.languages.<lang>``, defaults from the
    schema (so Hindi gets its 22 cps from ``languages.hi`` however the rest of the section looks).

    ``fps`` is the film's frame rate (a number, a fraction string like ``"24000/1001"``, or None when
    there is no video, which means 25).
    """
    cfg = settings(subtitles_cfg)
    values = {**cfg["rules"], **cfg["languages"].get(lang, {})}
    rules = Rules(**{key: values[key] for key in RULE_KEYS}, fps=_parse_fps(fps))
    if rules.min_duration > rules.max_duration:
        raise CinesubError(
            f"subtitle rules for {lang}: min_duration {rules.min_duration} "
            f"is longer than max_duration {rules.max_duration}"
        )
    return rules


# ---------------------------------------------------------------------------------------------------
# Line-break preferences

SENTENCE_END = frozenset(".?!।॥…")
CLAUSE_END = frozenset(",;:–—")
CLOSERS = "\"'”’»)]}"
OPENERS = "\"'“‘«([{¿¡"

EN_BREAK_BEFORE = frozenset(
    """
and but or nor so yet because although though while whereas when whenever where which who whom whose that
if unless until since after before as than whether once
to in on at for with from of by about into onto over under through without within between against during
across along among around behind beyond like near toward towards upon via
""".split()
)
# A line that ends on one of these leaves it dangling ("the / house").
EN_NO_BREAK_AFTER = EN_BREAK_BEFORE | frozenset(
    """
a an the my your his her its our their this these those some any no every each
i i'm i'll i've i'd mr mrs ms dr prof st sir
""".split()
)
TITLES = frozenset("mr mrs ms dr prof st sir shri sri smt श्री श्रीमती डॉ".split())
# Honorifics that follow a name: "Sharma ji" stays together.
NAME_SUFFIXES = frozenset("ji jee sahab saheb sahib bhai didi जी साहब साहिब भाई दीदी".split())

# Hindi (and romanised Hinglish) conjunctions: a clause starts here, so break before them.
HI_CONJUNCTIONS = frozenset(
    """
और लेकिन मगर परंतु परन्तु किंतु किन्तु कि तो या क्योंकि जब अगर यदि फिर इसलिए ताकि जबकि वरना बल्कि
aur lekin magar kyunki kyonki toh ya jab agar phir isliye
""".split()
)
# Hindi postpositions and auxiliaries follow the word they belong to ("घर में", "जा रहा है"): a break
# before them strands the noun or verb, a break after the locative/ablative/dative ones closes a phrase.
HI_NO_BREAK_BEFORE = frozenset(
    """
में से को पर तक ने के की का लिए साथ बाद बारे पास वाला वाली वाले है हैं हूँ हूं हो था थी थे रहा रही रहे गया गई गए
""".split()
)
HI_BREAK_AFTER = frozenset("में से को तक ने पर लिए साथ बाद पास".split())
HI_NO_BREAK_AFTER = HI_CONJUNCTIONS | frozenset("के की का".split())

_PUNCT_ONLY = re.compile(r"^[\W_]+$")


def _bare(token: str) -> str:
    return token.strip(CLOSERS + OPENERS + ".,;:?!।॥…–—-").casefold()


@functools.lru_cache(maxsize=1 << 16)  # the cue planner asks about the same word pairs many times
def break_cost(left: str, right: str, lang: str) -> float:
    """How bad a line or cue break between the tokens ``left`` and ``right`` is (0 = ideal).

    Best after a sentence or clause; good before a conjunction or preposition; bad after an article,
    preposition or conjunction, before Hindi postpositions and auxiliaries, between a title and a name,
    and before a lone punctuation token.
    """
    left_bare, right_bare = _bare(left), _bare(right)
    if _PUNCT_ONLY.match(right) and right[0] not in OPENERS and right[0] not in "-–—":
        return 10.0
    if left_bare in TITLES or right_bare in NAME_SUFFIXES:
        return 8.0
    ending = left.rstrip(CLOSERS)[-1:]
    if ending in SENTENCE_END:
        return 0.0
    if ending in CLAUSE_END:
        return 0.5
    hindi = lang == "hi"
    if left_bare in EN_NO_BREAK_AFTER or (hindi and left_bare in HI_NO_BREAK_AFTER):
        return 6.0
    if hindi and right_bare in HI_NO_BREAK_BEFORE:
        return 6.0
    if right_bare in EN_BREAK_BEFORE or (hindi and right_bare in HI_CONJUNCTIONS):
        return 1.5
    if hindi and left_bare in HI_BREAK_AFTER:
        return 1.5
    return 3.0


# ---------------------------------------------------------------------------------------------------
# Line layout

PROTECTED_BREAK_COST = 30.0  # breaking inside a name: only when nothing else fits
# Uneven lines cost (longest - shortest) / width, squared and weighted: a little unevenness is nearly
# free next to a better break; a one-word line is not.
BALANCE_WEIGHT = 8.0
TOP_HEAVY_COST = 0.5  # a longer line above a shorter one: pyramid preferred when there is a choice


def _layout(
    words: Sequence[str],
    joined: Sequence[bool],
    rules: Rules,
    lang: str,
    reserve: tuple[int, int] = (0, 0),
    allow_overlong: bool = False,
) -> tuple[list[str], float] | None:
    """The best way to lay ``words`` out in at most ``rules.max_lines`` lines, with its cost.

    ``joined[k]`` is True when words k and k+1 belong to one name. ``reserve`` is the number of
    characters taken on the first and on the last line by decoration (the ``♪ `` of sung lines).
    Uses the fewest lines that fit; None when no layout fits. With ``allow_overlong`` a word longer
    than a line may stand alone on its line, at a violation's cost, since words are never split.
    """
    count = len(words)
    if count == 0:
        return None
    if count == 1 and allow_overlong and len(words[0]) + sum(reserve) > rules.max_chars_per_line:
        return [words[0]], VIOLATION_COST
    offsets = [0]
    for word in words:
        offsets.append(offsets[-1] + len(word))
    max_chars = rules.max_chars_per_line
    first_extra, last_extra = reserve

    def width(begin: int, end: int) -> int:
        return offsets[end] - offsets[begin] + (end - begin - 1)

    if width(0, count) + first_extra + last_extra <= max_chars:
        return [" ".join(words)], 0.0
    cut_costs = [
        break_cost(words[k - 1], words[k], lang) + (PROTECTED_BREAK_COST if joined[k - 1] else 0.0)
        for k in range(1, count)
    ]
    task = _LineTask(words, width, cut_costs, max_chars, reserve, allow_overlong)
    for line_count in range(2, rules.max_lines + 1):
        found = _two_lines(task) if line_count == 2 else _lines_of(line_count, task)
        if found is not None:
            return found
    return None


@dataclasses.dataclass(frozen=True)
class _LineTask:
    """What a line search works on: the words, the width of words[begin:end] on one line, the cost of
    a line break before each word but the first, and the limits."""

    words: Sequence[str]
    width: Callable[[int, int], int]
    cut_costs: list[float]
    max_chars: int
    reserve: tuple[int, int]  # characters decoration takes on the first and on the last line
    allow_overlong: bool


def _lines_of(line_count: int, task: _LineTask) -> tuple[list[str], float] | None:
    """:func:`_layout`'s best layout in exactly ``line_count`` lines, or None: every way to cut."""
    words, width, cut_costs, max_chars = task.words, task.width, task.cut_costs, task.max_chars
    count, (first_extra, last_extra), allow_overlong = len(words), task.reserve, task.allow_overlong
    best: tuple[float, tuple[int, ...]] | None = None
    for cuts in itertools.combinations(range(1, count), line_count - 1):
        bounds = (0, *cuts, count)
        widths = [width(bounds[t], bounds[t + 1]) for t in range(line_count)]
        widths[0] += first_extra
        widths[-1] += last_extra
        overlong = [t for t in range(line_count) if widths[t] > max_chars]
        if overlong and not (allow_overlong and all(bounds[t + 1] - bounds[t] == 1 for t in overlong)):
            continue
        cost = sum(cut_costs[c - 1] for c in cuts) + VIOLATION_COST * len(overlong)
        spread = (max(widths) - min(widths)) / max_chars
        cost += BALANCE_WEIGHT * spread * spread + spread
        cost += TOP_HEAVY_COST * sum(widths[t] > widths[t + 1] for t in range(line_count - 1))
        if best is None or cost < best[0]:
            best = (cost, bounds)
    if best is None:
        return None
    cost, bounds = best
    return [" ".join(words[bounds[t] : bounds[t + 1]]) for t in range(line_count)], cost


def _two_lines(task: _LineTask) -> tuple[list[str], float] | None:
    """:func:`_lines_of` for two lines, one cut at a time: the same layout and cost (a test checks),
    in a third of the time; the planner asks for tens of thousands of layouts per film, nearly all of
    them two lines."""
    words, width, cut_costs, max_chars = task.words, task.width, task.cut_costs, task.max_chars
    count, (first_extra, last_extra), allow_overlong = len(words), task.reserve, task.allow_overlong
    best: tuple[float, int] | None = None
    for cut in range(1, count):
        top, bottom = width(0, cut) + first_extra, width(cut, count) + last_extra
        top_over, bottom_over = top > max_chars, bottom > max_chars
        if top_over and not (allow_overlong and cut == 1):
            break  # the top line only grows from here
        if bottom_over and not (allow_overlong and cut == count - 1):
            continue
        cost = cut_costs[cut - 1] + VIOLATION_COST * (top_over + bottom_over)
        spread = abs(top - bottom) / max_chars
        cost += BALANCE_WEIGHT * spread * spread + spread
        cost += TOP_HEAVY_COST * (top > bottom)
        if best is None or cost < best[0]:
            best = (cost, cut)
    if best is None:
        return None
    cost, cut = best
    return [" ".join(words[:cut]), " ".join(words[cut:])], cost


def _tokens_with_spans(text: str) -> list[tuple[str, int, int]]:
    return [(unicodedata.normalize("NFC", m.group()), m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def _joined_flags(spans: Sequence[tuple[int, int]], protected: Iterable[tuple[int, int]]) -> list[bool]:
    """For each gap between consecutive tokens (given their char spans), whether it lies inside a name."""
    ranges = list(protected)
    flags = []
    for (_, left_end), (right_start, _) in itertools.pairwise(spans):
        flags.append(any(start < left_end and end > right_start for start, end in ranges))
    return flags


def wrap_text(
    text: str,
    rules: Rules,
    lang: str,
    protected_spans: Iterable[tuple[int, int]] = (),
    reserve: tuple[int, int] = (0, 0),
) -> list[str] | None:
    """Break ``text`` into at most ``rules.max_lines`` lines of ``rules.max_chars_per_line``.

    One line when it fits; otherwise breaks after punctuation and before conjunctions/prepositions,
    balanced, bottom-heavy when there is a choice, never inside a word and inside a protected span
    (``(start_char, end_char)`` of a name in ``text``) only when nothing else fits. Whitespace runs
    become single spaces; text is NFC. Returns None when the text cannot fit.
    """
    tokens = _tokens_with_spans(text)
    layout = _layout(
        [t[0] for t in tokens], _joined_flags([t[1:] for t in tokens], protected_spans), rules, lang, reserve
    )
    return None if layout is None else layout[0]


# ---------------------------------------------------------------------------------------------------
# Cues


@dataclass
class Cue:
    """One subtitle event. ``lines`` hold the words only: no markup and no ``♪`` markers."""

    start: float
    end: float
    lines: list[str]
    lyrics: bool = False
    style: str = "plain"  # lyrics_style applied to a sung cue: italic_note | note | plain
    speech_start: float | None = None
    speech_end: float | None = None
    segment_ids: tuple[int, ...] = ()
    # sentences that start inside this cue rather than opening one, each with why: (sentence, reason)
    sentences_mid_cue: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def noted(self) -> bool:
        return self.lyrics and self.style in ("italic_note", "note")

    @property
    def italic(self) -> bool:
        return self.lyrics and self.style == "italic_note"

    def display_lines(self) -> list[str]:
        """The lines as seen on screen, ``♪`` markers included, markup excluded."""
        lines = list(self.lines)
        if self.noted and lines:
            lines[0] = f"{NOTE} {lines[0]}"
            lines[-1] = f"{lines[-1]} {NOTE}"
        return lines

    def reading_chars(self) -> int:
        return reading_chars(self.lines)

    def duration_ms(self) -> int:
        return _ms(self.end) - _ms(self.start)

    def cps(self) -> float:
        duration = self.duration_ms() / 1000.0
        return self.reading_chars() / duration if duration > 0 else math.inf

    def markup(self, escape: bool = False) -> str:
        """Cue text for a file: ``♪`` markers and ``<i>`` per the style; ``escape`` for WebVTT."""
        lines = self.display_lines()
        if escape:
            lines = [html.escape(line, quote=False) for line in lines]
        body = "\n".join(lines)
        return f"<i>{body}</i>" if self.italic else body


def reading_chars(lines: Sequence[str]) -> int:
    """Characters read: words, spaces and punctuation, a line break counting as the space it replaces."""
    return len(" ".join(lines))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class _Token:
    text: str
    start: float
    end: float
    segment: int  # position of the segment in the input list
    segment_id: int
    lyrics: bool
    joined_to_next: bool = False  # the gap after this token lies inside a name
    voice_onset: bool = False  # the voice starts here after a pause (the speech timeline says so)


def _word_tokens(words: list[dict]) -> list[tuple[str, float, float]]:
    """Whitespace tokens of a segment's words with their times.

    faster-whisper words carry their leading space (" Hello"); whisperx words do not ("Hello"). When no
    word after the first starts with a space the words are whole tokens, else they concatenate.
    """
    texts = [str(w.get("word", "")) for w in words]
    spaced = any(t[:1].isspace() for t in texts[1:])
    joined_chars: list[str] = []
    owner: list[int] = []
    for index, piece in enumerate(texts):
        if not spaced and joined_chars:
            joined_chars.append(" ")
            owner.append(index)
        joined_chars.extend(piece)
        owner.extend([index] * len(piece))
    joined = "".join(joined_chars)
    tokens = []
    for match in re.finditer(r"\S+", joined):
        first, last = owner[match.start()], owner[match.end() - 1]
        start = float(words[first]["start"])
        end = max(float(words[last]["end"]), start)
        tokens.append((unicodedata.normalize("NFC", match.group()), start, end))
    return tokens


def _interpolate(texts: Sequence[str], begin: float, finish: float) -> list[tuple[float, float]]:
    """Share ``[begin, finish]`` among tokens in proportion to their characters (plus one for the space)."""
    weights = [len(t) + 1 for t in texts]
    total = sum(weights) or 1
    span = max(finish - begin, 0.0)
    times, cursor = [], begin
    for weight in weights:
        step = span * weight / total
        times.append((cursor, cursor + step))
        cursor += step
    return times


def _segment_token_times(seg: dict, texts: list[str]) -> list[tuple[float, float]]:
    """Times for the segment's text tokens: from word timestamps where they match, else interpolated."""
    seg_start, seg_end = float(seg["start"]), float(seg["end"])
    words = [w for w in seg.get("words") or [] if str(w.get("word", "")).strip()]
    if not words:
        return _interpolate(texts, seg_start, seg_end)
    timed = _word_tokens(words)
    matcher = difflib.SequenceMatcher(
        None, [_bare(t) for t in texts], [_bare(t[0]) for t in timed], autojunk=False
    )
    known: dict[int, tuple[float, float]] = {}
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            _, start, end = timed[block.b + offset]
            known[block.a + offset] = (start, end)
    times: list[tuple[float, float] | None] = [known.get(k) for k in range(len(texts))]
    # Tokens the words do not account for (edited text) share the time between their timed neighbours.
    index = 0
    while index < len(texts):
        if times[index] is not None:
            index += 1
            continue
        stop = index
        while stop < len(texts) and times[stop] is None:
            stop += 1
        previous = times[index - 1] if index > 0 else None
        following = times[stop] if stop < len(texts) else None
        begin = previous[1] if previous else min(seg_start, following[0] if following else seg_start)
        finish = following[0] if following else max(seg_end, begin)
        for k, span in zip(range(index, stop), _interpolate(texts[index:stop], begin, finish), strict=True):
            times[k] = span
        index = stop
    return [t for t in times if t is not None]


def _tokens(segments: list[dict]) -> list[_Token]:
    ordered = sorted(enumerate(segments), key=lambda item: (float(item[1]["start"]), float(item[1]["end"])))
    tokens: list[_Token] = []
    for position, seg in ordered:
        spans = _tokens_with_spans(str(seg.get("text", "")))
        if not spans:
            continue
        texts = [s[0] for s in spans]
        names = [(int(e["start_char"]), int(e["end_char"])) for e in seg.get("entities") or []]
        joined = _joined_flags([s[1:] for s in spans], names) + [False]
        lyrics = bool(seg.get("lyrics"))
        for text, (start, end), glued in zip(texts, _segment_token_times(seg, texts), joined, strict=True):
            tokens.append(_Token(text, start, end, position, int(seg.get("id", position)), lyrics, glued))
    # Times never run backwards: overlapping or jittery word stamps are clamped to the order of the text.
    for previous, token in itertools.pairwise(tokens):
        token.start = max(token.start, previous.start)
        token.end = max(token.end, token.start)
    return tokens


# Weights of the cue-splitting programme. Violations dominate everything else.
VIOLATION_COST = 100.0
CUE_COST = 1.0  # each extra cue: prefer fewer, fuller cues
SEGMENT_JOIN_COST = 6.0  # a cue spanning two segments: only to fix a violation
SHORT_CUE_COST = 3.0  # a cue of a few characters next to others
SHORT_CUE_CHARS = 15
CUT_WEIGHT = 2.0  # a cue boundary in mid-phrase hurts more than a line break there
MID_SPEECH_CUT_COST = 1.5  # cutting where there is no pause
NATURAL_PAUSE_S = 0.4
CLAUSE_CUT = 0.5  # break_cost after a clause: where a merged cue may take part of a segment
# A sentence starting inside a cue: the viewer reads it before it is said. Dearer than any number of
# short cues, cheaper than a broken rule, so a sentence opens a cue whenever the rules allow it.
SENTENCE_INSIDE_COST = 20.0


UTTERANCE_PAUSE_S = 0.25  # Whisper often writes "Okay, where were you?": a comma and a pause end a line
ONSET_SNAP_S = 0.75  # how far Whisper's word starts miss the voice (tiny.en: 0.15-0.6 s late)


def _starts_sentence(previous: _Token, token: _Token) -> bool:
    """A new sentence (or spoken line) starts at ``token``: after . ? ! (and Hindi ।), after a clause mark
    followed by a pause, or where the voice starts again after silence."""
    ending = previous.text.rstrip(CLOSERS)[-1:]
    if ending in SENTENCE_END or token.voice_onset:
        return True
    return ending in CLAUSE_END and token.start - previous.end >= UTTERANCE_PAUSE_S


def _snap_to_voice(tokens: list[_Token], speech: Sequence[tuple[float, float]]) -> None:
    """Move each token that opens a stretch of voice to where the speech timeline hears it start.

    Whisper's word starts trail the voice (or, for the first word after silence, jump ahead of it) by
    up to ``ONSET_SNAP_S``. A token moves back to a speech onset that lies between the previous word's
    start and its own (never before the previous word's end), or forward to the onset when its stamp
    begins in silence; the word stamps keep their order.
    """
    spans = sorted((float(a), float(b)) for a, b in speech)
    onsets = [a for a, _ in spans]
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        at = bisect.bisect_right(onsets, token.start + 1e-6) - 1
        inside = at >= 0 and token.start <= spans[at][1]
        if (
            at >= 0
            and token.start - onsets[at] <= ONSET_SNAP_S
            and (previous is None or onsets[at] > previous.start)
        ):
            token.start = max(onsets[at], previous.end if previous else onsets[at])
            token.voice_onset = True
        elif (
            not inside
            and at + 1 < len(onsets)
            and onsets[at + 1] - token.start <= ONSET_SNAP_S
            and onsets[at + 1] < token.end
        ):
            token.start = onsets[at + 1]
            token.voice_onset = True


def _cue_times(
    speech_start_ms: int,
    speech_end_ms: int,
    chars: int,
    limit_ms: int | None,
    rules: Rules,
    next_speech: bool = True,
) -> tuple[int, int]:
    """Start and end (ms) of a cue whose speech spans the given times; ``limit_ms``: the latest end that
    keeps the minimum gap to the next speech (``next_speech``) or the end of the film.

    Only to reach ``min_duration``, and only before more speech, may the end pass ``limit_ms``, by up
    to ``max_start_delay_s``: the next cue then starts that much after its voice. So a short
    sentence ("Okay.") gets a cue of its own instead of being glued to the start of the next one.
    """
    start = speech_start_ms
    needed_for_reading = start + math.ceil(chars * 1000.0 / rules.max_cps)
    reading_end = min(needed_for_reading, speech_end_ms + round(rules.max_linger_s * 1000))
    end = max(speech_end_ms, reading_end, start + rules.min_duration_ms)
    end = min(end, start + rules.max_duration_ms)
    if limit_ms is not None:
        grace = rules.max_start_delay_ms if next_speech else 0
        shortest = min(start + rules.min_duration_ms, limit_ms + grace)
        end = min(end, max(limit_ms, shortest))
    return start, max(end, start + 1)


class _Planner:
    """Chooses cue boundaries for a film's tokens, one run at a time, with a dynamic programme."""

    def __init__(self, tokens: list[_Token], rules: Rules, lang: str, media_end_ms: int | None):
        self.tokens = tokens
        self.rules = rules
        self.lang = lang
        self.media_end_ms = media_end_ms
        self.max_text = rules.max_lines * rules.max_chars_per_line
        # running counts of segment changes and sentence starts between neighbouring tokens (entry k:
        # among the pairs before token k): the DP asks them of every candidate (~2,000 a minute of film)
        pairs = list(itertools.pairwise(tokens))
        self._joins = [0, *itertools.accumulate(a.segment != b.segment for a, b in pairs)]
        self._sentence_starts = [0, *itertools.accumulate(_starts_sentence(a, b) for a, b in pairs)]

    def _limit_ms(self, after: int) -> int | None:
        if after + 1 < len(self.tokens):
            return _ms(self.tokens[after + 1].start) - self.rules.min_gap_ms
        return self.media_end_ms

    def cut_cost(self, last: int) -> float:
        """The cost of ending a cue after token ``last`` (0 at the end of the run)."""
        if last + 1 >= len(self.tokens):
            return 0.0
        left, right = self.tokens[last], self.tokens[last + 1]
        if left.segment != right.segment:
            return 0.0
        cost = CUT_WEIGHT * break_cost(left.text, right.text, self.lang)
        if left.joined_to_next:
            cost += PROTECTED_BREAK_COST
        pause = right.start - left.end
        return cost + MID_SPEECH_CUT_COST * max(0.0, 1.0 - pause / NATURAL_PAUSE_S)

    def _clean_edges(self, first: int, last: int) -> bool:
        """Whether the cue's ends that fall inside a segment fall after a clause (for merged cues)."""
        for left in (first - 1, last):
            if not 0 <= left < len(self.tokens) - 1:
                continue
            before, after = self.tokens[left], self.tokens[left + 1]
            inside = before.segment == after.segment
            if inside and break_cost(before.text, after.text, self.lang) > CLAUSE_CUT:
                return False
        return True

    def candidate(
        self, first: int, last: int, reserve: tuple[int, int], previous_end: int | None = None
    ) -> tuple[float, list[str], int] | None:
        """Cost, lines and end (ms) of a cue made of tokens ``first..last`` after a cue that ends at
        ``previous_end`` (ms); None when it is not allowed. The cue starts where :func:`_timed_cues`
        will start it: at its speech, or a gap after the previous cue when that one runs on past it."""
        rules = self.rules
        run = self.tokens[first : last + 1]
        words = [t.text for t in run]
        layout = _layout(
            words, [t.joined_to_next for t in run[:-1]], rules, self.lang, reserve, allow_overlong=True
        )
        if layout is None:
            return None
        single = first == last
        cost = CUE_COST
        lines, layout_cost = layout
        cost += layout_cost
        speech_start, speech_end = _ms(run[0].start), _ms(run[-1].end)
        if not single and speech_end - speech_start > rules.max_duration_ms:
            return None
        chars = reading_chars(lines)
        start = speech_start
        if previous_end is not None:
            start = max(start, previous_end + rules.min_gap_ms)
        start, end = _cue_times(
            start,
            max(speech_end, start),
            chars,
            self._limit_ms(last),
            rules,
            next_speech=last + 1 < len(self.tokens),
        )
        duration_s = (end - start) / 1000.0
        overshoot = 0.0
        cps = chars / duration_s
        if cps > rules.max_cps + 1e-9:
            overshoot += VIOLATION_COST * (1.0 + cps / rules.max_cps)
        if end - start < rules.min_duration_ms:
            overshoot += VIOLATION_COST * (1.0 + (rules.min_duration_ms - (end - start)) / 1000.0)
        joins = self._joins[last] - self._joins[first]  # between its neighbouring tokens
        if joins and (overshoot or layout_cost >= VIOLATION_COST or not self._clean_edges(first, last)):
            return None  # segments are merged only into a cue that conforms, made of whole clauses
        cost += overshoot + joins * SEGMENT_JOIN_COST
        cost += SENTENCE_INSIDE_COST * (self._sentence_starts[last] - self._sentence_starts[first])
        cost += SHORT_CUE_COST * max(0.0, 1.0 - chars / SHORT_CUE_CHARS)
        return cost + self.cut_cost(last), lines, end

    def plan(self, begin: int, stop: int, reserve: tuple[int, int]) -> list[tuple[int, int, list[str]]]:
        """Cues (first, last, lines) covering tokens ``begin..stop-1`` at the least total cost;
        ``reserve``: the characters a line keeps for the song note (see :func:`_layout`)."""
        best: list[float] = [0.0] + [math.inf] * (stop - begin)
        choice: list[tuple[int, list[str]] | None] = [None] * (stop - begin + 1)
        # where the last cue of each best plan ends: a cue that runs on past the next voice delays the
        # cue after it (the next one is costed from there, as it will be timed)
        ends: list[int | None] = [None] * (stop - begin + 1)
        for last in range(begin, stop):
            chars = -1
            for first in range(last, begin - 1, -1):
                chars += len(self.tokens[first].text) + 1
                if first < last and chars > self.max_text:
                    break
                previous = best[first - begin]  # finite: a single token is always a candidate
                option = self.candidate(first, last, reserve, ends[first - begin])
                if option is None:
                    if (
                        first < last
                        and self.tokens[last].end - self.tokens[first].start > self.rules.max_duration
                    ):
                        break
                    continue
                total = previous + option[0]
                if total < best[last - begin + 1]:
                    best[last - begin + 1] = total
                    choice[last - begin + 1] = (first, option[1])
                    ends[last - begin + 1] = option[2]
        cues = []
        cursor = stop - begin
        while cursor > 0:
            picked = choice[cursor]
            assert picked is not None  # a single token is always a candidate
            first, lines = picked
            cues.append((first, begin + cursor - 1, lines))
            cursor = first - begin
        return cues[::-1]


def _runs(tokens: list[_Token], rules: Rules) -> list[tuple[int, int]]:
    """Index ranges of tokens that may share cues: split at long silences and at song boundaries."""
    runs, begin = [], 0
    for index in range(1, len(tokens) + 1):
        if (
            index == len(tokens)
            or tokens[index].start - tokens[index - 1].end > rules.merge_gap_s
            or tokens[index].lyrics != tokens[index - 1].lyrics
        ):
            runs.append((begin, index))
            begin = index
    return runs


def build_cues(
    segments: list[dict],
    rules: Rules,
    lang: str,
    lyrics_style: str = "italic_note",
    media_duration: float | None = None,
    speech: Sequence[tuple[float, float]] | None = None,
) -> list[Cue]:
    """Turn canonical segments into cues that follow ``rules`` wherever the speech allows.

    ``media_duration`` (seconds) caps the end of the last cue. ``speech``: the job's speech timeline
    ((start, end) seconds); with it a cue starts where the voice starts, not where Whisper's (late)
    word stamp says. Cues are in time order, never overlap and keep at least the minimum gap; each
    sentence opens a cue unless that would break a rule (then ``Cue.sentences_mid_cue`` says which);
    their words, read in order, are the words of the segments.
    """
    if lyrics_style not in LYRICS_STYLES:
        raise CinesubError(f"unknown lyrics_style {lyrics_style!r} (use one of {', '.join(LYRICS_STYLES)})")
    tokens = _tokens(segments)
    if speech:
        _snap_to_voice(tokens, speech)
    media_end_ms = _ms(media_duration) if media_duration else None
    plans: list[tuple[int, int, list[str]]] = []
    planner = _Planner(tokens, rules, lang, media_end_ms)
    for begin, stop in _runs(tokens, rules):
        sung = tokens[begin].lyrics and lyrics_style != "plain"
        reserve = (len(NOTE) + 1, len(NOTE) + 1) if sung else (0, 0)
        plans.extend(planner.plan(begin, stop, reserve))
    return _timed_cues(tokens, plans, rules, lyrics_style, media_end_ms)


def _timed_cues(
    tokens: list[_Token],
    plans: list[tuple[int, int, list[str]]],
    rules: Rules,
    lyrics_style: str,
    media_end_ms: int | None,
) -> list[Cue]:
    """Give each planned cue its final times, in order, so no cue overlaps or crowds the one before."""
    cues: list[Cue] = []
    previous_end: int | None = None
    for number, (first, last, lines) in enumerate(plans):
        speech_start, speech_end = _ms(tokens[first].start), _ms(tokens[last].end)
        chars = reading_chars(lines)
        if number + 1 < len(plans):
            limit: int | None = _ms(tokens[plans[number + 1][0]].start) - rules.min_gap_ms
        else:
            limit = media_end_ms
        start, end = _cue_times(speech_start, speech_end, chars, limit, rules, number + 1 < len(plans))
        if previous_end is not None and start < previous_end + rules.min_gap_ms:
            # Overlapping speech: this cue waits for the previous one to clear.
            start = previous_end + rules.min_gap_ms
            end = _cue_times(start, max(speech_end, start), chars, limit, rules, number + 1 < len(plans))[1]
        previous_end = end
        segment_ids = tuple(dict.fromkeys(t.segment_id for t in tokens[first : last + 1]))
        cues.append(
            Cue(
                start=start / 1000.0,
                end=end / 1000.0,
                lines=lines,
                lyrics=tokens[first].lyrics,
                style=lyrics_style if tokens[first].lyrics else "plain",
                speech_start=speech_start / 1000.0,
                speech_end=speech_end / 1000.0,
                segment_ids=segment_ids,
                sentences_mid_cue=_sentences_inside(tokens, first, last, start, rules),
            )
        )
    return cues


def _sentences_inside(
    tokens: list[_Token], first: int, last: int, cue_start_ms: int, rules: Rules
) -> tuple[tuple[str, str], ...]:
    """The sentences that start inside the cue ``first..last``, each with the rule that kept it there:
    what a cue ending just before it would have broken."""
    found = []
    for k in range(first + 1, last + 1):
        if not _starts_sentence(tokens[k - 1], tokens[k]):
            continue
        words = []
        for token in tokens[k : last + 1]:
            words.append(token.text)
            if token.text.rstrip(CLOSERS)[-1:] in SENTENCE_END:
                break
        sentence = " ".join(words)
        before = reading_chars([" ".join(t.text for t in tokens[first:k])])
        limit = _ms(tokens[k].start) - rules.min_gap_ms
        start, end = _cue_times(cue_start_ms, _ms(tokens[k - 1].end), before, limit, rules)
        shown = (end - start) / 1000.0
        if end - start < rules.min_duration_ms:
            pause = tokens[k].start - tokens[k - 1].end
            reason = (
                f"a cue ending before it would be shown {shown:.3f} s < min_duration "
                f"{rules.min_duration:g} s: the sentence starts {pause:.2f} s after the one before"
            )
        elif before / max(shown, 1e-3) > rules.max_cps + 1e-9:
            reason = f"a cue ending before it would be read at {before / shown:.1f} cps > {rules.max_cps:g}"
        else:
            reason = "a cue of its own would break a layout or duration rule"
        found.append((sentence, reason))
    return tuple(found)


# ---------------------------------------------------------------------------------------------------
# Quality control

VIOLATION_KEYS = ("cps", "line_length", "lines", "min_duration", "max_duration", "gap", "overlap")


def _explain(rule: str, cue: Cue, next_cue: Cue | None, rules: Rules) -> str:
    duration = cue.duration_ms() / 1000.0
    if rule == "cps":
        speech = (cue.speech_end - cue.speech_start) if cue.speech_start is not None else duration
        after = "" if next_cue is None else f"; the next cue starts {next_cue.start - cue.end:.3f} s after"
        return (
            f"reading speed {cue.cps():.1f} cps > {rules.max_cps:g}: {cue.reading_chars()} characters "
            f"in {speech:.2f} s of speech, extended by at most "
            f"max_linger_s {rules.max_linger_s:g} s{after}"
        )
    if rule == "line_length":
        too_long = [word for word in cue.text.split() if len(word) > rules.max_chars_per_line]
        if too_long:
            return (
                f"the word {too_long[0]!r} ({len(too_long[0])} characters) is longer than a line "
                f"({rules.max_chars_per_line}); words are never split"
            )
        longest = max(len(line) for line in cue.display_lines())
        return f"a line of {longest} characters > {rules.max_chars_per_line}"
    if rule == "lines":
        return f"{len(cue.lines)} lines > {rules.max_lines}"
    if rule == "min_duration":
        why = "the next cue starts too soon" if next_cue is not None else "the film ends"
        return f"shown {duration:.3f} s < {rules.min_duration:g} s: {why}"
    if rule == "max_duration":
        return f"shown {duration:.3f} s > {rules.max_duration:g} s"
    if rule == "gap":
        assert next_cue is not None
        gap = (_ms(next_cue.start) - _ms(cue.end)) / 1000.0
        return (
            f"gap to the next cue {gap:.3f} s < {rules.min_gap_frames} frames "
            f"({rules.min_gap_ms} ms at {rules.fps:g} fps)"
        )
    assert next_cue is not None
    return f"overlaps the next cue, which starts at {next_cue.start:.3f} s"


def cue_violations(cue: Cue, next_cue: Cue | None, rules: Rules) -> list[str]:
    """The rules (keys of ``VIOLATION_KEYS``) that ``cue`` breaks; gap/overlap look at ``next_cue``."""
    broken = []
    if cue.cps() > rules.max_cps + 1e-9:
        broken.append("cps")
    if any(len(line) > rules.max_chars_per_line for line in cue.display_lines()):
        broken.append("line_length")
    if len(cue.lines) > rules.max_lines:
        broken.append("lines")
    if cue.duration_ms() < rules.min_duration_ms:
        broken.append("min_duration")
    if cue.duration_ms() > rules.max_duration_ms:
        broken.append("max_duration")
    if next_cue is not None:
        gap = _ms(next_cue.start) - _ms(cue.end)
        if gap < 0:
            broken.append("overlap")
        elif gap < rules.min_gap_ms:
            broken.append("gap")
    return broken


def check_cues(cues: Sequence[Cue], rules: Rules) -> dict:
    """QC of ``cues`` (in time order) against ``rules``.

    ``nonconforming`` lists each cue that breaks a rule: its 1-based ``index`` (as numbered in the SRT
    file), times, text, the rules broken and the reason.
    """
    violations = dict.fromkeys(VIOLATION_KEYS, 0)
    nonconforming = []
    for index, cue in enumerate(cues):
        next_cue = cues[index + 1] if index + 1 < len(cues) else None
        broken = cue_violations(cue, next_cue, rules)
        for rule in broken:
            violations[rule] += 1
        if broken:
            nonconforming.append(
                {
                    "index": index + 1,
                    "start": cue.start,
                    "end": cue.end,
                    "text": cue.text,
                    "rules": broken,
                    "reason": "; ".join(_explain(rule, cue, next_cue, rules) for rule in broken),
                }
            )
    return {
        "cues": len(cues),
        "conforming": len(cues) - len(nonconforming),
        "violations": violations,
        "nonconforming": nonconforming,
    }


# ---------------------------------------------------------------------------------------------------
# Output formats


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text of the cues, numbered from 1 (empty string when there are none)."""
    subtitles = [
        srt.Subtitle(
            index=number,
            start=timedelta(milliseconds=_ms(cue.start)),
            end=timedelta(milliseconds=_ms(cue.end)),
            content=cue.markup(),
        )
        for number, cue in enumerate(cues, start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def _vtt_timestamp(seconds: float) -> str:
    total = _ms(seconds)
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text of the cues; ``&``, ``<`` and ``>`` in the words are escaped."""
    captions = [
        webvtt.Caption(
            start=_vtt_timestamp(cue.start), end=_vtt_timestamp(cue.end), text=cue.markup(escape=True)
        )
        for cue in cues
    ]
    return webvtt.WebVTT(captions=captions).content


def cps_histogram(cues: Sequence[Cue], rules: Rules, width: float = 2.0) -> dict:
    """Counts of cues per reading-speed bin of ``width`` cps, for the report."""
    values = [cue.cps() for cue in cues]
    top = max([rules.max_cps * 1.5, *values]) if values else rules.max_cps * 1.5
    edges = [round(width * k, 3) for k in range(int(math.ceil(top / width)) + 1)]
    counts = [0] * max(len(edges) - 1, 1)
    for value in values:
        counts[min(max(bisect.bisect_right(edges, value) - 1, 0), len(counts) - 1)] += 1
    return {"edges": edges, "counts": counts}


# ---------------------------------------------------------------------------------------------------
# Stage edge


def speech_timeline(ctx: Any) -> list[tuple[float, float]] | None:
    """The job's speech timeline when the rule hands one over (``input.speech``), else None (cues then
    start at Whisper's word stamps). The one place 09 reads it."""
    path = optional_input(ctx.input, "speech")
    if path is None:
        return None
    from . import speech  # the job's speech timeline file and its reader (issue 10)

    return speech.load(path)


def run(ctx: Any) -> None:
    """Write ``<lang>.srt`` / ``<lang>.vtt`` (the formats in ``subtitles.formats``) and ``<lang>.qc.json``."""
    lang = str(ctx.params.lang)
    config = settings(dict(ctx.params.subtitles or {}))
    doc = segments_io.load(ctx.input.segments)
    media = mediafile.load(ctx.input.media)
    if doc.get("language") and doc["language"] != lang:
        ctx.log.warning("segments are marked %r but subtitles are written for %r", doc["language"], lang)
    rules = rules_for(lang, config, media.get("fps"))
    lyrics_style = config["lyrics_style"]
    duration = doc.get("duration") or media.get("audio_seconds")
    cues = build_cues(
        doc["segments"],
        rules,
        lang,
        lyrics_style,
        media_duration=float(duration) if isinstance(duration, (int, float)) else None,
        speech=speech_timeline(ctx),
    )
    formats = config["formats"]
    writers = {"srt": to_srt, "vtt": to_vtt}
    for fmt in formats:
        path = getattr(ctx.output, fmt, None)
        if path is None:
            continue
        if fmt not in writers:
            raise ctx.fail(f"unknown subtitle format {fmt!r}")
        write_text_atomic(path, writers[fmt](cues))
    report = check_cues(cues, rules)
    cps_values = [round(cue.cps(), 2) for cue in cues]
    report.update(
        {
            "language": lang,
            "source_stage": doc.get("stage"),
            "segments": len(doc["segments"]),
            "conformance": round(report["conforming"] / report["cues"], 4) if cues else 1.0,
            "rules": dataclasses.asdict(rules) | {"min_gap_ms": rules.min_gap_ms},
            "lyrics_style": lyrics_style,
            "cps": cps_values,
            "cps_histogram": cps_histogram(cues, rules),
            "merged_cues": sum(len(cue.segment_ids) > 1 for cue in cues),
            "sentences_mid_cue": [
                {"index": number, "start": cue.start, "sentence": sentence, "reason": reason}
                for number, cue in enumerate(cues, start=1)
                for sentence, reason in cue.sentences_mid_cue
            ],
            "lyrics_cues": sum(cue.lyrics for cue in cues),
        }
    )
    qcfile.save(ctx.output.qc, report)
    ctx.log.info(
        "%s: %d cues from %d segments, %d conforming (%.1f%%)",
        lang,
        len(cues),
        len(doc["segments"]),
        report["conforming"],
        100.0 * report["conformance"],
    )
