"""04_asr: speech to canonical segments with word timestamps.

One interface, two engines: faster-whisper (CPU or GPU, CTranslate2) and WhisperX (batched
inference + wav2vec2 word alignment; its conda env or .venv-whisperx). Either way the audio is
read and transcribed in bounded windows cut at quiet points, so memory stays flat however
long the film is, and progress (percent of audio done) goes to the log as it goes.

Jobs not in English take the measured decode settings of ``asr.non_english``; every segment's script is
checked (:func:`check_scripts`, :mod:`cinesub.writing_system`): Hindi written in Urdu script comes out in
Devanagari, any other wrong script is flagged as the decode failure it is.
faster-whisper decodes only the speech of the job's speech timeline (01_demux/speech.json, Silero VAD
run once per job), and every segment is split where its words are far apart or the timeline hears no
speech between them (``split_segment``): no later stage sees a segment spanning a long silence.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from . import bundled
from . import speech as speechlib
from .errors import CinesubError
from .modelcheck import ALIGN_MODELS, alignment_model_for, is_offline, looks_like_path  # noqa: F401
from .progress import Progress, clock_text
from .runner import optional_input
from .segments import new_document, save

STAGE = "04_asr"
PACKAGES = ("faster-whisper", "ctranslate2", "whisperx")  # the libraries whose versions its manifest records
SECTION = "asr"  # the config section its rule passes as params (section_params)
BUNDLED = "tiny.en-bundled"
SEARCH_TAIL_S = 30.0  # where to look for a quiet cut point at the end of a window
FRAME_S = 0.1
MAX_CHUNK_S = 24.0  # batched decoding: longest chunk of speech (Whisper sees 30 s at a time)
WHISPER_WINDOW_S = 30.0  # the audio Whisper decodes at a time
MAX_KEPT_PAUSE_S = 2.0  # batched decoding: longer silences are cut out of the audio the model sees
# faster-whisper's own VadOptions defaults: the timeline's spans are merged and padded like its VAD's
# chunks, so the decoder sees the audio it would have seen with vad_filter (measured: same WER)
ENGINE_MERGE_S = 2.0
ENGINE_PAD_S = 0.4

log = logging.getLogger("cinesub")


class Engine(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, speech: list[tuple[float, float]] | None = None) -> list[dict]:
        """Segments for one window of 16 kHz float32 audio, times relative to the window; ``speech``:
        the window's speech spans (relative seconds) from the job's timeline, None to decode it all."""


# ------------------------------------------------------------------ pure core


def find_cut(samples: np.ndarray, sample_rate: int, search_s: float = SEARCH_TAIL_S) -> int:
    """Sample index of the quietest 100 ms frame in the last ``search_s`` seconds.

    Cutting a window there (instead of at a fixed length) avoids splitting a word.
    """
    frame = max(1, int(FRAME_S * sample_rate))
    first = max(0, len(samples) - int(search_s * sample_rate))
    tail = samples[first:]
    usable = (len(tail) // frame) * frame
    if usable < frame:
        return len(samples)
    energy = np.square(tail[:usable].astype(np.float64)).reshape(-1, frame).mean(axis=1)
    quietest = int(np.argmin(energy[::-1]))  # ties resolve to the latest frame: longer windows
    index = len(energy) - 1 - quietest
    return first + index * frame + frame // 2


def clean_words(words: list[dict], seg_start: float, seg_end: float) -> list[dict]:
    """Drop empty words, fill missing times from neighbours and keep times inside the segment."""
    kept = [w for w in words if str(w.get("word", "")).strip()]
    cleaned = []
    for i, word in enumerate(kept):
        start = word.get("start")
        end = word.get("end")
        if start is None:
            start = cleaned[-1]["end"] if cleaned else seg_start
        if end is None:
            following = next((w.get("start") for w in kept[i + 1 :] if w.get("start") is not None), None)
            end = following if following is not None else seg_end
        start = min(max(float(start), seg_start), seg_end)
        end = min(max(float(end), start), seg_end)
        prob = word.get("probability", word.get("score"))
        cleaned.append(
            {
                "word": str(word["word"]).strip(),
                "start": round(start, 3),
                "end": round(end, 3),
                "probability": None if prob is None else round(min(max(float(prob), 0.0), 1.0), 4),
            }
        )
    return cleaned


def to_canonical(raw: dict, offset: float) -> dict | None:
    """One engine segment (times relative to its window) → a canonical segment, or None if empty."""
    text = " ".join(str(raw.get("text", "")).split())
    if not text:
        return None
    start = round(max(0.0, float(raw["start"]) + offset), 3)
    end = round(max(start, float(raw["end"]) + offset), 3)
    words = [
        dict(
            w,
            start=None if w.get("start") is None else w["start"] + offset,
            end=None if w.get("end") is None else w["end"] + offset,
        )
        for w in raw.get("words") or []
    ]
    segment: dict[str, Any] = {
        "id": 0,
        "start": start,
        "end": end,
        "text": text,
        "words": clean_words(words, start, end),
    }
    for key in ("avg_logprob", "no_speech_prob", "compression_ratio"):
        value = raw.get(key)
        segment[key] = None if value is None else round(float(value), 4)
    if segment["no_speech_prob"] is not None:
        segment["no_speech_prob"] = min(max(segment["no_speech_prob"], 0.0), 1.0)
    return segment


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_s: float = 0.01) -> np.ndarray:
    """RMS level of each 10 ms frame in dB (cheap: one pass of numpy over the window)."""
    frame = max(1, int(frame_s * sample_rate))
    usable = (len(samples) // frame) * frame
    if usable == 0:
        return np.zeros(0)
    frames = samples[:usable].reshape(-1, frame)
    # summed in float64 without a float64 copy of the window (a 10-min window: 77 MB, 0.2 s)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frame
    return 10.0 * np.log10(power + 1e-12)


def refine_edges(
    segment: dict,
    levels: np.ndarray,
    offset: float,
    frame_s: float = 0.01,
    search_s: float = 0.8,
    rise_db: float = 15.0,
) -> None:
    """Snap a segment's first word start and last word end to where the voice really starts/stops.

    Whisper's word times drift early after silences by up to ~0.7 s; the onset is the first
    10 ms frame within ``search_s`` that rises ``rise_db`` above the quiet floor of the
    segment's surroundings (an adaptive threshold, so a music bed raises it too).
    """
    words = segment.get("words") or []
    if not words or len(levels) == 0:
        return

    def index(t: float) -> int:
        return int(min(max((t - offset) / frame_s, 0), len(levels) - 1))

    lo, hi = index(segment["start"] - search_s), index(segment["end"] + search_s)
    span = levels[lo : hi + 1]
    if len(span) < 10:
        return
    threshold = float(np.percentile(span, 10)) + rise_db
    first, last = words[0], words[-1]
    start_lo, start_hi = index(first["start"] - 0.2), index(min(first["end"], first["start"] + search_s))
    onset = _onset(levels[start_lo : start_hi + 1] >= threshold)
    if onset is not None:
        first["start"] = round(min(offset + (start_lo + onset) * frame_s, first["end"]), 3)
    end_lo, end_hi = index(max(last["start"], last["end"] - search_s)), index(last["end"] + 0.3)
    offset_frame = _offset(levels[end_lo : end_hi + 1] >= threshold)
    if offset_frame is not None:
        last["end"] = round(max(offset + (end_lo + offset_frame + 1) * frame_s, last["start"]), 3)
    segment["start"], segment["end"] = words[0]["start"], max(words[-1]["end"], words[0]["start"])


def _close_gaps(voiced: np.ndarray, max_gap: int = 5) -> np.ndarray:
    """Treat pauses shorter than ``max_gap`` frames (stop consonants) as voiced."""
    filled = voiced.copy()
    gap_start = None
    for i, flag in enumerate(voiced):
        if not flag and gap_start is None:
            gap_start = i
        elif flag and gap_start is not None:
            if gap_start > 0 and i - gap_start < max_gap:
                filled[gap_start:i] = True
            gap_start = None
    return filled


def _onset(voiced: np.ndarray) -> int | None:
    """First voiced frame; if the search starts inside sound (the previous line's tail),
    the first voiced frame after a gap."""
    voiced = _close_gaps(voiced)
    if not voiced.any():
        return None
    if voiced[0]:
        quiet = np.flatnonzero(~voiced)
        if not len(quiet):
            return None
        after = np.flatnonzero(voiced[quiet[0] :])
        return int(quiet[0] + after[0]) if len(after) else None
    return int(np.flatnonzero(voiced)[0])


def _offset(voiced: np.ndarray) -> int | None:
    """Last voiced frame of the first run of sound (the next line may follow after a gap)."""
    voiced = _close_gaps(voiced)
    runs = np.flatnonzero(voiced)
    if not len(runs):
        return None
    first_quiet_after = np.flatnonzero(~voiced[runs[0] :])
    return int(runs[0] + first_quiet_after[0] - 1) if len(first_quiet_after) else None


def split_segment(segment: dict, speech: list[tuple[float, float]] | None, max_gap_s: float) -> list[dict]:
    """A canonical segment cut between words more than ``max_gap_s`` apart, or with at least that much
    silence between them in the speech timeline (measured between word midpoints, so a word Whisper
    stretched over a silence still counts). Word times are kept; each part's start and end become the span
    of its words and it keeps the segment's decode checks (avg_logprob, no_speech_prob, ...)."""
    words = segment.get("words") or []
    if not words:
        return [segment]
    groups: list[list[dict]] = [[words[0]]]
    for previous, word in zip(words, words[1:], strict=False):
        gap = word["start"] - previous["end"]
        silent = 0.0
        if speech is not None:
            middle_a = (previous["start"] + previous["end"]) / 2
            middle_b = (word["start"] + word["end"]) / 2
            silent = speechlib.longest_silence(speech, middle_a, middle_b)
        if gap > max_gap_s or silent >= max_gap_s:
            groups.append([word])
        else:
            groups[-1].append(word)
    parts = []
    for group in groups:
        part = dict(
            segment, words=group, start=group[0]["start"], end=max(group[-1]["end"], group[0]["start"])
        )
        part["text"] = segment["text"] if len(groups) == 1 else " ".join(w["word"] for w in group)
        parts.append(part)
    return parts


SENTENCE_END = re.compile(r"[.?!।॥…][\"'”’)\]]*$")
# words whose full stop does not end a sentence
# Batched chunks come back without timestamp tokens, and tiny.en often leaves short lines unpunctuated
# ("...at the station Bye Okay Room 42 Where are you going?" as one text): a silence of the timeline this
# long between two words ends a segment too, as sequential decoding's timestamp tokens would end it.
# Its words' times run edge to edge across the silence, so the cut is found near it, not as a gap.
SENTENCE_PAUSE_S = 0.8
PAUSE_TOLERANCE_S = 0.3
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "prof.", "vs.", "no.", "etc."})


