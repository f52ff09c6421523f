"""Batched ASR accuracy on films with names, songs and long gaps: 04_asr sequential, 04_asr batched, and
faster-whisper's own BatchedInferencePipeline at the same batch size.

    python bench/batched_accuracy.py [--batch-size 8]

Audio: the demo film (names: Mumbai, Priya, Rahul), the tests' English film (tests/conftest.py: Meera),
the four tests/cleanset.py cases (long silences, music, babble, a song between dialogue), a 2.5-minute
dialogue film and figure 1's 10-minute film.
All modes use the shipped ``asr`` settings (schema defaults: tiny.en, int8, beam 5, temperatures
0/0.2/0.4, VAD, seed 0); the pipeline-own modes run through ``asr.transcribe_file`` exactly as 04_asr
does, fed the speech timeline 01_demux would write (``speech.find`` with the shipped ``demux.vad``).
WER: dialogue words only (jiwer, lower case, no punctuation; cleanset: words invented in the
non-dialogue stretches count as insertions), of 04's segments and of what 07_hallucination_removal keeps
of them (shipped settings; what reaches the subtitles).
Writes ``bench/results/batched_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import common

sys.path.insert(0, str(common.REPO / "tests"))

NAMES = ("mumbai", "priya", "rahul", "meera")


def shipped_settings() -> dict:
    from cinesub.configschema import validated_section

    return validated_section("asr", {})


def films(folder) -> dict:
    """name -> (film, reference sentences): the demo film, the tests' English film and the 2.5- and
    10-minute dialogue films (bench/resampler.py decodes the same films)."""
    from cinesub import synth
    from conftest import ENGLISH_LINES, build_film

    folder.mkdir(parents=True, exist_ok=True)
    demo = folder / "demo.mkv"
    if not demo.exists():
        synth.make_demo(str(common.REPO / "resources/demo/script.tsv"), str(demo), str(folder / "demo.json"))
    out = {"demo": (demo, [t["text"] for t in json.loads((folder / "demo.json").read_text())["sentences"]])}
    river, river_truth = build_film(folder / "river", ENGLISH_LINES)  # the tests' English film (Meera)
    out["river"] = (river, [t["text"] for t in river_truth])
    film, _, sentences = common.speech_film(2.5)
    out["dialogue_2.5min"] = (film, [t["text"] for t in sentences])
    film, _, sentences = common.speech_film(10.0)  # figure 1's film
    out["dialogue_10min"] = (film, [t["text"] for t in sentences])
    return out


def audios() -> dict:
    """name -> (16 kHz wav, reference sentences, cleanset case or None)."""
    import cleanset

    folder = common.OUT / "batched_accuracy"
    made = films(folder)
    out = {name: (_to_16k(made[name][0]), made[name][1], None) for name in ("demo", "river")}
    for name, case in cleanset.build_cases().items():
        out[f"cleanset_{name}"] = (case.write(folder / f"{name}.wav"), [t for _, _, t in case.dialogue], case)
    for name in ("dialogue_2.5min", "dialogue_10min"):
        out[name] = (_to_16k(made[name][0]), made[name][1], None)
    return out


def _to_16k(film):
    wav = film.with_suffix(".16k.wav")
    if not wav.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(film), "-vn", "-ac", "1", "-ar", "16000", str(wav)],
            check=True,
        )
    return wav


def _wer(segments: list[dict], reference: list[str], case) -> float:
    import cleanset

    if case:
        return cleanset.dialogue_wer(segments, case)
    return common.wer(reference, [s["text"] for s in segments])


def after_07(segments: list[dict], timeline: list[tuple[float, float]]) -> list[dict]:
    """The segments 07_hallucination_removal keeps (shipped settings): what reaches the subtitles."""
    from cinesub import hallucination_removal
    from cinesub import segments as seglib

    cfg = hallucination_removal.settings({})
    phrases = hallucination_removal.load_phrases(
        common.REPO / cfg["phrases_dir"], "en", list(cfg["extra_phrase_languages"])
    )
    doc = seglib.new_document("bench", "en", "04_asr", [dict(s, id=i) for i, s in enumerate(segments)])
    return hallucination_removal.clean(doc, cfg, phrases, timeline)[0]["segments"]


def score(segments: list[dict], reference: list[str], case, timeline) -> dict:
    text = " ".join(s["text"] for s in segments).lower()
    return {
        "wer": round(_wer(segments, reference, case), 4),
        "wer_after_07": round(_wer(after_07(segments, timeline), reference, case), 4),
        "names": [n for n in NAMES if n in " ".join(reference).lower() and n in text],
    }


def shipped_vad() -> dict:
    from cinesub.configschema import validated_section

    return validated_section("demux", {})["vad"]


def pipeline_mode(batch_size: int):
    """04_asr as the workflow runs it: fed the speech timeline 01_demux finds (shipped demux.vad)."""
    from cinesub import asr, speech

    # speech_pad_s: the timeline's padding, which 04 reads from speech.json (asr.run)
    pad_s = shipped_vad()["pad_ms"] / 1000
    settings = {**shipped_settings(), "batch_size": batch_size, "speech_pad_s": pad_s}
    engine = asr.load_engine(settings, "en")

    def transcribe(wav) -> tuple[list[dict], dict]:
        engine.redecoded_chunks = 0
        timeline = speech.find(wav, shipped_vad())
        segments = asr.transcribe_file(str(wav), settings, "en", engine=engine, speech=timeline)
        return segments, {"redecoded_chunks": getattr(engine, "redecoded_chunks", 0)}

    return transcribe


def upstream_batched_mode(batch_size: int):
    """BatchedInferencePipeline as its README shows it, with the same decoding settings."""
    import ctranslate2
    from cinesub import asr
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    settings = shipped_settings()
    ctranslate2.set_random_seed(0)
    model = WhisperModel(
        asr.resolve_model(settings["model"]),
        device="cpu",
        compute_type="int8",
        cpu_threads=settings["threads"],
    )
    pipeline = BatchedInferencePipeline(model)
    options = asr.decode_options(settings, "en", None)

    def transcribe(wav) -> tuple[list[dict], dict]:
        raw, _ = pipeline.transcribe(str(wav), batch_size=batch_size, vad_filter=True, **options)
        return [{"start": s.start, "end": s.end, "text": s.text.strip(), "words": []} for s in raw], {}

    return transcribe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    size = args.batch_size
    films = audios()
    modes = {
        "04_asr_sequential": lambda: pipeline_mode(1),
        f"04_asr_batched_{size}": lambda: pipeline_mode(size),
        f"faster_whisper_batched_{size}": lambda: upstream_batched_mode(size),
    }
    from cinesub import speech

    timelines = {name: speech.find(wav, shipped_vad()) for name, (wav, _, _) in films.items()}
    rows: dict[str, dict] = {}
    for mode, make in modes.items():
        transcribe = make()
        rows[mode] = {}
        for name, (wav, reference, case) in films.items():
            started = time.perf_counter()
            segments, extra = transcribe(wav)
            rows[mode][name] = {
                "wall_s": round(time.perf_counter() - started, 2),
                **score(segments, reference, case, timelines[name]),
                **extra,
            }
            print(mode, name, rows[mode][name], flush=True)
        rows[mode]["total"] = {
            "wall_s": round(sum(r["wall_s"] for r in rows[mode].values()), 2),
            "mean_wer": round(sum(r["wer"] for r in rows[mode].values()) / len(films), 4),
            "mean_wer_after_07": round(sum(r["wer_after_07"] for r in rows[mode].values()) / len(films), 4),
        }
    common.save_result(
        "batched_accuracy", {"environment": common.environment(), "batch_size": size, "modes": rows}
    )


if __name__ == "__main__":
    main()
