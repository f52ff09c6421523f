"""Film-like song cases with exact truth, for 06_lyrics_detection (tests/test_lyrics.py, bench/songs.py).

Sung passages are what a viewer calls songs: a refrain of two lines sung 3-5 times, each word held on a
note of a melody (espeak-ng with its intonation flattened, then stretched by sox so the vowel is
sustained), over a chord bed with or without a drum beat, or a cappella. The "not a song" cases are
the film's dialogue over music: ordinary sentences over a beat, and short replies over a beat, which
the old detector called songs. Every case opens and closes with plain dialogue.

The speech, beat and noise pieces come from tests/cleanset.py (imported, not copied).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cleanset
import numpy as np

SR = cleanset.SR

# Two-line refrains; each word is sung on one note (espeak-ng pitch 0-99) for ``beats`` beats.
REFRAINS = {
    "moon": [
        ("under the moon under the stars", [40, 45, 60, 40, 45, 70]),
        ("dance with me dance with me tonight", [70, 60, 55, 70, 60, 55, 40]),
    ],
    "river": [
        ("the river runs to the sea", [50, 55, 65, 70, 55, 45]),
        ("my heart goes home to you", [45, 55, 65, 75, 65, 50]),
    ],
}
NOTE_S = 0.55  # one sung word lasts this long (a held vowel, not a spoken syllable)

SHORT_LINES = [
    "Okay.",
    "Yes.",
    "Come here.",
    "Where is he?",
    "Not now.",
    "Thank you.",
    "Bye.",
    "Wait.",
    "Go on.",
    "Really?",
    "Sit down.",
    "No.",
]


def sing_word(word: str, note: int, seconds: float, workdir: Path, voice: str = "en-us+f4") -> np.ndarray:
    """One word sung on one note: espeak-ng with the pitch range flattened, stretched to ``seconds``."""
    key = hashlib.sha1(repr((word, note, seconds, voice)).encode()).hexdigest()[:16]
    out = workdir / f"sung_{key}.wav"
    if not out.exists():
        raw = workdir / f"sung_{key}.raw.wav"
        ssml = f'<speak><prosody range="x-low" rate="slow">{word}</prosody></speak>'
        cleanset._run(["espeak-ng", "-m", "-v", voice, "-p", str(note), "-w", str(raw), ssml])
        plain = workdir / f"sung_{key}.plain.wav"
        cleanset._run(["sox", "-R", str(raw), "-r", str(SR), "-c", "1", str(plain)])
        spoken = len(cleanset._read_mono(plain)) / SR
        # sox tempo keeps the pitch while it slows the word down to the note's length
        cleanset._run(["sox", "-R", str(plain), str(out), "tempo", "-s", f"{max(0.1, spoken / seconds):.4f}"])
    audio = cleanset._read_mono(out)
    return 0.5 * audio / max(1e-6, float(np.abs(audio).max()))


def sung_line(text: str, notes: list[int], workdir: Path) -> np.ndarray:
    words = text.split()
    return np.concatenate([sing_word(w, n, NOTE_S, workdir) for w, n in zip(words, notes, strict=True)])


def chord_bed(workdir: Path, seconds: float) -> np.ndarray:
    """Sustained triads (a pad: slow attack, no onsets), changing every 2.4 s: harmony without a beat."""
    length = 2.4
    chords = [
        cleanset.sox_synth(
            workdir, f"pad_{i}", 3, ["synth", f"{length}", *notes, "fade", "q", "0.4", f"{length}", "0.4"]
        )
        for i, notes in enumerate(
            [
                ["sine", "C3", "sine", "E3", "sine", "G3"],
                ["sine", "A2", "sine", "C3", "sine", "E3"],
                ["sine", "F2", "sine", "A2", "sine", "C3"],
                ["sine", "G2", "sine", "B2", "sine", "D3"],
            ]
        )
    ]
    out = np.concatenate(
        [
            chords[i % 4] / max(1e-6, np.abs(chords[i % 4]).max())
            for i in range(int(np.ceil(seconds / length)))
        ]
    )
    return 0.3 * out[: int(seconds * SR)]


def refrain_song(workdir: Path, refrain: str, repeats: int, bed: str) -> np.ndarray:
    """The refrain sung ``repeats`` times over ``bed``: "beat" (chords and drums), "chords", or "none"."""
    lines = [sung_line(text, notes, workdir) for text, notes in REFRAINS[refrain]]
    pause = np.zeros(int(0.6 * SR), dtype=np.float32)
    voice = np.concatenate([np.concatenate([line, pause]) for _ in range(repeats) for line in lines])
    seconds = len(voice) / SR + 1.0
    if bed == "beat":
        music = cleanset.beat_loop(workdir, seconds)
    elif bed == "chords":
        music = chord_bed(workdir, seconds)
    else:
        music = np.zeros(int(seconds * SR), dtype=np.float32)
    out = music.copy()
    at = int(0.5 * SR)
    out[at : at + len(voice)] += 0.8 * voice
    return out.astype(np.float32)


def over_music(workdir: Path, lines: list[str], gap_s: float, level: float = 0.6) -> tuple[np.ndarray, list]:
    """Dialogue lines over the beat loop (film score); returns the audio and the lines' (start, end, text)."""
    pieces, truth, now = [np.zeros(int(0.5 * SR), dtype=np.float32)], [], 0.5
    for text in lines:
        chunk = cleanset.speak(text, workdir)
        truth.append((now, now + len(chunk) / SR, text))
        pieces += [chunk, np.zeros(int(gap_s * SR), dtype=np.float32)]
        now += (len(chunk) + int(gap_s * SR)) / SR
    voice = np.concatenate(pieces)
    music = cleanset.beat_loop(workdir, len(voice) / SR + 0.5)
    out = level * music[: len(voice)] + voice[: len(music)]
    return out.astype(np.float32), truth