def split_sentences(segment: dict, pauses: list[tuple[float, float]] = ()) -> list[dict]:
    """An engine segment decoded without timestamp tokens (a whole batched chunk) cut after each word that
    ends a sentence, and at each of ``pauses`` (silences of the speech timeline) inside its words: at the
    word boundary nearest the pause's middle, when that boundary lies within PAUSE_TOLERANCE_S of the pause.
    Each part spans its words and keeps the segment's decode checks (avg_logprob, no_speech_prob, ...); a
    segment without words, or of one sentence, comes back as it is."""
    words = segment.get("words") or []
    cuts = {
        i
        for i, w in enumerate(words)
        if SENTENCE_END.search(w["word"].strip()) and w["word"].strip().lower() not in ABBREVIATIONS
    }
    timed = [w for w in words if w["start"] is not None and w["end"] is not None]
    ends = [(i, w["end"]) for i, w in enumerate(words[:-1]) if w["end"] is not None]
    for a, b in pauses:
        # words heard before the pause and after it, or it is not inside this segment
        if not (timed and timed[0]["start"] < a and timed[-1]["end"] > b):
            continue
        middle = (a + b) / 2
        boundaries = [
            (abs(end - middle), i) for i, end in ends if a - PAUSE_TOLERANCE_S <= end <= b + PAUSE_TOLERANCE_S
        ]
        if boundaries and not {i for _, i in boundaries} & cuts:  # a sentence already ends there
            cuts.add(min(boundaries)[1])
    groups: list[list[dict]] = [[]]
    for index, word in enumerate(words):
        groups[-1].append(word)
        if index in cuts:
            groups.append([])
    groups = [group for group in groups if group]
    if len(groups) < 2:
        return [segment]
    parts = []
    for group in groups:
        start = next((w["start"] for w in group if w["start"] is not None), segment["start"])
        end = next((w["end"] for w in reversed(group) if w["end"] is not None), segment["end"])
        text = "".join(w["word"] for w in group).strip()
        parts.append(dict(segment, start=start, end=max(start, end), words=group, text=text))
    return parts


