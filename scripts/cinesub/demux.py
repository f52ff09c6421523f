"""01_demux: probe a film and extract 16 kHz mono PCM audio for ASR.

Pure core: :func:`summarise_probe` (ffprobe JSON → media description), :func:`choose_audio_stream`,
:func:`clip_window`, :func:`check_decoded`. I/O edge: :func:`probe`, :func:`extract_audio` (one ffmpeg
decode writes the WAV and pipes the same samples to the VAD as they come), :func:`run`.
Paths reach ffmpeg as ``file:`` URLs in an argument list (never a shell), so names with
spaces, ``;``, ``$(…)`` or a leading ``-`` are read as plain files.
"""

from __future__ import annotations

import math
import os
import queue
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from . import languages, mediafile
from .errors import CinesubError
from .fileio import atomic_path

if TYPE_CHECKING:  # numpy is imported where samples are handled: 10_mux uses this module's ffmpeg helpers
    import numpy as np

STAGE = "01_demux"
PACKAGES = ("ffmpeg-python", "faster-whisper", "onnxruntime")  # its manifest records these (ffmpeg, VAD)
SECTION = "demux"  # the config section its rule passes as params (section_params)
MIN_AUDIO_S = 1.0  # shorter than one subtitle event: nothing worth subtitling
SILENT_PEAK_DBFS = -60.0  # a whole track this quiet is a wrong or broken stream, not a quiet film
# A decode this much shorter than the container declares means the file is truncated or damaged.
TRUNCATED_SLACK_S = 2.0
TRUNCATED_SLACK_SHARE = 0.05


def ffmpeg_url(path: str) -> str:
    """Force ffmpeg's file protocol: "a:b.mkv" or "concat:…" must not pick another protocol."""
    return "file:" + os.path.abspath(path)


def _rate(text: str | None) -> float | None:
    try:
        value = float(Fraction(text)) if text else 0.0
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summarise_probe(probe: dict, path: str) -> dict:
    """Reduce ffprobe's JSON to what later stages need (pure)."""
    fmt = probe.get("format", {})
    streams = []
    for stream in probe.get("streams", []):
        tags = {k.lower(): v for k, v in (stream.get("tags") or {}).items()}
        disposition = stream.get("disposition") or {}
        streams.append(
            {
                "index": stream.get("index"),
                "type": stream.get("codec_type"),
                "codec": stream.get("codec_name"),
                "language": tags.get("language"),
                "title": tags.get("title"),
                "default": bool(disposition.get("default")),
                "attached_pic": bool(disposition.get("attached_pic")),
                "channels": stream.get("channels"),
                "sample_rate": _float(stream.get("sample_rate")),
                "width": stream.get("width"),
                "height": stream.get("height"),
                "fps": _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
                "duration": _float(stream.get("duration")),
            }
        )
    durations = [_float(fmt.get("duration"))] + [s["duration"] for s in streams]
    duration = max((d for d in durations if d), default=None)
    videos = [s for s in streams if s["type"] == "video" and not s["attached_pic"]]
    return {
        "path": path,
        "format": fmt.get("format_name"),
        "duration": duration,
        "size": _float(fmt.get("size")),
        "bit_rate": _float(fmt.get("bit_rate")),
        "fps": next((s["fps"] for s in videos if s["fps"]), None),
        "streams": streams,
    }


def choose_audio_stream(streams: list[dict], source_lang: str) -> dict | None:
    """The audio stream to transcribe: tagged with the job's language, else the default, else the first."""
    audio = [s for s in streams if s["type"] == "audio"]
    if not audio:
        return None
    known = source_lang in languages.LANGUAGES
    wanted = {source_lang, languages.get(source_lang).iso639_2} if known else set()
    for stream in audio:
        if (stream["language"] or "").lower() in wanted:
            return stream
    return next((s for s in audio if s["default"]), audio[0])


