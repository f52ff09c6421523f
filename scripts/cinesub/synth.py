"""Synthetic films with known text and timing (espeak-ng speech + an ffmpeg test picture).

Used by the demo (``rules/00_demo.smk``) and by the tests: each sentence is synthesised on its
own and placed after a known silence, so the true start and end of every sentence is exact.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from .errors import CinesubError
from .fileio import atomic_path, write_json_atomic

SAMPLE_RATE = 22050  # espeak-ng's native rate
SILENCE_THRESHOLD = 0.01


@dataclass
class Line:
    text: str
    voice: str = "en-us"
    pause_after: float = 1.0
    speed: int = 160


def read_script(path: str) -> tuple[float, list[Line]]:
    """A demo script TSV: columns text, voice, pause_after (s), speed (wpm); ``#lead_in`` row optional."""
    lines, lead_in = [], 1.0
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["text"].startswith("#lead_in"):
                lead_in = float(row["pause_after"])
                continue
            lines.append(
                Line(
                    row["text"],
                    row.get("voice") or "en-us",
                    float(row.get("pause_after") or 1.0),
                    int(row.get("speed") or 160),
                )
            )
    return lead_in, lines


def speak(line: Line, workdir: str) -> np.ndarray:
    """espeak-ng one sentence → float32 samples at 22.05 kHz, trimmed to the voiced part."""
    import soundfile

    if shutil.which("espeak-ng") is None:
        raise CinesubError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = os.path.join(workdir, "line.wav")
    subprocess.run(
        ["espeak-ng", "-v", line.voice, "-s", str(line.speed), "-w", wav, "--", line.text],
        check=True,
        capture_output=True,
    )
    samples, _ = soundfile.read(wav, dtype="float32")
    voiced = np.flatnonzero(np.abs(samples) > SILENCE_THRESHOLD)
    return samples[voiced[0] : voiced[-1] + 1] if len(voiced) else samples


def build_speech(lines: list[Line], lead_in: float = 1.0) -> tuple[np.ndarray, list[dict]]:
    """Concatenate sentences with known pauses; returns samples and the truth per sentence."""
    pieces = [np.zeros(int(lead_in * SAMPLE_RATE), dtype=np.float32)]
    truth, position = [], len(pieces[0])
    with tempfile.TemporaryDirectory() as workdir:
        for line in lines:
            voiced = speak(line, workdir)
            truth.append(
                {
                    "text": line.text,
                    "voice": line.voice,
                    "start": round(position / SAMPLE_RATE, 3),
                    "end": round((position + len(voiced)) / SAMPLE_RATE, 3),
                }
            )
            pause = np.zeros(int(line.pause_after * SAMPLE_RATE), dtype=np.float32)
            pieces += [voiced, pause]
            position += len(voiced) + len(pause)
    return np.concatenate(pieces), truth


def make_film(
    audio_wav: str, out_path: str, size: str = "320x180", rate: int = 25, audio_codec: str = "libopus"
) -> None:
    """A test-pattern video with ``audio_wav`` as its soundtrack (MKV or MP4 by extension)."""
    import ffmpeg

    video = ffmpeg.input(f"testsrc=size={size}:rate={rate}", f="lavfi")
    audio = ffmpeg.input("file:" + os.path.abspath(audio_wav))
    with atomic_path(out_path) as tmp:
        (
            ffmpeg.output(
                video,
                audio,
                str(tmp),
                shortest=None,
                vcodec="libx264",
                preset="ultrafast",
                pix_fmt="yuv420p",
                acodec=audio_codec,
                **{"metadata:s:a:0": "language=eng"},
            )
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
            .overwrite_output()
            .run(capture_stdout=True, capture_stderr=True)
        )


def make_demo(script_path: str, film_path: str, truth_path: str) -> list[dict]:
    import soundfile

    lead_in, lines = read_script(script_path)
    samples, truth = build_speech(lines, lead_in)
    with tempfile.TemporaryDirectory() as workdir:
        wav = os.path.join(workdir, "speech.wav")
        soundfile.write(wav, samples, SAMPLE_RATE)
        make_film(wav, film_path)
    write_json_atomic(truth_path, {"sentences": truth, "duration": round(len(samples) / SAMPLE_RATE, 3)})
    return truth