def engine_chunks(
    speech: list[tuple[float, float]], pad_s: float, duration: float, merge_s: float = ENGINE_MERGE_S
) -> list[tuple[float, float]]:
    """The timeline's speech spans (found with ``pad_s`` padding) as the chunks faster-whisper's own VAD
    would give its decoder: pauses under ``merge_s`` joined (also before the end of the audio), then
    ENGINE_PAD_S of padding, split in the middle where padded neighbours would overlap. ``merge_s`` 0:
    every span keeps its own chunk, padded as the decoder's would be."""
    merged: list[list[float]] = []
    for start, end in speech:
        start, end = start + pad_s, max(start + pad_s, end - pad_s)
        if merged and start - merged[-1][1] < merge_s:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged and duration - merged[-1][1] < merge_s:
        merged[-1][1] = duration  # Silero ends the last span only after that much silence
    chunks = []
    for i, (start, end) in enumerate(merged):
        before = merged[i - 1][1] if i else None
        after = merged[i + 1][0] if i + 1 < len(merged) else None
        lo = (
            start - ENGINE_PAD_S
            if before is None or start - before >= 2 * ENGINE_PAD_S
            else (before + start) / 2
        )
        hi = end + ENGINE_PAD_S if after is None or after - end >= 2 * ENGINE_PAD_S else (end + after) / 2
        chunks.append((max(0.0, lo), min(duration, hi)))
    return [(a, b) for a, b in chunks if b > a]


def decode_options(settings: dict, language: str, prompt: str | None) -> dict:
    """The decoding options shared by both engines, from the ``asr`` config section."""
    return {
        "language": language,
        "beam_size": settings["beam_size"],
        "temperature": list(settings["temperatures"]),
        "compression_ratio_threshold": settings["compression_ratio_threshold"],
        "log_prob_threshold": settings["log_prob_threshold"],
        "no_speech_threshold": settings["no_speech_threshold"],
        "condition_on_previous_text": settings["condition_on_previous_text"],
        "word_timestamps": settings["word_timestamps"],
        "initial_prompt": prompt or None,
    }


def hotword_use(
    policy: bool | str, hotwords: str | None, batched: bool, prompt: str | None
) -> tuple[str | None, str | None]:
    """(hotwords for the batched pass, hotwords for sequential decoding) under ``asr.use_glossary_hotwords``.

    ``auto``: the glossary's names only on the batched pass, and only when no prompt already carries
    them. Measured on tiny.en (bench/batched_accuracy.py): there they spelled a name the batched pass
    misheard ("Mirror" for Meera) and kept every other line, with no name invented on speech with
    sound-alike words; in sequential decoding, with timestamp tokens, the same names ran sentences
    together (58 segments for the 10-min film's 117 sentences, WER 0.109 against 0.087 without them).
    """
    if not hotwords or policy is False:
        return None, None
    if policy is True:
        return (hotwords if batched else None), hotwords
    return (hotwords if batched and not prompt else None), None


def language_settings(settings: dict, language: str) -> dict:
    """The ``asr`` settings for a job in ``language``: jobs not in English take the decode settings of
    ``asr.non_english`` (measured on Hindi, bench/hindi_decode.py) over the top-level ones."""
    if language == "en":
        return settings
    chosen = {**settings, **settings["non_english"]}
    if settings["backend"] == "whisperx":
        chosen["batch_size"] = settings["batch_size"]  # WhisperX always batches: its size only sets speed
    return chosen


def script_options(model: Any, settings: dict, language: str) -> dict:
    """faster-whisper options that keep a multilingual decoder in the language's scripts
    (``script_constraint``: suppress every token spelling other scripts' letters, marks or punctuation)."""
    if language == "en" or not model.model.is_multilingual or not settings["script_constraint"]:
        return {}
    from .writing_system import suppress_ids_for

    return {"suppress_tokens": suppress_ids_for(model, language)}


def check_scripts(segments: list[dict], language: str, settings: dict) -> dict:
    """Check each segment's script; transliterate those in a script of the same spoken language
    (Hindi written in Urdu script) when ``transliterate_script`` is on; flag the rest as wrong-script
    decode failures (07 removes them). Changes ``segments`` in place; returns the counts."""
    from .writing_system import romanized_to_native, script_report, transliterate

    counts = {"segments": len(segments), "transliterated": 0, "wrong_script": 0}
    for segment in segments:
        report = script_report(segment["text"], language)
        if report["status"] == "ok":
            continue
        source = next(iter(report["scripts"]))
        # transliterate_script is a non_english setting (language_settings): an English job has none
        if report["status"] == "transliterable" and language != "en" and settings["transliterate_script"]:
            original = segment["text"]
            line = transliterate(original, language, source)
            segment["text"] = romanized_to_native(line, language)
            for word in segment.get("words") or []:
                word["word"] = romanized_to_native(
                    transliterate(word["word"], language, source), language, line
                )
            note = {"transliterated_from": source, "original": original}
            counts["transliterated"] += 1
        else:
            note = {"wrong_script": report["scripts"]}
            counts["wrong_script"] += 1
        segment.setdefault("flags", {}).setdefault(STAGE, {}).update(note)
    return counts


def join_short_pauses(stamps: list[dict], max_pause: int, max_length: int) -> list[dict]:
    """VAD speech regions (``start``/``end`` in samples, in order) with every pause of at most
    ``max_pause`` samples kept inside one region of at most ``max_length`` samples: batched decoding
    cuts only the longer silences out. (Measured: with every pause cut out the demo lost a name; with
    a 12 s silence left in, the sentences either side of it lost words.)"""
    joined: list[dict] = []
    for stamp in stamps:
        if (
            joined
            and stamp["start"] - joined[-1]["end"] <= max_pause
            and stamp["end"] - joined[-1]["start"] <= max_length
        ):
            joined[-1] = {"start": joined[-1]["start"], "end": stamp["end"]}
        else:
            joined.append({"start": stamp["start"], "end": stamp["end"]})
    return joined


def group_speech(regions: list[tuple[float, float]], max_chunk_s: float) -> list[dict]:
    """Speech regions (start, end seconds, in order) grouped into chunks of at most ``max_chunk_s`` of
    speech, cut only in the pauses between regions (a region longer than that stays alone). The pauses
    between regions do not count: the batched decoder sees each chunk with them taken out, as sequential
    decoding with VAD does (short pauses stay inside the regions: ``join_short_pauses``)."""
    chunks: list[dict] = []
    for start, end in regions:
        if chunks and chunks[-1]["speech_s"] + (end - start) <= max_chunk_s:
            chunks[-1]["end"] = end
            chunks[-1]["regions"].append((start, end))
            chunks[-1]["speech_s"] += end - start
        else:
            chunks.append({"start": start, "end": end, "regions": [(start, end)], "speech_s": end - start})
    return chunks