def clip_window(
    clip_start: str | float | None, clip_end: str | float | None, duration: float | None
) -> tuple[float, float | None]:
    """Validated (start, end) seconds; end None means "to the end of the film"."""
    start = float(clip_start) if clip_start not in (None, "") else 0.0
    end = float(clip_end) if clip_end not in (None, "") else None
    if start < 0 or (end is not None and end <= start):
        raise CinesubError(f"bad clip times: start {start} s, end {end} s")
    if duration is not None and start >= duration:
        raise CinesubError(f"clip_start {start} s is past the end of the film ({duration:.2f} s)")
    if duration is not None and end is not None and end > duration:
        end = None  # clipping past the end means "to the end"
    return start, end


def preflight(path: str) -> None:
    if not path:
        raise CinesubError("no media path in the job sheet")
    if not os.path.exists(path):
        raise CinesubError(f"media file not found: {path}")
    if os.path.isdir(path):
        raise CinesubError(f"media path is a directory, not a file: {path}")
    if os.path.getsize(path) == 0:
        raise CinesubError(f"media file is empty (0 bytes): {path}")
    if not os.access(path, os.R_OK):
        raise CinesubError(f"media file is not readable: {path}")


def write_failure(stderr: str, out_path: str, partial: os.PathLike | None = None) -> CinesubError | None:
    """A failed write behind an ffmpeg run: ffmpeg exits 0 when it cannot write its trailer (a
    full disk), and is killed without a word when ``partial`` reaches the file-size limit."""
    for line in stderr.splitlines():
        if "No space left on device" in line:
            return CinesubError(f"no space left on device while writing {out_path}")
        if line.startswith(("Error writing", "Error closing")):
            return CinesubError(f"could not write {out_path}: {line.strip()}")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if (
        partial is not None
        and limit != resource.RLIM_INFINITY
        and os.path.exists(partial)
        and os.path.getsize(partial) >= limit
    ):
        return CinesubError(f"file size limit exceeded while writing {out_path}")
    return None


