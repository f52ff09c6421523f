"""The review page (scripts/cinesub/review.py): its pieces, the page of a job, and the page in Chromium.

The browser tests open the page in a real headless Chromium (Debian's ``chromium``), let plotly draw,
and check what it shows against the job's own files: every qc.json number, every cue of every SRT,
every removed span, one drawn bar per cue.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import srt
from browser import check_page, chromium_or_skip, parse, screenshot
from cinesub import entitiesfile, review
from cinesub import manifest as manifest_file
from cinesub import segments as segments_io
from cinesub.runner import StageContext
from conftest import (
    NO_OPTIONAL_STAGES,
    run_snakemake,
    save_qc,
    save_removed,
    save_songs,
    song_span,
    write_workdir,
)

RATE = 16000


def seg(sid: int, start: float, end: float, text: str, lyrics: bool = False) -> dict:
    return {"id": sid, "start": start, "end": end, "text": text, "lyrics": lyrics}


def srt_of(cues: list[tuple[float, float, str]]) -> str:
    return srt.compose(
        [
            srt.Subtitle(index=i + 1, start=timedelta(seconds=a), end=timedelta(seconds=b), content=text)
            for i, (a, b, text) in enumerate(cues)
        ]
    )


# ------------------------------------------------------------------------------------------ pure core


def test_loudness_curve_levels():
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)
    silence = np.zeros(RATE, dtype=np.float32)
    times, levels = review.loudness_curve([tone[:8000], tone[8000:], silence], RATE, 0.5)
    assert times == [0.25, 0.75, 1.5]
    # a sine of amplitude 0.5 has an RMS of 0.354: -9.0 dBFS; silence sits on the floor
    assert levels[:2] == [-9.0, -9.0] and levels[2] == review.FLOOR_DB
    assert review.loudness_step(7200) == pytest.approx(0.36) and review.loudness_step(10) == review.MIN_STEP_S


def test_timecode():
    assert review.timecode(3725.5) == "1:02:05.500" and review.timecode(0.0414) == "0:00:00.041"


def test_cue_rows_merged_held_broken_and_source():
    segments = [seg(0, 1.0, 2.0, "Hello."), seg(1, 2.2, 3.0, "Again."), seg(2, 5.0, 6.0, "Later.")]
    cues = review.parse_cues(srt_of([(1.0, 3.0, "Hello.\nAgain."), (5.0, 6.5, "<i>♪ Later ♪</i>")]))
    qc = {"cps": [6.5, 8.0], "nonconforming": [{"index": 2, "rules": ["cps"], "reason": "too fast"}]}
    rows = review.cue_rows("hi", cues, qc, segments, source_cues=cues)
    first, second = rows
    assert (first["segments"], first["extended_s"], first["lines"], first["rules"]) == (2, 0.0, 2, [])
    assert (second["segments"], second["extended_s"], second["rules"], second["reason"]) == (
        1,
        0.5,
        ["cps"],
        "too fast",
    )
    assert second["lyrics"] and second["longest_line"] == len("♪ Later ♪") and first["cps"] == 6.5
    assert first["source"] == "Hello. Again." and "source" not in review.cue_rows("en", cues, qc, segments)[0]


def test_removed_songs_names_and_summary():
    removed = review.removed_rows(
        {
            "removed": [
                {
                    "id": 4,
                    "start": 9.0,
                    "end": 10.0,
                    "text": "yes yes yes",
                    "action": "trimmed",
                    "kept_text": "yes",
                    "reasons": ["repetition_loop"],
                    "details": {"repetition_loop": "x3"},
                },
                {
                    "id": 1,
                    "start": 2.0,
                    "end": 3.0,
                    "text": "Thanks for watching!",
                    "action": "dropped",
                    "reasons": ["boilerplate"],
                },
            ]
        }
    )
    assert [(r["id"], r["action"], r["reasons"]) for r in removed] == [
        (1, "dropped", ["boilerplate"]),
        (4, "trimmed", ["repetition_loop"]),
    ]
    assert removed[1]["details"] == "repetition_loop: x3" and removed[1]["kept_text"] == "yes"
    songs = review.song_rows(
        {
            "songs": [
                {"start": 10, "end": 50, "confidence": 0.8, "cues_fired": ["a"], "segment_ids": [3, 4]}
            ],
            "rejected": [{"start": 60, "end": 70, "rejected_because": "instrumental"}],
        }
    )
    assert [(s["accepted"], s["sung_lines"], s["why"]) for s in songs] == [
        (True, 2, ""),
        (False, 0, "instrumental"),
    ]
    names = review.name_rows(
        {
            "names": [
                {
                    "canonical": "Priya",
                    "forms": ["Priya", "Pria"],
                    "label": "PERSON",
                    "count": 3,
                    "sources": ["gazetteer"],
                }
            ]
        }
    )
    assert names == [
        {"canonical": "Priya", "heard_as": "Pria", "label": "PERSON", "count": 3, "sources": "gazetteer"}
    ]
    summary = review.summary_rows(
        {"en": {"cues": 8, "conforming": 6, "rules": {"max_cps": 20}, "violations": {"cps": 2}}}
    )[0]
    assert (summary["percent"], summary["violations"]["cps"], summary["violations"]["gap"]) == ("75.0", 2, 0)


# ---------------------------------------------------------------------------------------- a job's page


def fabricated_job(root: Path) -> tuple[StageContext, Path]:
    """A job folder laid out as the stages write it: two languages, a rule broken, removals, a song."""
    job = root / "jobs" / "j1"
    for sub in (
        "01_demux",
        "05_ner",
        "06_lyrics_detection",
        "07_hallucination_removal",
        "08_translation",
        "09_subtitle_gen",
        "10_mux",
        "review",
    ):
        (job / sub).mkdir(parents=True)
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(30 * RATE) / RATE)
    soundfile.write(str(job / "01_demux/audio.wav"), tone.astype(np.float32), RATE)
    (job / "10_mux/out.mkv").write_bytes(b"")
    source = [
        seg(0, 1.0, 3.0, "Hello & welcome <home>."),
        seg(1, 3.2, 4.0, "Come in."),
        seg(2, 10.0, 14.0, "la la la", lyrics=True),
        seg(3, 20.0, 22.0, "Good night."),
    ]
    final = job / "07_hallucination_removal/segments.json"
    segments_io.save(
        final, segments_io.new_document("j1", "en", "07_hallucination_removal", source, duration=30.0)
    )
    target = [dict(s, text=f"[hi] {s['text']}") for s in source]
    hi_segments = job / "08_translation/hi.segments.json"
    segments_io.save(
        hi_segments, segments_io.new_document("j1", "hi", "08_translation", target, duration=30.0)
    )
    en = [
        (1.0, 4.0, "Hello & welcome <home>.\nCome in."),
        (10.0, 14.0, "<i>♪ la la la ♪</i>"),
        (20.0, 22.5, "Good night."),
    ]
    hi = [(1.0, 3.0, "[hi] Hello & welcome."), (3.2, 4.0, "[hi] Come in."), (20.0, 22.0, "[hi] Good night.")]
    for lang, cues, broken in (
        (
            "en",
            en,
            [
                {
                    "index": 1,
                    "start": 1.0,
                    "end": 4.0,
                    "text": en[0][2],
                    "rules": ["cps"],
                    "reason": "reading speed 25.0 cps",
                }
            ],
        ),
        ("hi", hi, []),
    ):
        (job / f"09_subtitle_gen/{lang}.srt").write_text(srt_of(cues), encoding="utf-8")
        (job / f"09_subtitle_gen/{lang}.vtt").write_text("WEBVTT\n", encoding="utf-8")
        save_qc(
            job / f"09_subtitle_gen/{lang}.qc.json",
            lang,
            [25.0, 5.0, 6.0],
            len(cues) - len(broken),
            nonconforming=broken,
            violations={**dict.fromkeys(review.RULE_NAMES, 0), "cps": len(broken)},
            rules={"max_cps": 20},
            merged_cues=1 if lang == "en" else 0,
            lyrics_cues=int(lang == "en"),
        )
    save_removed(
        job / "07_hallucination_removal/removed.json",
        "j1",
        [
            {
                "id": 9,
                "start": 25.0,
                "end": 28.0,
                "text": "Thanks for watching!",
                "action": "dropped",
                "reasons": ["boilerplate"],
                "details": {},
            },
            {
                "id": 3,
                "start": 20.0,
                "end": 22.0,
                "text": "Good night. Subscribe!",
                "action": "trimmed",
                "kept_text": "Good night.",
                "reasons": ["boilerplate"],
                "details": {},
            },
        ],
    )
    save_songs(
        job / "06_lyrics_detection/songs.json",
        "j1",
        [song_span(9.5, 14.5, confidence=0.9, cues_fired=["beat_regularity"], segment_ids=[2])],
    )
    names = [
        {
            "canonical": "Priya",
            "forms": ["Pria"],
            "label": "PERSON",
            "count": 1,
            "sources": ["gazetteer"],
            "segments": [0],
        }
    ]
    counts = {"gazetteer_forms": 1, "entities": 1, "distinct_names": 1, "name_corrections": 0}
    entitiesfile.save(
        job / "05_ner/entities.json",
        {
            "job": "j1",
            "language": "en",
            "model": "",
            "labels": [],
            **counts,
            "segments": [],
            "names": names,
            "corrections": [],
        },
    )
    sub = job / "09_subtitle_gen"
    inputs = SimpleNamespace(
        mkv=str(job / "10_mux/out.mkv"),
        audio=str(job / "01_demux/audio.wav"),
        segments=str(final),
        track_segments=[str(final), str(hi_segments)],
        srt=[str(sub / "en.srt"), str(sub / "hi.srt")],
        vtt=[str(sub / "en.vtt"), str(sub / "hi.vtt")],
        qc=[str(sub / "en.qc.json"), str(sub / "hi.qc.json")],
        songs=[str(job / "06_lyrics_detection/songs.json")],
        removed=str(job / "07_hallucination_removal/removed.json"),
        entities=[str(job / "05_ner/entities.json")],
    )
    ctx = StageContext(
        stage="review",
        job="j1",
        input=inputs,
        output=SimpleNamespace(html=str(job / "review/review.html")),
        params=SimpleNamespace(langs=["en", "hi"], source_lang="en", title="A <Test> Film"),
    )
    return ctx, job


def test_page_holds_every_cue_removal_song_and_name(tmp_path):
    ctx, job = fabricated_job(tmp_path)
    review.run(ctx)
    page = Path(ctx.output.html).read_text(encoding="utf-8")
    shown = parse(page)
    cues = [
        (r["data-lang"], int(r["data-index"]), float(r["data-start"]))
        for r in shown.rows
        if r["data-kind"] == "cue"
    ]
    assert cues == [
        ("en", 1, 1.0),
        ("en", 2, 10.0),
        ("en", 3, 20.0),
        ("hi", 1, 1.0),
        ("hi", 2, 3.2),
        ("hi", 3, 20.0),
    ]
    texts = dict(
        zip([(r["data-kind"], r.get("data-start")) for r in shown.rows], shown.row_text, strict=False)
    )
    # the source text stands beside the translation; text is escaped, not markup
    assert "[hi] Hello & welcome. Hello & welcome <home>. Come in." in shown.row_text[3]
    assert "&lt;home&gt;" in page and "A &lt;Test&gt; Film" in page
    assert [r["data-start"] for r in shown.rows if r["data-kind"] == "removed"] == ["20.0", "25.0"]
    assert (
        "Thanks for watching!" in texts[("removed", "25.0")] and "boilerplate" in texts[("removed", "25.0")]
    )
    assert [r["data-kind"] for r in shown.rows].count("song") == 1
    assert "Priya Pria PERSON" in shown.row_text[-1]
    assert shown.summary["en"]["violations.cps"] == "1" and shown.summary["hi"]["cues"] == "3"
    for href in ("../10_mux/out.mkv", "../09_subtitle_gen/en.srt", "../09_subtitle_gen/hi.vtt"):
        assert f'href="{href}"' in page
    # plotly.js is inlined: the page loads no script from anywhere and works offline
    assert "<script src=" not in page and "<link" not in page and "Plotly.newPlot" in page


def test_page_in_chromium(tmp_path):
    chromium_or_skip()
    ctx, job = fabricated_job(tmp_path)
    review.run(ctx)
    shown = check_page(Path(ctx.output.html), job, ["en", "hi"])
    assert shown.bars[:6] == [4, 1, 2, 3, 3, 4]
    shot = screenshot(Path(ctx.output.html), tmp_path / "page.png", width=1200, height=900)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


# ------------------------------------------------------------------------------------------ real jobs


@pytest.mark.slow
def test_review_page_of_a_real_job_beside_out_mkv(tmp_path, english_film):
    """The default target builds the page; Chromium shows every cue and removal of the job, and its qc
    numbers."""
    chromium_or_skip()
    film, _ = english_film
    stages = {**NO_OPTIONAL_STAGES, "glossary": True, "ner": True, "lyrics": True, "hallucination": True}
    workdir = write_workdir(
        tmp_path / "work",
        [{"job": "film1", "media": str(film), "source_lang": "en", "title": "River"}],
        {"stages": stages},
    )
    run_snakemake(workdir)
    job = workdir / "jobs/film1"
    page = job / "review/review.html"
    assert (job / "10_mux/out.mkv").is_file() and page.is_file()
    shown = check_page(page, job, ["en"])
    assert shown.plotted and shown.summary["en"]["cues"] != "0"
    manifest = manifest_file.load(job / "review/manifest.json")
    assert manifest["stage"] == "review"