def chunk_of(segment: dict, chunks: list[dict]) -> int:
    """Index of the chunk that holds the segment's midpoint (else the nearest chunk)."""
    middle = (segment["start"] + segment["end"]) / 2

    def distance(chunk: dict) -> float:
        return max(chunk["start"] - middle, middle - chunk["end"], 0.0)

    return min(range(len(chunks)), key=lambda i: distance(chunks[i]))


def needs_redecode(chunk: dict, segments: list[dict], settings: dict, min_region_s: float = 0.5) -> bool:
    """True when a batched (temperature 0, no fallback) result for ``chunk`` cannot be trusted: a segment
    fails the compression-ratio or log-probability check, a speech region got no text at all, or the
    chunk was cut out of longer speech (``cut``)."""
    if chunk.get("cut"):
        return True
    for segment in segments:
        ratio, logprob = segment.get("compression_ratio"), segment.get("avg_logprob")
        if ratio is not None and ratio > settings["compression_ratio_threshold"]:
            return True
        if logprob is not None and logprob < settings["log_prob_threshold"]:
            return True
    for start, end in chunk["regions"]:
        if end - start >= min_region_s and not any(s["start"] < end and s["end"] > start for s in segments):
            return True
    return False


# ---------------------------------------------------------------- model files


def resolve_model(name: str, cache_dir: str = "") -> str:
    """A local CTranslate2 model directory for ``name`` (bundled, a path, or a Hub name/id)."""
    if bundled.is_bundled(name):
        return bundled.model_dir(name, cache_dir)
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        if not os.path.isfile(os.path.join(expanded, "model.bin")):
            raise CinesubError(
                f"ASR model directory {name} has no model.bin (not a CTranslate2 Whisper model)"
            )
        return expanded
    if looks_like_path(name):
        raise CinesubError(f"ASR model directory not found: {name}")
    from faster_whisper.utils import download_model

    offline = is_offline()
    try:
        return download_model(name, cache_dir=cache_dir or None, local_files_only=offline)
    except Exception as exc:  # noqa: BLE001 - hub, network and value errors all mean "not available"
        where = cache_dir or "the Hugging Face cache (HF_HOME)"
        raise CinesubError(
            f"ASR model {name!r} is not available in {where}"
            f"{' and HF_HUB_OFFLINE is set' if offline else ''} ({type(exc).__name__}); "
            "fetch it on a machine with internet: make models"
        ) from None


