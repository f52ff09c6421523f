"""Screenshots of the review page (jobs/<job>/review/review.html) in headless Chromium, and its numbers
checked against the job's own files: the demo film, and a ~20-minute film.

The 20-minute film is 14 minutes of the benchmark dialogue around the four clean-set stretches
(tests/cleanset.py: babble, a sung song, instrumental music, long silence), so every lane of the timeline
has something in it. ASR runs with Whisper's skip-silence safeguards off (no VAD, no no-speech skip, one
temperature) - the conditions under which it invents text - so 07 has lines to remove. The job also has
a Hindi target translated by the tiny random IndicTrans2 stand-in of tests/tiny_indictrans.py: its text
is noise, its cues show the second language's lane and the side-by-side table.

    python bench/review_pages.py            # writes bench/results/review/*.png and review_pages.json
"""

from __future__ import annotations

import json
import shutil
import sys
import time

import common
import numpy as np

sys.path[:0] = [str(common.REPO / "tests")]
import browser  # noqa: E402
import cleanset  # noqa: E402

SHOTS = common.RESULTS / "review"
UNFILTERED_ASR = {
    "vad": False,
    "no_speech_threshold": 1.0,
    "log_prob_threshold": -100.0,
    "compression_ratio_threshold": 100.0,
    "temperatures": [0.0],
}


def twenty_minute_film() -> common.Path:
    import soundfile
    from scipy.signal import resample_poly

    film = common.OUT / "films" / "review_20min.mkv"
    if film.exists():
        return film
    _, wav, _ = common.speech_film(14)
    speech, rate = soundfile.read(str(wav), dtype="float32")
    speech = resample_poly(speech, cleanset.SR, rate).astype(np.float32)  # espeak's 22.05 kHz to 16 kHz
    cases = cleanset.build_cases()
    half = len(speech) // 2
    audio = np.concatenate(
        [
            cases["noise"].audio,
            speech[:half],
            cases["song"].audio,
            cases["music"].audio,
            speech[half:],
            cases["silence"].audio,
        ]
    )
    wav20 = film.with_suffix(".wav")
    soundfile.write(str(wav20), audio, cleanset.SR)
    common.synth.make_film(str(wav20), str(film), size="160x90", rate=5)
    return film


def build(name: str, jobs: list[dict], overrides: dict) -> tuple[common.Path, float]:
    workdir = common.OUT / "review" / name
    shutil.rmtree(workdir, ignore_errors=True)
    common.write_workdir(workdir, jobs, overrides)
    started = time.monotonic()
    result = common.timed_run(common.snakemake_command(workdir), cwd=workdir)
    if result["rc"] != 0:
        raise SystemExit(f"{name} failed:\n{result['output'][-3000:]}")
    return workdir, round(time.monotonic() - started, 1)


def shoot(job_dir: common.Path, langs: list[str], stem: str, zoom: str) -> dict:
    page = job_dir / "review" / "review.html"
    started = time.monotonic()
    shown = browser.check_page(page, job_dir, langs)
    checked_s = round(time.monotonic() - started, 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(page, SHOTS / f"{stem}.png", 1400, 2000)
    browser.screenshot(page, SHOTS / f"{stem}_zoom.png", 1400, 1100, fragment=zoom)
    return {
        "page_mb": round(page.stat().st_size / 2**20, 2),
        "chromium_check_s": checked_s,
        "cues": {lang: shown.summary[lang]["cues"] for lang in langs},
        "removed_rows": sum(r["data-kind"] == "removed" for r in shown.rows),
        "song_rows": sum(r["data-kind"] == "song" for r in shown.rows),
        "bars_drawn": shown.bars,
    }


def run() -> dict:
    results = {}
    demo = common.REPO / "demo" / "film.mkv"
    if not demo.exists():
        raise SystemExit("make demo first (it makes demo/film.mkv)")
    workdir, wall = build(
        "demo",
        [{"job": "demo", "media": str(demo), "source_lang": "en", "title": "cinesub demo", "year": "2026"}],
        {},
    )
    results["demo"] = {"pipeline_s": wall, **shoot(workdir / "jobs" / "demo", ["en"], "demo", "t=8-24")}
    film = twenty_minute_film()
    model = common.OUT / "models" / "indictrans_standin"
    if not model.exists():
        import tiny_indictrans

        tiny_indictrans.build_indictrans_standin(model)
    workdir, wall = build(
        "film20",
        [
            {
                "job": "film20",
                "media": str(film),
                "source_lang": "en",
                "target_langs": "hi",
                "title": "Twenty minutes",
                "year": "2026",
            }
        ],
        {
            "asr": UNFILTERED_ASR,
            "translation": {"models": {"en-indic": str(model)}, "num_beams": 1, "max_new_tokens": 16},
        },
    )
    results["film20"] = {
        "pipeline_s": wall,
        **shoot(workdir / "jobs" / "film20", ["en", "hi"], "film20", "t=560-680"),
    }
    (SHOTS / "review_pages.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    run()