def _case(name: str, middle: np.ndarray, song: bool, middle_lines: list | None = None) -> cleanset.Case:
    """Dialogue / middle / dialogue, with the middle's truth (a song span, or its dialogue lines)."""
    workdir = Path(cleanset._workdir())
    d = cleanset.DIALOGUE
    gap = np.zeros(SR, dtype=np.float32)
    case = cleanset.Case(name=name, audio=np.zeros(0, dtype=np.float32))
    chunks, now = [], 0.0

    def add(chunk, text=None):
        nonlocal now
        if text:
            case.dialogue.append((round(now, 3), round(now + len(chunk) / SR, 3), text))
        chunks.append(chunk)
        now += len(chunk) / SR

    for text in d[:2]:
        add(gap)
        add(cleanset.speak(text, workdir), text)
    add(gap)
    start = now
    if song:
        case.song = (round(start, 3), round(start + len(middle) / SR, 3))
    for s, e, text in middle_lines or []:
        case.dialogue.append((round(start + s, 3), round(start + e, 3), text))
    add(middle)
    for text in d[2:4]:
        add(gap)
        add(cleanset.speak(text, workdir), text)
    add(gap)
    case.dialogue.sort()
    case.audio = np.concatenate(chunks).astype(np.float32)
    return case


def build_cases() -> dict[str, cleanset.Case]:
    """The song set: four sung cases and two dialogue-over-music cases."""
    workdir = Path(cleanset._workdir())
    talk, talk_truth = over_music(workdir, cleanset.BABBLE_TEXTS[:5], gap_s=1.5)
    short, short_truth = over_music(workdir, SHORT_LINES, gap_s=1.8)
    return {
        "refrain_beat": _case("refrain_beat", refrain_song(workdir, "moon", 4, "beat"), True),
        "refrain_chords": _case("refrain_chords", refrain_song(workdir, "river", 3, "chords"), True),
        "refrain_chords_long": _case("refrain_chords_long", refrain_song(workdir, "moon", 5, "chords"), True),
        "a_cappella": _case("a_cappella", refrain_song(workdir, "river", 4, "none"), True),
        "dialogue_over_beat": _case("dialogue_over_beat", talk, False, talk_truth),
        "short_lines_over_beat": _case("short_lines_over_beat", short, False, short_truth),
    }