# -------------------------------------------------------------------- engines


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, settings: dict, language: str, prompt: str | None, hotwords: str | None = None):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        path = resolve_model(settings["model"], settings["model_cache"])
        device = settings["device"]
        try:
            self.model = WhisperModel(
                path, device=device, compute_type=settings["compute_type"], cpu_threads=settings["threads"]
            )
        except (RuntimeError, ValueError) as exc:
            raise CinesubError(f"cannot load ASR model {settings['model']} on {device}: {exc}") from None
        if not self.model.model.is_multilingual and language != "en":
            raise CinesubError(
                f"ASR model {settings['model']} is English-only but the job's language is "
                f"{language}; use a multilingual model such as large-v3"
            )
        if settings["use_glossary_prompt"] == "auto" and not self.model.model.is_multilingual:
            prompt = None  # measured: prompts make English-only tiny models merge sentences and err more
        self.prompt = prompt
        self.batched = BatchedInferencePipeline(self.model) if settings["batch_size"] > 1 else None
        self.batch_size = settings["batch_size"]
        self.max_chunk_s = MAX_CHUNK_S
        self.settings = settings
        self.options = decode_options(settings, language, prompt)
        # used only without a speech timeline: with one, the timeline replaces faster-whisper's own VAD
        self.options["vad_filter"] = settings["vad"]
        self.options.update(script_options(self.model, settings, language))
        self.batched_hotwords, self.options["hotwords"] = hotword_use(
            settings["use_glossary_hotwords"], hotwords, batched=self.batched is not None, prompt=self.prompt
        )
        self.hotwords = self.batched_hotwords or self.options["hotwords"]
        self.model_path = path
        self.redecoded_chunks = 0

    def transcribe(self, audio: np.ndarray, speech: list[tuple[float, float]] | None = None) -> list[dict]:
        if not self.settings["vad"]:
            speech = None
        if self.batched is None:
            return self._transcribe_sequential(audio, speech)
        return self._transcribe_batched(audio, speech)

    def _transcribe_sequential(
        self, audio: np.ndarray, speech: list[tuple[float, float]] | None
    ) -> list[dict]:
        """faster-whisper's vad_filter path, fed the timeline's chunks: speech concatenated, decoded,
        times restored to the window's clock."""
        if speech is None:
            raw, _ = self.model.transcribe(audio, **self.options)
            # lazily: each segment reaches the caller (and the progress report) as soon as it is decoded
            return (_segment_dict(seg) for seg in raw)
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import collect_chunks

        rate = 16000
        chunks = [
            {"start": int(round(a * rate)), "end": int(round(b * rate))}
            # speech_pad_s: the timeline's own padding (its vad.pad_ms), set by run from speech.json
            for a, b in engine_chunks(speech, float(self.settings["speech_pad_s"]), len(audio) / rate)
        ]
        if not chunks:
            return []
        pieces, _ = collect_chunks(audio, chunks)
        raw, _ = self.model.transcribe(np.concatenate(pieces), **dict(self.options, vad_filter=False))
        return (_segment_dict(seg) for seg in restore_speech_timestamps(raw, chunks, rate))

    def _transcribe_batched(self, audio: np.ndarray, speech: list[tuple[float, float]] | None) -> list[dict]:
        """Batch bounded chunks cut at pauses, then re-decode sequentially (with temperature fallback)
        any chunk whose batched result fails the quality checks or misses a speech region. The re-decode
        hears the chunk's own speech regions, as sequential decoding does: running faster-whisper's VAD
        again there found other edges in babble, and Whisper looped on them (bench/batched_accuracy.py).

        Chunks stay under ``max_chunk_s`` (default 24 s) because Whisper drops a last sentence that
        runs into the 30 s edge, and batched decoding has no seek to recover it.
        """
        from faster_whisper.transcribe import restore_speech_timestamps

        rate = 16000
        timeline = speech
        if timeline is None:  # no timeline (a bare call): find the speech here
            from faster_whisper.vad import VadOptions, get_speech_timestamps

            stamps = get_speech_timestamps(
                audio,
                VadOptions(
                    min_silence_duration_ms=300, speech_pad_ms=200, max_speech_duration_s=self.max_chunk_s
                ),
            )
            speech = [(s["start"] / rate, s["end"] / rate) for s in stamps]
        else:
            # The timeline's spans with the edges sequential decoding gives them (ENGINE_PAD_S, not the
            # timeline's tighter padding), not merged: bench/batched_accuracy.py, 10-min film WER 0.083
            # -> 0.079, demo 0.046 -> 0.035; no recording worse than sequential decoding.
            speech = engine_chunks(timeline, float(self.settings["speech_pad_s"]), len(audio) / rate, 0.0)
        # a span longer than a chunk (rare: the timeline cuts at 300 ms pauses) is cut into chunk lengths
        regions = [
            (a + i * self.max_chunk_s, min(b, a + (i + 1) * self.max_chunk_s))
            for a, b in speech
            for i in range(int(np.ceil((b - a) / self.max_chunk_s)))
        ]
        stamps = join_short_pauses(
            [{"start": int(a * rate), "end": int(b * rate)} for a, b in regions],
            int(MAX_KEPT_PAUSE_S * rate),
            int(self.max_chunk_s * rate),
        )
        chunks = group_speech([(st["start"] / rate, st["end"] / rate) for st in stamps], self.max_chunk_s)
        if not chunks:
            return []
        # A chunk cut out of speech longer than a chunk (no pause for max_chunk_s: babble, music, noise
        # the timeline hears as voice) ends mid-sound, then in silence: there batched decoding invented
        # fluent outros that pass every check, so such chunks are always decoded again as sequential
        # decoding hears them. Dialogue pauses every few seconds, so its chunks are never cut.
        long_spans = [(a, b) for a, b in speech if b - a > self.max_chunk_s]
        for chunk in chunks:
            chunk["cut"] = any(a < chunk["end"] and b > chunk["start"] for a, b in long_spans)
        options = {k: v for k, v in self.options.items() if k != "vad_filter"}
        options["temperature"] = options["temperature"][:1]
        # Each chunk decoded as one text without timestamp tokens, as BatchedInferencePipeline does by
        # default, then cut into sentences at its words: on bench/batched_accuracy.py's recordings that
        # scored at or below sequential WER on every one (with timestamp tokens: worse on the demo).
        # Without word timestamps there is nothing to cut at, so the chunk keeps its timestamp tokens.
        by_words = bool(options.get("word_timestamps"))
        # The speech with its long silences taken out, end to end; each chunk is one clip of it, and
        # times map back to the window through the stamps, as faster-whisper's own VAD path does.
        voiced = np.concatenate([audio[st["start"] : st["end"]] for st in stamps])
        clips, position = [], 0.0
        for chunk in chunks:
            if not chunk["cut"]:  # a cut chunk is decoded again whatever the batch makes of it
                clips.append({"start": position, "end": position + chunk["speech_s"]})
            position += chunk["speech_s"]
        options["hotwords"] = self.batched_hotwords
        per_chunk: list[list[dict]] = [[] for _ in chunks]
        if clips:
            raw, _ = self.batched.transcribe(
                voiced,
                batch_size=self.batch_size,
                vad_filter=False,
                without_timestamps=by_words,
                clip_timestamps=clips,
                **options,
            )
            heard = timeline if timeline is not None else speech
            pauses = [(a[1], b[0]) for a, b in zip(heard, heard[1:]) if b[0] - a[1] >= SENTENCE_PAUSE_S]
            for seg in restore_speech_timestamps(raw, stamps, rate):
                segment = _segment_dict(seg)
                for part in split_sentences(segment, pauses) if by_words else [segment]:
                    per_chunk[chunk_of(part, chunks)].append(part)
        segments: list[dict] = []
        for index, (chunk, found) in enumerate(zip(chunks, per_chunk, strict=True)):
            if needs_redecode(chunk, found, self.settings):
                self.redecoded_chunks += 1
                found = self._redecode(audio, chunks, index, timeline)
            segments.extend(found)
        return segments

    def _redecode(
        self, audio: np.ndarray, chunks: list[dict], index: int, timeline: list[tuple[float, float]] | None
    ) -> list[dict]:
        """Chunk ``index`` decoded again sequentially (temperature fallback), hearing what sequential
        decoding would hear from there: the speech of this chunk and of the next ones, up to a whole
        Whisper window. A chunk alone ends in the zeros Whisper pads a window with; over babble that
        silence drew an outro loop ("thank you for watching...") at every temperature, where a whole
        window of the same babble decodes to nothing. Only the segments of this chunk are kept.
        ``timeline``: the job's speech timeline, whose spans inside the window the re-decode hears (as
        sequential decoding does), or None when there is none."""
        rate, chunk = 16000, chunks[index]
        end, heard_s = chunk["end"], 0.0
        for following in chunks[index:]:
            if heard_s >= WHISPER_WINDOW_S:
                break
            end, heard_s = following["end"], heard_s + following["speech_s"]
        start = chunk["start"]
        heard = None
        if timeline is not None:
            heard = [
                (max(a, start) - start, min(b, end) - start) for a, b in timeline if b > start and a < end
            ]
        again = self._transcribe_sequential(audio[int(start * rate) : int(end * rate)], heard)
        shifted = [_shifted(seg, start) for seg in again]
        return [seg for seg in shifted if chunk_of(seg, chunks) == index]


def _shifted(segment: dict, offset: float) -> dict:
    """An engine segment dict with its segment and word times moved by ``offset`` seconds."""
    segment["start"] += offset
    segment["end"] += offset
    for word in segment["words"]:
        word["start"] = None if word["start"] is None else word["start"] + offset
        word["end"] = None if word["end"] is None else word["end"] + offset
    return segment


