"""Batched ASR accuracy on films with names, songs and long gaps: 04_asr sequential, 04_asr batched, and
faster-whisper's own BatchedInferencePipeline at the same batch size.

    python bench/batched_accuracy.py [--batch-size 8]

Audio: the demo film (names: Mumbai, Priya, Rahul), the tests' English film (tests/conftest.py: Meera),
the four tests/cleanset.py cases (long silences, music, babble, a song between dialogue), a 2.5-minute
dialogue film, figure 1's 10-minute film and a film of sound-alike words ("mirror", "rally", "run home":
Meera, Rahul, Rohan) that no name may replace.
Every recording's job has the same cast (``CAST``: 22 names, the spoken ones among them, most never
spoken), whose glossary 03_glossary_load builds as it would for the job (``build_glossary``): its hotwords
reach 04 as in the workflow (asr.use_glossary_hotwords). ``false_names``: cast names in the text that the
reference does not have.
All modes use the shipped ``asr`` settings (schema defaults: tiny.en, int8, beam 5, temperatures
0/0.2/0.4, VAD, seed 0); the pipeline-own modes run through ``asr.transcribe_file`` exactly as 04_asr
does, fed the speech timeline 01_demux would write (``speech.find`` with the shipped ``demux.vad``).
WER: dialogue words only (jiwer, lower case, no punctuation; cleanset: words invented in the
non-dialogue stretches count as insertions), of 04's segments and of what 07_hallucination_removal keeps
of them (shipped settings; what reaches the subtitles), and how many segments 04 made of how many
sentences. ``04_asr_sequential_with_hotwords``: sequential decoding given the names too
(asr.use_glossary_hotwords: true), which ``auto`` does not do. ``--hotword-caps``: the batched mode again with
longer or shorter hotword lists (glossary.hotwords_max_tokens).
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
CAST = (
    "Meera, Priya, Rahul, Arjun, Kabir, Simran, Vikram, Anjali, Rohan, Neha, Shah Rukh Khan, Kajol, "
    "Amrish Puri, Farida Jalal, Anupam Kher, Satish Shah, Mandira Bedi, Parmeet Sethi, Himani Shivpuri, "
    "Pooja Ruparel, Karan Johar, Aditya Chopra"
).split(", ")
SOUND_ALIKES = (
    "She looked in the mirror before the meeting.",
    "The rally starts at noon near the station.",
    "Run home, the rain is coming.",
    "Never trust a quiet river at night.",
    "Our car broke down on the bridge again.",
    "Pour the tea and tell me everything.",
)


def cast_hotwords(max_tokens: int | None = None) -> str:
    """The hotwords 03_glossary_load writes for a job with ``CAST`` as its characters (shipped settings,
    or at most ``max_tokens`` of them)."""
    import conftest

    return conftest.cast_hotwords(CAST, max_tokens)


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
    lines = [
        synth.Line(text, pause_after=1.0 + 0.2 * (i % 3), speed=150) for i, text in enumerate(SOUND_ALIKES)
    ]
    sound_alikes, truth = build_film(folder / "sound_alikes", lines)
    out["sound_alikes"] = (sound_alikes, [t["text"] for t in truth])
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
    out = {name: (_to_16k(made[name][0]), made[name][1], None) for name in ("demo", "river", "sound_alikes")}
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
    import re

    text = " ".join(s["text"] for s in segments).lower()
    said = " ".join(reference if not case else [t for _, _, t in case.dialogue]).lower()
    cast_words = {w for name in CAST for w in re.findall(r"[a-z]+", name.lower())}
    return {
        "wer": round(_wer(segments, reference, case), 4),
        "wer_after_07": round(_wer(after_07(segments, timeline), reference, case), 4),
        "segments": len(segments),
        "sentences": len(reference if not case else case.dialogue),
        "names": [n for n in NAMES if n in said and n in text],
        "false_names": [w for w in re.findall(r"[a-z]+", text) if w in cast_words and w not in said],
    }


def shipped_vad() -> dict:
    from cinesub.configschema import validated_section

    return validated_section("demux", {})["vad"]


def pipeline_engine(
    batch_size: int, hotwords: str | None, hotword_policy: bool | str = "auto"
) -> tuple[dict, object]:
    """04_asr's settings (shipped, with ``batch_size`` and ``asr.use_glossary_hotwords`` =
    ``hotword_policy``) and its engine given the job glossary's ``hotwords``."""
    from cinesub import asr

    # speech_pad_s: the timeline's padding, which 04 reads from speech.json (asr.run)
    pad_s = shipped_vad()["pad_ms"] / 1000
    settings = {
        **shipped_settings(),
        "batch_size": batch_size,
        "speech_pad_s": pad_s,
        "use_glossary_hotwords": hotword_policy,
    }
    return settings, asr.load_engine(settings, "en", None, hotwords)


def pipeline_mode(batch_size: int, hotwords: str | None, hotword_policy: bool | str = "auto"):
    """04_asr as the workflow runs it: fed the speech timeline 01_demux finds (shipped demux.vad) and the
    job glossary's hotwords (used as ``asr.use_glossary_hotwords`` = ``hotword_policy`` says)."""
    from cinesub import asr, speech

    settings, engine = pipeline_engine(batch_size, hotwords, hotword_policy)

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
    parser.add_argument(
        "--hotword-caps",
        default="12,40,64",
        help="other glossary.hotwords_max_tokens to measure the batched mode with (comma-separated)",
    )
    args = parser.parse_args()
    size = args.batch_size
    films = audios()
    hotwords = cast_hotwords()
    modes = {
        "04_asr_sequential": lambda: pipeline_mode(1, hotwords),
        # what auto keeps sequential decoding from: the names on every decode
        "04_asr_sequential_with_hotwords": lambda: pipeline_mode(1, hotwords, hotword_policy=True),
        f"04_asr_batched_{size}": lambda: pipeline_mode(size, hotwords),
        f"04_asr_batched_{size}_no_hotwords": lambda: pipeline_mode(size, None),
        f"faster_whisper_batched_{size}": lambda: upstream_batched_mode(size),
    }
    caps = [int(c) for c in args.hotword_caps.split(",") if c]
    capped = {cap: cast_hotwords(cap) for cap in caps}
    for cap in caps:
        name = f"04_asr_batched_{size}_hotwords_{cap}_tokens"
        modes[name] = lambda cap=cap: pipeline_mode(size, capped[cap])
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
        "batched_accuracy",
        {
            "environment": common.environment(),
            "batch_size": size,
            "hotwords": hotwords,
            "capped_hotwords": {str(cap): words for cap, words in capped.items()},
            "modes": rows,
        },
    )


if __name__ == "__main__":
    main()
