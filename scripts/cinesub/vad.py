"""Speech presence measured on the audio itself, with faster-whisper's bundled Silero VAD (offline ONNX).

01_demux runs it once per job (:class:`TimelineBuilder`, fed while ffmpeg decodes) and writes the job's
speech timeline (cinesub.speech); :func:`speech_timeline` gives the same spans for a finished file.
Audio is heard block by block, never whole, so memory stays flat.
"""

from __future__ import annotations

import bisect
import os

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000


def open_16k(path: str | os.PathLike) -> sf.SoundFile:
    """The file opened for reading; a file at another sample rate is an error."""
    handle = sf.SoundFile(path)
    if handle.samplerate != SAMPLE_RATE:
        handle.close()
        raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz audio, got {handle.samplerate} Hz")
    return handle


def read_span(path: str | os.PathLike, start: float, end: float) -> np.ndarray:
    """Mono float32 samples of [start, end) seconds of a 16 kHz file (clipped to the file)."""
    with open_16k(path) as handle:
        first = max(0, int(start * SAMPLE_RATE))
        last = min(handle.frames, int(np.ceil(end * SAMPLE_RATE)))
        if last <= first:
            return np.zeros(0, dtype=np.float32)
        handle.seek(first)
        data = handle.read(last - first, dtype="float32", always_2d=True)
    return data.mean(axis=1)


def speech_spans(
    samples: np.ndarray, threshold: float = 0.5, min_silence_ms: int = 300, pad_ms: int = 100
) -> list[tuple[float, float]]:
    """Speech (start, end) seconds within ``samples`` according to Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if samples.size < SAMPLE_RATE // 10:
        return []
    options = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms)
    stamps = get_speech_timestamps(samples, options)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def speech_share(
    path: str | os.PathLike, start: float, end: float, threshold: float = 0.5, context_s: float = 1.0
) -> float:
    """Share of [start, end] that Silero VAD hears as speech.

    The VAD sees ``context_s`` of audio on each side, because it needs a little lead-in to switch on.
    """
    if end <= start:
        return 0.0
    lead = min(context_s, start)
    samples = read_span(path, start - lead, end + context_s)
    spans = speech_spans(samples, threshold=threshold)
    heard = sum(max(0.0, min(e, lead + end - start) - max(s, lead)) for s, e in spans)
    return min(1.0, heard / (end - start))


class TimelineBuilder:
    """Speech spans found ``block_s`` seconds at a time as the audio arrives.

    01_demux feeds it the samples ffmpeg is still decoding, so the VAD runs beside the decoder instead of
    after it; :func:`speech_timeline` feeds it a finished file. Either way the blocks, hence the spans, are
    the same. Blocks overlap by ``overlap_s`` so speech cut by a block edge is still found; overlapping
    spans are merged. Memory stays at one block.
    """

    def __init__(
        self,
        block_s: float = 60.0,
        overlap_s: float = 2.0,
        threshold: float = 0.5,
        min_silence_ms: int = 300,
        pad_ms: int = 100,
    ) -> None:
        self.block = max(1, int(round(block_s * SAMPLE_RATE)))
        self.overlap = int(round(overlap_s * SAMPLE_RATE))
        self.options = {"threshold": threshold, "min_silence_ms": min_silence_ms, "pad_ms": pad_ms}
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._block_first = 0  # sample index where the buffered audio (the next block) starts
        self._spans: list[tuple[float, float]] = []

    def feed(self, samples: np.ndarray) -> None:
        """Mono float32 samples at 16 kHz, following the ones fed before."""
        if samples.size:
            self._pending.append(np.asarray(samples, dtype=np.float32))
            self._pending_samples += samples.size
        while self._pending_samples >= self.block + self.overlap:
            self._next_block()

    def finish(self) -> list[tuple[float, float]]:
        """The merged spans of everything fed (seconds, sorted, not overlapping)."""
        while self._pending_samples > 0:
            self._next_block()
        merged: list[list[float]] = []
        for s, e in sorted(self._spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        # 10 µs: sample-exact (62.5 µs) when 04 turns the spans back into samples for the decoder
        return [(round(s, 5), round(e, 5)) for s, e in merged]

    def _next_block(self) -> None:
        buffered = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        offset = self._block_first / SAMPLE_RATE
        found = speech_spans(buffered[: self.block + self.overlap], **self.options)
        self._spans.extend((offset + s, offset + e) for s, e in found)
        rest = buffered[self.block :]
        self._pending, self._pending_samples = ([rest] if rest.size else []), rest.size
        self._block_first += self.block


def speech_timeline(
    path: str | os.PathLike,
    block_s: float = 60.0,
    overlap_s: float = 2.0,
    threshold: float = 0.5,
    min_silence_ms: int = 300,
    pad_ms: int = 100,
) -> list[tuple[float, float]]:
    """Speech spans of the whole file (:class:`TimelineBuilder` fed block by block: memory stays flat)."""
    builder = TimelineBuilder(block_s, overlap_s, threshold, min_silence_ms, pad_ms)
    with open_16k(path) as handle:
        for block in handle.blocks(blocksize=builder.block, dtype="float32", always_2d=True):
            builder.feed(block.mean(axis=1))
    return builder.finish()


def share_of(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Share of [start, end] covered by ``spans`` (sorted, non-overlapping)."""
    if end <= start:
        return 0.0
    # the spans' ends are sorted too: begin at the first that ends after start (06 asks this of every
    # window, so a scan of the whole timeline each time would grow with the square of the film's length)
    first = bisect.bisect_right(spans, start, key=lambda span: span[1])
    covered = 0.0
    for index in range(first, len(spans)):
        s, e = spans[index]
        if s >= end:
            break
        covered += max(0.0, min(e, end) - max(s, start))
    return min(1.0, covered / (end - start))
