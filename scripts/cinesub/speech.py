"""The job's speech timeline: ``jobs/<job>/01_demux/speech.json``, found once by Silero VAD.

One reader and writer for the file (schema ``workflow/schemas/speech.schema.json``): 04 feeds the spans to
the engine instead of running its own VAD and splits segments where they hold no speech, 06 asks whether
a music span carries a voice, 07 asks whether a word has a voice under it. Nobody runs Silero again.
"""

from __future__ import annotations

import bisect
import os

from .jobfile import JobFile

Spans = list[tuple[float, float]]
VAD_KEYS = ("threshold", "min_silence_ms", "pad_ms", "block_s")  # the demux.vad settings the file records


def _sorted_spans(doc: dict) -> None:
    previous_end = 0.0
    for start, end in doc["spans"]:
        if end < start or start < previous_end:
            raise ValueError(f"speech spans must be sorted and not overlap (at {start} s)")
        previous_end = end


FILE = JobFile("speech.schema.json", "speech", check=_sorted_spans)


def validate(doc: dict, where: str = "speech timeline") -> dict:
    return FILE.validate(doc, where)


def new_document(job: str, duration: float, spans: Spans, settings: dict) -> dict:
    return {
        "schema_version": 1,
        "job": job,
        "duration": round(float(duration), 3),
        "vad": builder_options(settings),
        "spans": [[round(float(s), 5), round(float(e), 5)] for s, e in spans],
    }


def load_document(path: str | os.PathLike) -> dict:
    return FILE.load(path)


def load(path: str | os.PathLike) -> Spans:
    """Speech spans (start, end seconds), sorted and not overlapping."""
    return [(float(s), float(e)) for s, e in load_document(path)["spans"]]


def save(path: str | os.PathLike, doc: dict) -> None:
    FILE.save(path, doc)


def overlapping(spans: Spans, start: float, end: float) -> Spans:
    """The spans that overlap [start, end], clipped to it (binary search: films have thousands)."""
    first = bisect.bisect_right(spans, start, key=lambda span: span[1])
    found = []
    for s, e in spans[first:]:
        if s >= end:
            break
        if e > start:
            found.append((max(s, start), min(e, end)))
    return found


def share(spans: Spans, start: float, end: float) -> float:
    """Share of [start, end] covered by speech (0 for an empty interval)."""
    if end <= start:
        return 0.0
    return min(1.0, sum(e - s for s, e in overlapping(spans, start, end)) / (end - start))


def longest_silence(spans: Spans, start: float, end: float) -> float:
    """The longest stretch of [start, end] with no speech in it, in seconds."""
    longest, cursor = 0.0, start
    for s, e in overlapping(spans, start, end):
        longest = max(longest, s - cursor)
        cursor = max(cursor, e)
    return max(longest, end - cursor) if end > start else 0.0


def builder_options(settings: dict) -> dict:
    """The :class:`cinesub.vad.TimelineBuilder` arguments of a ``demux.vad`` config section (also what
    the timeline file records of them)."""
    return {key: settings[key] for key in VAD_KEYS}


def find(audio_path: str | os.PathLike, settings: dict) -> Spans:
    """Speech spans of a finished file (Silero VAD, block by block so memory stays flat)."""
    from . import vad  # here: the stages that only read a timeline (07, 09) need neither numpy nor Silero

    return vad.speech_timeline(audio_path, **builder_options(settings))


def write_timeline(out_path: str, job: str, duration: float, spans: Spans, settings: dict, log) -> None:
    """Write ``spans`` as the job's speech timeline."""
    save(out_path, new_document(job, duration, spans, settings))
    log.info(
        "VAD: %d speech spans, %.1f s of speech in %.1f s of audio",
        len(spans),
        sum(e - s for s, e in spans),
        duration,
    )
