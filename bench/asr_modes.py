"""ASR alone on the same 16 kHz audio: bare faster-whisper vs the 04_asr engine, sequential and batched.

The batched mode decodes bounded chunks cut at pauses in one batch and re-decodes sequentially any
chunk that fails the quality checks, so its WER is measured next to the sequential one, never assumed.
"""

from __future__ import annotations

import json
import time

import common


def _engine_run(audio: str, batch_size: int) -> dict:
    from cinesub import asr
    from cinesub.configschema import validated_section

    settings = validated_section("asr", {"batch_size": batch_size})
    started = time.perf_counter()
    engine = asr.load_engine(settings, "en")
    segments = asr.transcribe_file(audio, settings, "en", engine=engine)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "texts": [s["text"] for s in segments],
        "redecoded_chunks": getattr(engine, "redecoded_chunks", 0),
    }


def run(minutes: float = 10.0, runs: int = 3, batch_size: int = 8) -> dict:
    import soundfile

    _, wav, truth = common.speech_film(minutes)
    audio = common.OUT / "tmp" / f"asr_modes_{minutes:g}min.16k.wav"
    audio.parent.mkdir(parents=True, exist_ok=True)
    if not audio.exists():
        samples, rate = soundfile.read(str(wav), dtype="float32")
        import librosa

        soundfile.write(
            str(audio), librosa.resample(samples, orig_sr=rate, target_sr=16000), 16000, subtype="PCM_16"
        )
    reference = [t["text"] for t in truth]
    rows: dict[str, list[dict]] = {"bare": [], "engine_sequential": [], f"engine_batched_{batch_size}": []}
    for _ in range(runs):
        out = common.OUT / "tmp" / "asr_modes_bare.json"
        bare = common.timed_run(
            [common.PYTHON, str(common.REPO / "bench" / "bare_whisper.py"), str(audio), str(out)]
        )
        texts = json.loads(out.read_text())["texts"]
        rows["bare"].append({"wall_s": bare["wall_s"], "wer": common.wer(reference, texts)})
        for name, size in (("engine_sequential", 1), (f"engine_batched_{batch_size}", batch_size)):
            result = _engine_run(str(audio), size)
            rows[name].append(
                {
                    "wall_s": result["wall_s"],
                    "wer": common.wer(reference, result["texts"]),
                    "redecoded_chunks": result["redecoded_chunks"],
                }
            )
        print(
            "  asr modes: "
            + ", ".join(f"{k} {v[-1]['wall_s']:.1f} s WER {v[-1]['wer']:.3f}" for k, v in rows.items()),
            flush=True,
        )
    summary = {
        name: {
            "wall_s_median": common.median([r["wall_s"] for r in runs_]),
            "wer_median": common.median([r["wer"] for r in runs_]),
            "runs": runs_,
        }
        for name, runs_ in rows.items()
    }
    bare_s = summary["bare"]["wall_s_median"]
    for row in summary.values():
        row["vs_bare"] = round(row["wall_s_median"] / bare_s, 3)
    return {"film_minutes": minutes, "batch_size": batch_size, "modes": summary}


def table(result: dict) -> str:
    return "\n".join(
        f"{name:<22} {row['wall_s_median']:>7.1f} s  x{row['vs_bare']:.2f} of bare  "
        f"WER {row['wer_median']:.3f}"
        for name, row in result["modes"].items()
    )