def _segment_dict(seg: Any) -> dict:
    words = [
        {"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
        for w in (seg.words or [])
    ]
    return {
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "words": words,
        "avg_logprob": seg.avg_logprob,
        "no_speech_prob": seg.no_speech_prob,
        "compression_ratio": seg.compression_ratio,
    }


WHISPERX_VAD = {"min_silence_duration_ms": 300, "speech_pad_ms": 200}  # as the batched faster-whisper path


def whisperx_devices(requested: str) -> tuple[str, str]:
    """(Whisper device, alignment device) for ``asr.device``: ``auto`` takes a GPU only where the
    library that runs on it (CTranslate2 for Whisper, torch for wav2vec2) sees one."""
    if requested != "auto":
        return requested, requested
    import ctranslate2
    import torch

    whisper = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    return whisper, "cuda" if torch.cuda.is_available() else "cpu"


def spread_unaligned(words: list[dict], seg_start: float, seg_end: float) -> list[dict]:
    """WhisperX words → ours: ``score`` becomes ``probability``; a word the aligner could not place (no
    score: a character missing from the alignment model, or the whole segment unaligned) gets
    probability None and an equal share of the gap between its aligned neighbours, instead of the
    neighbour's copied times WhisperX gives it."""
    out = [
        {
            "word": w["word"],
            "start": w.get("start") if "score" in w else None,
            "end": w.get("end") if "score" in w else None,
            "probability": w.get("score"),
        }
        for w in words
    ]
    i = 0
    while i < len(out):
        if out[i]["start"] is not None:
            i += 1
            continue
        run_end = i
        while run_end < len(out) and out[run_end]["start"] is None:
            run_end += 1
        gap_start = out[i - 1]["end"] if i else seg_start
        gap_end = out[run_end]["start"] if run_end < len(out) else seg_end
        share = max(0.0, gap_end - gap_start) / (run_end - i)
        for k in range(i, run_end):
            out[k]["start"] = gap_start + (k - i) * share
            out[k]["end"] = gap_start + (k - i + 1) * share
        i = run_end
    return out


def from_whisperx(aligned: dict, source: dict) -> dict:
    """One aligned WhisperX segment → an engine segment dict, with the decoder signals of the VAD chunk
    it came from (WhisperX keeps only avg_logprob; no_speech_prob and compression_ratio are ours)."""
    words = aligned.get("words") or [{"word": w} for w in str(aligned["text"]).split()]
    return {
        "start": aligned["start"],
        "end": aligned["end"],
        "text": aligned["text"],
        "words": spread_unaligned(words, aligned["start"], aligned["end"]),
        "avg_logprob": source.get("avg_logprob"),
        "no_speech_prob": source.get("no_speech_prob"),
        "compression_ratio": source.get("compression_ratio"),
        "aligned": bool(aligned.get("words")),
    }


def _stand_in_module(name: str, reason: str, names: tuple[str, ...]) -> types.ModuleType:
    """A module whose listed classes exist (so imports resolve) but refuse to be used."""
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def refuse(*_args, **_kwargs):
        raise CinesubError(f"{name} is not importable here ({reason}); cinesub passes WhisperX its own VAD")

    for attr in names:
        setattr(module, attr, type(attr, (), {"__init__": refuse, "from_pretrained": staticmethod(refuse)}))
    return module


def _import_whisperx() -> types.ModuleType:
    """whisperx, with stand-ins for the two imports its transcription/alignment path only needs to resolve
    when they cannot load (PyPI's torchaudio wheels need CUDA libraries; pyannote.audio needs torchaudio):
    pyannote.audio (its VAD and diarization, unused: we pass our own VAD) and torchaudio (its English
    bundles, unused: alignment_model_for names Hugging Face models only)."""
    import transformers  # noqa: F401 - before any stand-in, so its package probes see the real state

    stand_ins = {
        "torchaudio": {"torchaudio": (), "torchaudio.pipelines": ()},
        "pyannote.audio": {
            "pyannote.audio": ("Model", "Pipeline"),
            "pyannote.audio.core": (),
            "pyannote.audio.core.io": ("AudioFile",),
            "pyannote.audio.pipelines": ("VoiceActivityDetection",),
            "pyannote.audio.pipelines.utils": ("PipelineModel",),
        },
    }
    for package, modules in stand_ins.items():
        try:
            importlib.import_module(package)
        except (ImportError, OSError) as exc:
            log.warning("whisperx: %s does not import (%s); using a stand-in that refuses use", package, exc)
            for name, names in modules.items():
                sys.modules[name] = _stand_in_module(name, f"{type(exc).__name__}: {exc}", names)
    if "torchaudio.pipelines" in sys.modules and not hasattr(sys.modules["torchaudio.pipelines"], "__all__"):
        sys.modules["torchaudio.pipelines"].__all__ = []  # no bundles: alignment takes the Hugging Face path
        sys.modules["torchaudio"].pipelines = sys.modules["torchaudio.pipelines"]
    try:
        import whisperx
        import whisperx.alignment
        import whisperx.asr
    except ImportError as exc:
        raise CinesubError(
            f"asr.backend whisperx needs the whisperx package ({exc}): make whisperx-venv, or --sdm conda "
            "(envs/whisperx.yaml), or set asr.backend: faster-whisper"
        ) from None
    return whisperx


def _whisperx_classes(whisperx: types.ModuleType, max_chunk_s: float) -> tuple[type, type]:
    """Our VAD for WhisperX (faster-whisper's bundled Silero, offline) and a WhisperX model that also
    measures each chunk's no-speech probability, which WhisperX's batched decoding does not report."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    from whisperx.diarize import Segment
    from whisperx.vads import Vad

    class BundledSileroVad(Vad):
        def __init__(self, onset: float = 0.5):
            super().__init__(onset)
            self.options = VadOptions(threshold=onset, max_speech_duration_s=max_chunk_s, **WHISPERX_VAD)

        def __call__(self, audio: dict, **_kwargs) -> list:
            rate = audio["sample_rate"]
            stamps = get_speech_timestamps(audio["waveform"], self.options, sampling_rate=rate)
            return [Segment(s["start"] / rate, s["end"] / rate, "UNKNOWN") for s in stamps]

        @staticmethod
        def preprocess_audio(audio: np.ndarray) -> np.ndarray:
            return audio

        @staticmethod
        def merge_chunks(segments: list, chunk_size: float, onset: float, offset: float | None) -> list[dict]:
            return Vad.merge_chunks(segments, chunk_size, onset, offset) if segments else []

    class MeasuredWhisperModel(whisperx.asr.WhisperModel):
        no_speech_probs: list[float]

        def encode(self, features):
            self.last_encoded = super().encode(features)
            return self.last_encoded

        def generate_segment_batched(self, features, tokenizer, options, encoder_output=None):
            result = super().generate_segment_batched(features, tokenizer, options, encoder_output)
            initial = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
            prompt = self.get_prompt(
                tokenizer,
                initial,
                without_timestamps=options.without_timestamps,
                prefix=options.prefix,
                hotwords=options.hotwords,
            )
            # one decoder step on the same encoder output and prompt: the <|nospeech|> probability
            # faster-whisper reports, which WhisperX's generate call does not request
            first_step = self.model.generate(
                self.last_encoded,
                [prompt] * len(result["text"]),
                max_length=len(prompt) + 1,
                return_no_speech_prob=True,
            )
            self.no_speech_probs.extend(step.no_speech_prob for step in first_step)
            return result

    return BundledSileroVad, MeasuredWhisperModel


class WhisperXEngine:
    """WhisperX: its batched FasterWhisperPipeline over VAD chunks (our bundled-Silero VAD; no timestamp
    tokens, no temperature fallback), then wav2vec2 forced alignment for word times."""

    name = "whisperx"

    def __init__(self, settings: dict, language: str, prompt: str | None, hotwords: str | None = None):
        # hotwords: not passed to WhisperX (asr.use_glossary_hotwords is measured on faster-whisper only)
        whisperx = _import_whisperx()
        _require_punkt(language)
        self.whisperx = whisperx
        self.device, self.align_device = whisperx_devices(settings["device"])
        self.max_chunk_s = MAX_CHUNK_S
        vad_class, model_class = _whisperx_classes(whisperx, self.max_chunk_s)
        self.model_path = resolve_model(settings["model"], settings["model_cache"])
        options = decode_options(settings, language, prompt)
        align_name = alignment_model_for(language, settings)
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        try:
            whisper = model_class(
                self.model_path,
                device=self.device,
                compute_type=settings["compute_type"],
                cpu_threads=settings["threads"],
            )
            whisper.no_speech_probs = []
            if not whisper.model.is_multilingual and language != "en":
                raise CinesubError(
                    f"ASR model {settings['model']} is English-only; the job's language is "
                    f"{language}: use a multilingual model such as large-v3"
                )
            if settings["use_glossary_prompt"] == "auto" and not whisper.model.is_multilingual:
                options["initial_prompt"] = None  # as FasterWhisperEngine: no prompt for English-only models
            asr_options = {k: v for k, v in options.items() if k not in ("language", "temperature")}
            asr_options["temperatures"] = options["temperature"]
            self.model = whisperx.load_model(
                self.model_path,
                self.device,
                compute_type=settings["compute_type"],
                language=language,
                asr_options=asr_options,
                vad_model=vad_class(),
                model=whisper,
                threads=settings["threads"],
            )
            self.align_model, self.align_meta = whisperx.load_align_model(
                language_code=language,
                device=self.align_device,
                model_name=align_name,
                model_dir=settings["model_cache"] or None,
                model_cache_only=offline,
            )
        except CinesubError:
            raise
        except Exception as exc:  # noqa: BLE001 - whisperx raises many types for missing models
            raise CinesubError(
                f"whisperx could not load its models for {language} (alignment: {align_name}): "
                f"{type(exc).__name__}: {exc}; fetch them on a machine with internet: make models"
            ) from None
        self.whisper = whisper
        self.prompt = options["initial_prompt"]
        self.batch_size = settings["batch_size"]
        self.language = language
        self.unaligned_segments = 0

    def transcribe(self, audio: np.ndarray, speech: list[tuple[float, float]] | None = None) -> list[dict]:
        # WhisperX cuts its batches with its own VAD; the timeline still splits its segments (transcribe_file)
        from faster_whisper.transcribe import get_compression_ratio

        self.whisper.no_speech_probs = []
        result = self.model.transcribe(
            audio, batch_size=self.batch_size, language=self.language, chunk_size=self.max_chunk_s
        )
        chunks = result["segments"]
        segments: list[dict] = []
        for chunk, no_speech in zip(chunks, self.whisper.no_speech_probs, strict=True):
            chunk["no_speech_prob"] = no_speech
            text = chunk["text"].strip()
            chunk["compression_ratio"] = get_compression_ratio(text) if text else None
            # one chunk at a time, so every aligned sentence knows the chunk (and signals) it came from
            aligned = self.whisperx.align(
                [chunk],
                self.align_model,
                self.align_meta,
                audio,
                self.align_device,
                return_char_alignments=False,
            )
            for sentence in aligned["segments"]:
                segment = from_whisperx(sentence, chunk)
                if not segment.pop("aligned"):
                    self.unaligned_segments += 1
                    log.warning(
                        "whisperx could not align %r: its words share the segment's span", sentence["text"]
                    )
                segments.append(segment)
        return segments


def _require_punkt(language: str) -> None:
    """WhisperX splits sentences with nltk's punkt_tab and, when it is missing, downloads it mid-job."""
    import nltk
    from whisperx.utils import PUNKT_LANGUAGES

    name = PUNKT_LANGUAGES.get(language, "english")
    try:
        nltk.data.find(f"tokenizers/punkt_tab/{name}/")
    except LookupError:
        raise CinesubError(
            f"whisperx needs nltk's punkt_tab data ({name}) and it is not installed: "
            "python -m nltk.downloader punkt_tab (on a machine with internet; NLTK_DATA says where)"
        ) from None


ENGINES: dict[str, Callable[..., Engine]] = {
    "faster-whisper": FasterWhisperEngine,
    "whisperx": WhisperXEngine,
}


def load_engine(
    settings: dict, language: str, prompt: str | None = None, hotwords: str | None = None
) -> Engine:
    if settings["seed"] is not None:
        import ctranslate2

        ctranslate2.set_random_seed(int(settings["seed"]))
    settings = language_settings(settings, language)
    return ENGINES[settings["backend"]](settings, language, prompt, hotwords)


# --------------------------------------------------------------------- windows


def iter_windows(audio_path: str, window_s: float) -> Iterator[tuple[float, np.ndarray, float]]:
    """Yield (offset seconds, samples, total seconds) windows of at most ``window_s``, cut at quiet points."""
    import soundfile

    with soundfile.SoundFile(audio_path) as handle:
        rate, total = handle.samplerate, handle.frames
        if rate != 16000:
            raise CinesubError(f"{audio_path} is {rate} Hz; ASR needs 16 kHz audio from 01_demux")
        window = int(window_s * rate)
        position = 0
        while position < total:
            handle.seek(position)
            block = handle.read(min(window, total - position), dtype="float32", always_2d=False)
            if block.ndim > 1:
                block = block.mean(axis=1)
            if position + len(block) < total:
                block = block[: find_cut(block, rate)]
            yield position / rate, block, total / rate
            position += len(block)


def transcribe_file(
    audio_path: str,
    settings: dict,
    language: str,
    prompt: str | None = None,
    engine: Engine | None = None,
    progress: Callable[[float], None] | None = None,
    speech: list[tuple[float, float]] | None = None,
) -> list[dict]:
    """Canonical segments (ids 0..n-1, time order) for a 16 kHz WAV file; ``speech``: the job's speech
    timeline (absolute seconds), which decoding follows and segments are split by."""
    engine = engine or load_engine(settings, language, prompt)
    segments: list[dict] = []
    max_gap_s = float(settings["max_word_gap_s"])
    for offset, block, total in iter_windows(audio_path, settings["window_s"]):
        window_end = offset + len(block) / 16000
        heard = None
        if speech is not None:
            heard = [(a - offset, b - offset) for a, b in speechlib.overlapping(speech, offset, window_end)]
            if not heard:
                continue  # no speech in this window: nothing to decode
        levels = frame_levels_db(block, 16000)
        for raw in engine.transcribe(block, heard):
            segment = to_canonical(raw, offset)
            if segment is None:
                continue
            for part in split_segment(segment, speech, max_gap_s):
                refine_edges(part, levels, offset)
                segments.append(part)
            if progress and total:
                progress(min(100.0, 100.0 * segment["end"] / total))
        if progress and total:
            progress(min(100.0, 100.0 * (offset + len(block) / 16000) / total))
    segments.sort(key=lambda s: (s["start"], s["end"]))
    for index, segment in enumerate(segments):
        segment["id"] = index
    return segments


class ProgressLog(Progress):
    """Percent of the audio transcribed, fed per segment: log and console lines with the audio
    position, elapsed time and an ETA (see :mod:`cinesub.progress`)."""

    def __init__(self, logger: logging.Logger, label: str = STAGE, audio_path: str | None = None, **kwargs):
        super().__init__(logger, label, **kwargs)
        if audio_path:
            import soundfile

            self.duration_s = soundfile.info(audio_path).duration
        else:
            self.duration_s = None

    def __call__(self, percent: float, detail: str = "") -> None:
        if self.duration_s and not detail:
            position = clock_text(percent * self.duration_s / 100.0)
            detail = f"{position} of {clock_text(self.duration_s)} audio"
        super().__call__(percent, detail)


def glossary_words(glossary_path: str | None, use_prompt: bool | str) -> tuple[str | None, str | None]:
    """(initial prompt, hotwords) from the job's glossary: the prompt when ``use_prompt``, the names for
    Whisper's hotwords always (the engine decides where they are used: ``hotword_use``)."""
    if not glossary_path:
        return None, None
    from . import glossaryfile

    doc = glossaryfile.load(glossary_path)
    return (glossaryfile.prompt(doc) if use_prompt else None), glossaryfile.hotwords(doc)


def cache_key(
    cache: Any,
    audio: str,
    settings: dict,
    language: str,
    prompt: str | None,
    speech: dict | None = None,
    hotwords: str | None = None,
) -> str:
    """Key of a transcription: the audio's bytes, the speech timeline (its spans and VAD settings, not
    the job it was found for), the decoding settings, prompt and hotwords, model files and code."""
    from . import stagecache
    from .manifest import package_versions

    model = settings["model"]
    local = bundled.is_bundled(model) or os.path.isdir(os.path.expanduser(model))
    return cache.key(
        files={"audio": audio},
        code=[__file__, speechlib.__file__],
        data={
            "settings": stagecache.result_settings(settings),
            "language": language,
            "prompt": prompt,
            "hotwords": hotwords,
            "speech": None if speech is None else {"vad": speech["vad"], "spans": speech["spans"]},
            "model": stagecache.model_identity(resolve_model(model, settings["model_cache"]))
            if local
            else model,
            "versions": package_versions(PACKAGES),
        },
    )


def run(ctx) -> None:
    from . import stagecache

    language = str(ctx.params.language)
    settings = language_settings(dict(ctx.params.asr), language)
    prompt, hotwords = glossary_words(optional_input(ctx.input, "glossary"), settings["use_glossary_prompt"])
    speech_path = optional_input(ctx.input, "speech")
    speech_doc = speechlib.load_document(speech_path) if speech_path else None
    speech = [(float(a), float(b)) for a, b in speech_doc["spans"]] if speech_doc else None
    if speech_doc:
        settings["speech_pad_s"] = speech_doc["vad"]["pad_ms"] / 1000

    def transcribe() -> dict:
        engine = load_engine(settings, language, prompt, hotwords)
        segments = transcribe_file(
            ctx.input.audio,
            settings,
            language,
            prompt,
            engine=engine,
            progress=ProgressLog(ctx.log, f"job {ctx.job}: {STAGE}", ctx.input.audio),
            speech=speech,
        )
        scripts = check_scripts(segments, language, settings)
        # the engine may decline the prompt (use_glossary_prompt: auto)
        return {
            "segments": segments,
            "scripts": scripts,
            "backend": engine.name,
            "prompt": getattr(engine, "prompt", prompt),
            "hotwords": getattr(engine, "hotwords", None),
            "path": getattr(engine, "model_path", settings["model"]),
        }

    # The same audio with the same settings is transcribed once, whichever job asks.
    result, key, hit = stagecache.reuse(
        settings["result_cache"],
        STAGE,
        lambda cache: cache_key(cache, ctx.input.audio, settings, language, prompt, speech_doc, hotwords),
        transcribe,
    )
    if hit:
        ctx.log.info("result cache hit %s: transcription reused", key[:16])
    ctx.models["asr"] = {
        "backend": result["backend"],
        "model": settings["model"],
        "path": result["path"],
        "prompt_chars": len(result["prompt"] or ""),
        "hotwords_chars": len(result.get("hotwords") or ""),
        # CTranslate2 decodes with asr.threads from the config whatever the scheduler grants (measured:
        # bench/results/thread_determinism.json); the grant only limits how many jobs run at once
        "cpu_threads": settings["threads"],
        "scheduler_threads": ctx.threads,
        "result_cache": {"entry": key, "hit": hit} if key else None,
    }
    import soundfile

    duration = soundfile.info(ctx.input.audio).duration
    meta = {
        "04_asr": {
            "backend": result["backend"],
            "model": settings["model"],
            "language": language,
            "prompt": result["prompt"] or "",
            "scripts": result.get("scripts"),
        }
    }
    if (result.get("scripts") or {}).get("wrong_script"):
        ctx.log.warning(
            "%d of %d segments are in a script %s is not written in: decode failures (flagged for 07)",
            result["scripts"]["wrong_script"],
            len(result["segments"]),
            language,
        )
    doc = new_document(ctx.job, language, STAGE, result["segments"], duration=duration, meta=meta)
    save(ctx.output.segments, doc)
    ctx.log.info("%d segments", len(result["segments"]))
