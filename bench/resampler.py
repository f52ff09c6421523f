"""01's resampler (``demux.resampler``): ffmpeg's time and what tiny.en hears with swr (ffmpeg's default, as
``-ac 1 -ar 16000`` and faster-whisper's own decoder resample) and with soxr, on films with names (the demo
film, the tests' English film), a 2.5-minute and figure 1's 10-minute dialogue film, and the 60-minute film
for time alone.

    python bench/resampler.py

Each film is converted as 01_demux converts it (``demux.conversion_filters``: mono 16 kHz PCM16) with each
resampler, then transcribed by 04_asr's own code with the shipped settings and the speech timeline 01
would write (bench/batched_accuracy.py's pipeline mode). ffmpeg's time is the median of 3 runs writing to
/dev/null (decoding included: the same for both). Also: how far each WAV is from swr's (RMS below the
signal, largest sample difference). Writes ``bench/results/resampler.json``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import common

sys.path.insert(0, str(common.REPO / "tests"))


def films() -> dict:
    """name -> (film, reference sentences or None)."""
    from batched_accuracy import films as named_films

    out = named_films(common.OUT / "resampler")
    out["film_60min"] = (common.speech_film(60.0)[0], None)
    return out


def convert(film, resampler: str, out) -> list[str]:
    from cinesub import demux

    chain = ",".join(
        name + "=" + ":".join(f"{key}={value}" for key, value in options.items())
        for name, options in demux.conversion_filters(16000, resampler)
    )
    return ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(film), "-vn", "-af", chain, *out]


def ffmpeg_s(film, resampler: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(convert(film, resampler, ["-f", "s16le", "/dev/null"]), check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def main() -> None:
    import numpy as np
    import soundfile as sf
    from batched_accuracy import NAMES, pipeline_mode
    from cinesub.configschema import CONFIG_SCHEMA_PATH

    resamplers = json.loads(CONFIG_SCHEMA_PATH.read_text())["properties"]["demux"]["properties"]["resampler"]
    resamplers = resamplers["enum"]

    transcribe = pipeline_mode(1)
    rows: dict = {}
    for name, (film, reference) in films().items():
        row: dict = {}
        samples = {}
        for resampler in resamplers:
            wav = common.OUT / "resampler" / f"{name}.{resampler}.wav"
            subprocess.run(convert(film, resampler, ["-c:a", "pcm_s16le", str(wav)]), check=True)
            samples[resampler] = sf.read(wav, dtype="float32")[0]
            entry: dict = {"ffmpeg_s": ffmpeg_s(film, resampler)}
            if reference is not None:
                segments, _ = transcribe(wav)
                text = " ".join(s["text"] for s in segments)
                entry["wer"] = round(common.wer(reference, [s["text"] for s in segments]), 4)
                entry["names"] = [n for n in NAMES if n in " ".join(reference).lower() and n in text.lower()]
            row[resampler] = entry
        swr = samples["swr"]
        signal = float(np.sqrt(np.mean(swr**2)))
        row["samples"] = {resampler: int(x.size) for resampler, x in samples.items()}
        for resampler, other in samples.items():
            if resampler != "swr":
                n = min(swr.size, other.size)
                difference = float(np.sqrt(np.mean((swr[:n] - other[:n]) ** 2)))
                row[resampler]["difference_from_swr"] = {
                    "db_below_signal": round(20 * np.log10(signal / difference), 1) if difference else None,
                    "max_of_32768": int(round(float(np.abs(swr[:n] - other[:n]).max()) * 32768)),
                }
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    common.save_result("resampler", {"environment": common.environment(), "films": rows})


if __name__ == "__main__":
    main()