def _last_line(stderr: bytes | None) -> str:
    lines = [ln.strip() for ln in (stderr or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no details"


def probe(path: str) -> dict:
    import ffmpeg

    try:
        return ffmpeg.probe(ffmpeg_url(path))
    except ffmpeg.Error as err:
        raise CinesubError(f"not a media file ffprobe can read: {path} ({_last_line(err.stderr)})") from None


@dataclass
class DecodedAudio:
    """What one pass over the decoded samples measured (01 never reads its WAV back)."""

    frames: int = 0
    peak: int = 0  # largest absolute PCM16 sample
    ended: float = 0.0  # time.perf_counter() when ffmpeg's output ended

    def add(self, block: np.ndarray) -> None:
        self.frames += block.size
        if block.size:
            self.peak = max(self.peak, int(abs(block.astype("int32")).max()))


NO_RESAMPLER = "Requested resampling engine is unavailable"  # libswresample's words for a missing soxr


def conversion_filters(sample_rate: int, resampler: str) -> list[tuple[str, dict[str, Any]]]:
    """The ffmpeg filters (name, options) that make 01's mono PCM16 at ``sample_rate``.

    ``swr``: ffmpeg's own resampler, downmixing as ``-ac 1`` does, in one conversion: the samples
    ``-ac 1 -ar 16000`` gives and faster-whisper's own decoder resamples to. ``soxr``: the SoX
    resampler on every channel, then the same downmix (at the output's format: downmixing a float
    stream first would skip the normalisation ``-ac 1`` does and clip a loud 5.1 mix).
    """
    target = {"sample_fmts": "s16", "sample_rates": sample_rate, "channel_layouts": "mono"}
    if resampler == "swr":
        return [("aformat", target)]
    return [("aresample", {"osr": sample_rate, "resampler": resampler}), ("aformat", target)]


def extract_audio(
    path: str,
    stream_index: int,
    out_wav: str,
    sample_rate: int,
    start: float,
    end: float | None,
    expected_s: float | None = None,
    on_samples: Callable[[np.ndarray], None] | None = None,
    *,
    resampler: str,
) -> tuple[list[str], DecodedAudio]:
    """Decode one audio stream to mono PCM16; returns decoder warnings and what the samples measured.

    ffmpeg decodes once and writes the WAV and, through a pipe, the same samples to this process:
    ``on_samples`` (the VAD) gets them as float32 while the decoder is still running, and the decode
    checks are measured on them. ``expected_s`` is how long the decode should be (clip window or
    declared duration); a decode clearly shorter fails as truncated instead of yielding subtitles for
    part of a broken film. The WAV is renamed into place only after every check passes.
    """
    import ffmpeg

    input_args: dict[str, Any] = {"ss": start} if start > 0 else {}
    if end is not None:
        input_args["t"] = round(end - start, 3)
    with atomic_path(out_wav) as tmp:
        # One conversion (demux.resampler, see conversion_filters) feeds both outputs, so the VAD hears
        # the WAV's own samples.
        audio = ffmpeg.input(ffmpeg_url(path), **input_args)[str(stream_index)]
        for name, options in conversion_filters(sample_rate, resampler):
            audio = audio.filter(name, **options)
        copies = audio.filter_multi_output("asplit")
        outputs = ffmpeg.merge_outputs(
            ffmpeg.output(copies[0], str(tmp), format="wav", acodec="pcm_s16le"),
            ffmpeg.output(copies[1], "pipe:", format="s16le", acodec="pcm_s16le"),
        )
        outputs = outputs.global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output()
        decoded, stderr = _stream(outputs, on_samples)
        text = stderr.decode("utf-8", "replace")
        if decoded is None:
            if NO_RESAMPLER in text:
                raise CinesubError(
                    f"this ffmpeg has no {resampler} resampler (built without lib{resampler}): set "
                    "demux.resampler: swr in the config, or install an ffmpeg that has it"
                )
            failure = write_failure(text, out_wav, tmp)
            if failure:
                raise failure
            detail = _last_line(stderr)
            raise CinesubError(f"ffmpeg could not decode the audio of {path}: {detail}")
        failure = write_failure(text, out_wav)
        if failure:
            raise failure
        check_decoded(decoded, sample_rate, path, expected_s)
    return [line.strip() for line in text.splitlines() if line.strip()][:20], decoded


class Stopwatch:
    """Seconds spent inside the functions it wraps (the VAD's share of 01)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, func):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


PIPE_READ_BYTES = 1 << 16
QUEUED_READS = 512  # 32 MiB (17 min of audio) may wait for the VAD before ffmpeg is held back


def _stream(
    outputs: Any, on_samples: Callable[[np.ndarray], None] | None
) -> tuple[DecodedAudio | None, bytes]:
    """Run ffmpeg, handing its piped samples on as they come; (what they measured, or None when ffmpeg
    failed; its stderr). A thread empties the pipe into a queue, so ffmpeg decodes on while
    ``on_samples`` works on a block (the pipe itself holds 2 s); another drains stderr."""
    import numpy as np

    process = outputs.run_async(pipe_stdout=True, pipe_stderr=True)
    errors: list[bytes] = []
    chunks: queue.Queue[bytes | None] = queue.Queue(QUEUED_READS)
    decoded = DecodedAudio()

    def read_pipe() -> None:
        try:
            while chunk := process.stdout.read(PIPE_READ_BYTES):
                chunks.put(chunk)
        finally:  # the end mark always comes, so the consumer never waits on a reader that died
            decoded.ended = time.perf_counter()
            chunks.put(None)

    threads = [
        threading.Thread(target=read_pipe, daemon=True),
        threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True),
    ]
    for thread in threads:
        thread.start()
    carry = b""
    try:
        while (chunk := chunks.get()) is not None:
            chunk, carry = carry + chunk, b""
            if len(chunk) % 2:  # a PCM16 sample split between two reads
                chunk, carry = chunk[:-1], chunk[-1:]
            block = np.frombuffer(chunk, dtype="<i2")
            decoded.add(block)
            if on_samples is not None:
                on_samples(block.astype(np.float32) / 32768.0)
    except BaseException:
        process.kill()
        while chunks.get() is not None:  # let the reader reach the end of the killed process's pipe
            pass
        raise
    finally:
        returncode = process.wait()
        for thread in threads:
            thread.join()
        process.stdout.close()
        process.stderr.close()
    return (decoded if returncode == 0 else None), b"".join(errors)


def check_decoded(
    decoded: DecodedAudio, sample_rate: int, path: str, expected_s: float | None = None
) -> None:
    """Fail on audio that is empty, clearly shorter than expected, too short to subtitle, or silent."""
    if decoded.frames == 0:
        raise CinesubError(f"no decodable audio in {path} (the file may be truncated or damaged)")
    seconds = decoded.frames / sample_rate
    if expected_s and expected_s - seconds > max(TRUNCATED_SLACK_S, TRUNCATED_SLACK_SHARE * expected_s):
        raise CinesubError(
            f"{path} looks truncated or damaged: only {seconds:.2f} s of its "
            f"{expected_s:.2f} s of audio decode"
        )
    if seconds < MIN_AUDIO_S:
        raise CinesubError(
            f"the audio of {path} is only {seconds:.2f} s long: too short to subtitle "
            f"(at least {MIN_AUDIO_S:.0f} s)"
        )
    peak_dbfs = 20 * math.log10(decoded.peak / 32768) if decoded.peak else float("-inf")
    if peak_dbfs < SILENT_PEAK_DBFS:
        raise CinesubError(
            f"the audio of {path} is silent (peak {peak_dbfs:.0f} dBFS): nothing to "
            "transcribe; check that the file has the right audio track"
        )


def run(ctx) -> None:
    params = ctx.params
    path = str(params.media)
    preflight(path)
    media = summarise_probe(probe(path), path)
    if not media["streams"]:
        raise ctx.fail(f"no streams in {path}")
    stream = choose_audio_stream(media["streams"], str(params.source_lang))
    if stream is None:
        raise ctx.fail(f"no audio stream in {path}")
    if media["duration"] is not None and media["duration"] <= 0:
        raise ctx.fail(f"zero duration: {path}")
    start, end = clip_window(params.clip_start, params.clip_end, media["duration"])
    ctx.log.info(
        "audio stream %s (%s, %s), clip %.3f-%s s",
        stream["index"],
        stream["codec"],
        stream["language"],
        start,
        end,
    )
    declared_end = end if end is not None else media["duration"]
    expected_s = declared_end - start if declared_end is not None else None
    from . import speech, vad  # Silero VAD, fed the samples while ffmpeg decodes them

    vad_settings = dict(params.demux["vad"])
    sample_rate = int(params.demux["sample_rate"])
    timeline = vad.TimelineBuilder(**speech.builder_options(vad_settings))
    vad_clock = Stopwatch()
    warnings, decoded = extract_audio(
        path,
        stream["index"],
        ctx.output.audio,
        sample_rate,
        start,
        end,
        expected_s,
        on_samples=vad_clock.wrap(timeline.feed),
        resampler=str(params.demux["resampler"]),
    )
    spans = vad_clock.wrap(timeline.finish)()  # the last block, and any the VAD had not reached
    vad_after_decode = time.perf_counter() - decoded.ended
    for line in warnings:
        ctx.log.warning("ffmpeg: %s", line)
    duration = decoded.frames / sample_rate  # the WAV holds exactly the piped samples (one asplit)
    media.update(
        {
            "audio_stream": stream["index"],
            "clip": {"start": start, "end": end},
            "audio_seconds": round(duration, 3),
            "sample_rate": sample_rate,
            "warnings": warnings,
        }
    )
    mediafile.save(ctx.output.media, media)
    speech.write_timeline(ctx.output.speech, ctx.job, duration, spans, vad_settings, ctx.log)
    # the VAD's own seconds: work bare faster-whisper does inside transcribe (bench/overhead.py reads both)
    ctx.log.info("VAD took %.2f s, %.2f s of it after the decode", vad_clock.seconds, vad_after_decode)
