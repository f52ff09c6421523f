"""Synthetic films with known text and timing (espeak-ng or Festival speech + an ffmpeg test picture).

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
FESTIVAL_PREFIX = "festival:"  # voice column "festival:<voice>", e.g. festival:hindi_NSK_diphone
# ffmpeg output options for the test-pattern video of a synthetic film: quick to encode, plays anywhere.
FAST_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


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
    """One sentence → float32 samples at 22.05 kHz, trimmed to the voiced part."""
    if line.voice.startswith(FESTIVAL_PREFIX):
        samples = speak_festival(line.text, line.voice[len(FESTIVAL_PREFIX) :], workdir)
    else:
        samples = speak_espeak(line, workdir)
    voiced = np.flatnonzero(np.abs(samples) > SILENCE_THRESHOLD)
    return samples[voiced[0] : voiced[-1] + 1] if len(voiced) else samples


def festival_scheme(text: str, voice: str, wav: str) -> str:
    """A Festival script that speaks ``text`` (UTF-8, e.g. Devanagari) with ``voice`` into ``wav``.

    The Hindi NSK voice leaves the intonation method unset; DuffInt gives it a plain contour.
    """

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return (
        f"(voice_{voice})\n(Parameter.set 'Int_Method 'DuffInt)\n"
        f"(set! utt (Utterance Text {quoted(text)}))\n(utt.synth utt)\n"
        f"(utt.save.wave utt {quoted(wav)} 'riff)\n"
    )


def speak_festival(text: str, voice: str, workdir: str) -> np.ndarray:
    """Festival one sentence → float32 samples resampled to 22.05 kHz."""
    import soundfile

    if shutil.which("festival") is None:
        raise CinesubError("festival is not installed (apt-get install festival festvox-hi-nsk)")
    wav, scheme = os.path.join(workdir, "line.wav"), os.path.join(workdir, "line.scm")
    with open(scheme, "w", encoding="utf-8") as handle:
        handle.write(festival_scheme(text, voice, wav))
    result = subprocess.run(["festival", "-b", scheme], capture_output=True, text=True)
    if result.returncode != 0 or not os.path.isfile(wav):
        reason = " ".join((result.stderr or result.stdout).split())[:200]
        raise CinesubError(f"festival could not speak with voice {voice}: {reason}")
    samples, rate = soundfile.read(wav, dtype="float32")
    os.remove(wav)
    # Upsampling (16 → 22.05 kHz) by interpolation adds no aliasing; 01_demux resamples to 16 kHz again.
    times = np.arange(round(len(samples) * SAMPLE_RATE / rate)) * (rate / SAMPLE_RATE)
    return np.interp(times, np.arange(len(samples)), samples).astype(np.float32)


def speak_espeak(line: Line, workdir: str) -> np.ndarray:
    """espeak-ng one sentence → float32 samples at 22.05 kHz."""
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
    return samples


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
    audio_wav: str,
    out_path: str,
    size: str = "320x180",
    rate: int = 25,
    audio_codec: str = "libopus",
    audio_language: str = "eng",
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
                **{"metadata:s:a:0": f"language={audio_language}"},
            )
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
            .overwrite_output()
            .run(capture_stdout=True, capture_stderr=True)
        )


def make_demo(script_path: str, film_path: str, truth_path: str, audio_language: str = "eng") -> list[dict]:
    import soundfile

    lead_in, lines = read_script(script_path)
    samples, truth = build_speech(lines, lead_in)
    with tempfile.TemporaryDirectory() as workdir:
        wav = os.path.join(workdir, "speech.wav")
        soundfile.write(wav, samples, SAMPLE_RATE)
        make_film(wav, film_path, audio_language=audio_language)
    write_json_atomic(truth_path, {"sentences": truth, "duration": round(len(samples) / SAMPLE_RATE, 3)})
    return truth
