"""Film-like measurement cases with exact truth: dialogue as a film has it, not as our own stages like it.

Built from tests/cleanset.py's synthesis helpers (espeak-ng speech, sox chords/drums/noise, babble), laid
out on one timeline so every sentence's start, end and text is known:

- long stretches (10-120 s) of silence, music, noise and speech-like babble between lines, the stretches
  that make the engine's VAD join speech across them into one segment;
- short, formulaic, numeric and repeated real lines ("Bye.", "Okay.", "Room 42.", a sign-off on the
  hallucination phrase list, the same question asked again and again);
- dialogue spoken over music with a beat (dialogue, not a song);
- the existing clean-transcripts cases (cleanset.build_cases).

Cases register in ``CASES`` with ``@register``: the songs work adds its sung-refrain cases the same way
(``kind="song"`` marks a case whose truth has a song span). Used by tests/test_dialogue.py and
bench/dialogue_set.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cleanset
import numpy as np
from cleanset import SR, Case

# name -> builder; the order is the order of the bench table
CASES: dict[str, Callable[[], Case]] = {}
KINDS: dict[str, str] = {}


def register(name: str, kind: str = "dialogue") -> Callable[[Callable[[], Case]], Callable[[], Case]]:
    """Add a case builder to the measured set (``kind``: dialogue, song, cleanset)."""

    def add(builder: Callable[[], Case]) -> Callable[[], Case]:
        CASES[name] = builder
        KINDS[name] = kind
        return builder

    return add


class Timeline:
    """Audio pieces appended in order, with the truth (sentences, non-speech spans, song) kept exact."""

    def __init__(self, name: str):
        self.case = Case(name=name, audio=np.zeros(0, dtype=np.float32))
        self.pieces: list[np.ndarray] = []
        self.now = 0.0
        self.workdir = Path(cleanset._workdir())

    def _append(self, samples: np.ndarray) -> tuple[float, float]:
        span = (round(self.now, 3), round(self.now + len(samples) / SR, 3))
        self.pieces.append(samples.astype(np.float32))
        self.now += len(samples) / SR
        return span

    def say(self, text: str, bed: np.ndarray | None = None, **voice) -> Timeline:
        """A spoken line; ``bed`` (already long enough) is mixed under it, e.g. music with a beat."""
        speech = cleanset.speak(text, self.workdir, **voice)
        if bed is not None:
            speech = speech + bed[: len(speech)]
        start, end = self._append(speech)
        self.case.dialogue.append((start, end, text))
        return self

    def pause(self, seconds: float) -> Timeline:
        """Silence between lines; from 4 s up it is a stretch where no words may appear."""
        start, end = self._append(np.zeros(int(seconds * SR)))
        if seconds >= 4:
            self.case.nonspeech.append((start + 0.5, end - 0.5))
        return self

    def stretch(self, kind: str, seconds: float) -> Timeline:
        """A stretch with no dialogue: ``music`` (chords over drums), ``noise`` (brown noise, a fan or
        traffic) or ``babble`` (a crowd of reversed voices)."""
        if kind == "music":
            samples = cleanset.beat_loop(self.workdir, seconds)
        elif kind == "babble":
            samples = cleanset.babble(self.workdir, seconds)
        elif kind == "noise":
            noise = cleanset.sox_synth(
                self.workdir, f"brown_{seconds:g}", 1, ["synth", f"{seconds:g}", "brownnoise"]
            )
            samples = 0.15 * noise / max(1e-6, float(np.abs(noise).max()))
        else:
            raise ValueError(f"unknown stretch {kind!r}")
        self.case.nonspeech.append(self._append(samples))
        return self

    def build(self) -> Case:
        self.case.audio = np.concatenate(self.pieces).astype(np.float32)
        return self.case


DIALOGUE = cleanset.DIALOGUE


@register("gap_silence")
def gap_silence() -> Case:
    """Lines 10, 45 and 120 s apart in silence."""
    t = Timeline("gap_silence").pause(2).say(DIALOGUE[0]).pause(10).say(DIALOGUE[1]).pause(45)
    return t.say(DIALOGUE[2]).pause(1).say(DIALOGUE[3]).pause(120).say(DIALOGUE[4]).pause(2).build()


@register("gap_music")
def gap_music() -> Case:
    """Instrumental breaks (a beat, chords) of 20 and 40 s between lines."""
    t = Timeline("gap_music").pause(1).say(DIALOGUE[5]).pause(1).stretch("music", 20).pause(1)
    t.say(DIALOGUE[1]).pause(0.8).say(DIALOGUE[2]).pause(1).stretch("music", 40).pause(1)
    return t.say(DIALOGUE[3]).pause(2).build()


@register("gap_noise")
def gap_noise() -> Case:
    """Brown noise (a fan, traffic) of 15 and 30 s between lines."""
    t = Timeline("gap_noise").pause(1).say(DIALOGUE[2]).pause(1).stretch("noise", 15).pause(1)
    t.say(DIALOGUE[4]).pause(1).stretch("noise", 30).pause(1).say(DIALOGUE[0]).pause(0.8)
    return t.say(DIALOGUE[5]).pause(2).build()


@register("gap_babble")
def gap_babble() -> Case:
    """A crowd (speech-like babble, no words) of 12 and 25 s between lines."""
    t = Timeline("gap_babble").pause(1).say(DIALOGUE[3]).pause(1).stretch("babble", 12).pause(1)
    t.say(DIALOGUE[1]).pause(1).stretch("babble", 25).pause(1).say(DIALOGUE[4])
    return t.pause(2).build()


SHORT_LINES = ["Bye.", "Okay.", "Thank you, Ravi.", "See you next time.", "Good night, mother.", "Yes."]


@register("short_lines")
def short_lines() -> Case:
    """Short and formulaic real lines, some of them on the hallucination phrase list."""
    t = Timeline("short_lines").pause(1).say(DIALOGUE[0]).pause(1.2)
    for line in SHORT_LINES:
        t.say(line).pause(1.6)
    return t.say(DIALOGUE[1]).pause(2).build()


NUMBER_LINES = ["Room 42.", "It costs 500 rupees.", "The train leaves at 9.", "Call me at 7."]


@register("numbers")
def numbers() -> Case:
    """Lines that are, or hold, numbers (digits are not letters)."""
    t = Timeline("numbers").pause(1)
    for line in NUMBER_LINES:
        t.say(line).pause(1.8)
    return t.say(DIALOGUE[5]).pause(2).build()


REPEATED_LINE = "Where are you going?"


@register("repeated")
def repeated() -> Case:
    """The same real question four times, and a reply three times: a repeated line is still dialogue."""
    t = Timeline("repeated").pause(1).say(DIALOGUE[2]).pause(1)
    for _ in range(4):
        t.say(REPEATED_LINE).pause(1.6)
    for _ in range(3):
        t.say("No.").pause(1.6)
    return t.say(DIALOGUE[3]).pause(2).build()


@register("dialogue_over_beat")
def dialogue_over_beat() -> Case:
    """Ordinary dialogue spoken over music with a steady beat, short lines included: not a song."""
    t = Timeline("dialogue_over_beat").pause(1)
    bed = 0.5 * cleanset.beat_loop(t.workdir, 60.0)
    lines = [DIALOGUE[4], "Okay.", DIALOGUE[0], "Come with me.", DIALOGUE[5], "Not now."]
    for i, line in enumerate(lines):
        t.say(line, bed=bed[int(i * 5 * SR) :]).pause(1)
    return t.pause(1).build()


def _cleanset_case(name: str) -> Callable[[], Case]:
    def build() -> Case:
        return cleanset.build_cases()[name]

    return build


for _name in ("silence", "music", "noise", "song"):
    register(f"cleanset_{_name}", kind="song" if _name == "song" else "cleanset")(_cleanset_case(_name))


def build(name: str) -> Case:
    case = CASES[name]()
    case.name = name
    return case
