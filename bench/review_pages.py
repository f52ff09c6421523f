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


def two_hour_page() -> dict:
    """A page for a 2-hour film with two languages, from synthetic data in the stages' formats (no
    pipeline run): how big it gets and how long Chromium takes to draw it."""
    import random

    from cinesub import review

    rng = random.Random(3)
    job_dir = common.OUT / "review" / "two_hours" / "jobs" / "long"
    shutil.rmtree(job_dir.parents[1], ignore_errors=True)
    segments, at = [], 5.0
    while at < 7200 - 10:
        length = rng.uniform(1.0, 5.0)
        words = " ".join(
            rng.choice(["train", "station", "morning", "river", "house", "tea"]) for _ in range(8)
        )
        segments.append(
            {"id": len(segments), "start": round(at, 3), "end": round(at + length, 3), "text": words}
        )
        at += length + rng.uniform(0.3, 3.0)
    cues = {}
    for lang in ("en", "hi"):
        rows = review.cue_rows(
            lang,
            [
                {
                    "index": i + 1,
                    "start": s["start"],
                    "end": s["end"],
                    "lines": [s["text"][:30], s["text"][30:]],
                }
                for i, s in enumerate(segments)
            ],
            {"cps": [15.0] * len(segments), "nonconforming": []},
            segments,
            None
            if lang == "en"
            else [{"start": s["start"], "end": s["end"], "lines": [s["text"]]} for s in segments],
        )
        cues[lang] = rows
    step = review.loudness_step(7200)
    times = [round(step * (k + 0.5), 3) for k in range(int(7200 / step))]
    loudness = (times, [round(-60 + 40 * rng.random(), 1) for _ in times])
    removed = [
        {
            "id": k,
            "start": 100.0 * k + 1,
            "end": 100.0 * k + 2,
            "action": "dropped",
            "text": "Thanks!",
            "kept_text": "",
            "reasons": ["boilerplate"],
            "details": "",
        }
        for k in range(40)
    ]
    figure = review.timeline_figure(7200.0, loudness, segments, [], removed, cues)
    qc = {
        lang: {"cues": len(rows), "conforming": len(rows), "violations": {}, "rules": {"max_cps": 20}}
        for lang, rows in cues.items()
    }
    page = job_dir / "review" / "review.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        review.render_page(
            {
                "job": "long",
                "title": "Two hours",
                "source": "en",
                "duration": 7200.0,
                "speech_segments": len(segments),
                "summary": review.summary_rows(qc),
                "cues": cues,
                "removed": removed,
                "songs": [],
                "names": [],
                "links": [],
                "timeline": review.figure_html(figure),
            }
        ),
        encoding="utf-8",
    )
    started = time.monotonic()
    shown = browser.rendered(page)
    drawn_s = round(time.monotonic() - started, 1)
    assert shown.bars[:4] == [len(segments), len(removed), len(segments), len(segments)], shown.bars[:4]
    browser.screenshot(page, SHOTS / "two_hours.png", 1400, 1100)
    browser.screenshot(page, SHOTS / "two_hours_zoom.png", 1400, 1100, fragment="t=3600-3690")
    return {
        "segments": len(segments),
        "cues": {lang: len(rows) for lang, rows in cues.items()},
        "loudness_points": len(times),
        "page_mb": round(page.stat().st_size / 2**20, 2),
        "chromium_render_s": drawn_s,
    }


def run() -> dict:
    results = {"two_hours": two_hour_page()}
    print(results)
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
