"""The per-job report figures (scripts/cinesub/report.py) and `snakemake --report` end to end."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image
import pandas as pd
import pytest
import srt
from cinesub import qcfile, report
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

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def seg(start: float, end: float, text: str = "words here", lyrics: bool = False) -> dict:
    return {"id": 0, "start": start, "end": end, "text": text, "lyrics": lyrics}


def save_doc(path: Path, stage: str, segments: list[dict], duration: float = 60.0) -> Path:
    segments_io.save(path, segments_io.new_document("j1", "en", stage, segments, duration=duration))
    return path


def write_benchmark(path: Path, seconds: float, rss: float, cpu: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds}\t0:00:01\t{rss}\t1.0\t1.0\t1.0\t0.0\t0.0\t50.0\t{cpu}\n"
    )
    return path


def srt_text(spans: list[tuple[float, float]]) -> str:
    return srt.compose(
        [
            srt.Subtitle(
                index=i + 1, start=timedelta(seconds=a), end=timedelta(seconds=b), content=f"cue {i}"
            )
            for i, (a, b) in enumerate(spans)
        ]
    )


# ------------------------------------------------------------------------------------------ pure core


def test_song_spans_are_the_accepted_songs_only():
    songs_report = {
        "songs": [{"start": 10.0, "end": 52.5, "confidence": 0.8}, {"start": 90.0, "end": 130.0}],
        "rejected": [{"start": 60.0, "end": 70.0, "rejected_because": "instrumental"}],
    }
    assert report.song_spans(songs_report) == [(10.0, 52.5), (90.0, 130.0)]
    assert report.song_spans({"songs": []}) == [] and report.song_spans(None) == []


def test_dropped_segments_leave_out_trimmed_ones():
    removed_report = {
        "removed": [
            {"id": 3, "start": 5.0, "end": 6.0, "text": "thanks for watching", "action": "dropped"},
            {
                "id": 4,
                "start": 7.0,
                "end": 9.0,
                "text": "yes yes yes",
                "action": "trimmed",
                "kept_text": "yes",
            },
            {"id": 9, "start": 20.0, "end": 21.0, "text": "subscribe", "action": "dropped"},
        ]
    }
    assert [s["id"] for s in report.dropped_segments(removed_report)] == [3, 9]
    assert report.dropped_segments(None) == []


def test_cue_spans_reads_srt():
    assert report.cue_spans(srt_text([(1.0, 2.5), (3.25, 4.0)])) == [(1.0, 2.5), (3.25, 4.0)]


def test_timeline_lanes_order_and_counts():
    lanes = report.timeline_lanes(
        [seg(0, 1), seg(2, 3)], [(5, 9)], [seg(4, 4.5)], {"en": [(0, 1)], "hi": [(0, 1), (2, 3)]}
    )
    assert [(label, len(spans)) for label, spans in lanes] == [
        ("speech", 2),
        ("songs", 1),
        ("removed", 1),
        ("cues en", 1),
        ("cues hi", 2),
    ]


def test_conformance_table_from_qc():
    qcs = {
        "en": {
            "cues": 8,
            "conforming": 6,
            "rules": {"max_cps": 20},
            "violations": {"cps": 1, "line_length": 1},
        },
        "hi": {"cues": 0, "conforming": 0, "rules": {"max_cps": 22}, "violations": {}},
    }
    table = report.conformance_table(qcs)
    en = table.set_index("language").loc["en"]
    assert (en["cues"], en["conforming"], en["conformance_pct"], en["max_cps"]) == (8, 6, 75.0, 20)
    assert (en["cps"], en["line_length"], en["gap"]) == (1, 1, 0)
    assert table.set_index("language").loc["hi", "conformance_pct"] == 100.0
    page = report.conformance_html("j<1>", table)
    assert "<table" in page and "j&lt;1&gt;" in page and "75.0" in page


def test_runtimes_table_in_pipeline_order(tmp_path):
    paths = [
        write_benchmark(tmp_path / "10_mux.tsv", 0.5, 10.0, 0.1),
        write_benchmark(tmp_path / "04_asr.tsv", 12.25, 300.5, 20.0),
        write_benchmark(tmp_path / "09_subtitle_gen.hi.tsv", 0.2, 5.0, 0.1),
        write_benchmark(tmp_path / "report.tsv", 0.1, 1.0, 0.0),
    ]
    empty = tmp_path / "01_demux.tsv"
    empty.write_text("s\th:m:s\tmax_rss\tcpu_time\n")
    table = report.runtimes_table([*paths, empty])
    assert list(table["stage"]) == ["04_asr", "09_subtitle_gen.hi", "10_mux", "report"]
    asr = table.iloc[0]
    assert (asr["seconds"], asr["max_rss_mb"], asr["cpu_s"]) == (12.25, 300.5, 20.0)


def test_runtimes_table_tolerates_missing_columns(tmp_path):
    path = tmp_path / "02_tmdb.tsv"
    path.write_text("s\th:m:s\n0.75\t0:00:00\n")
    row = report.runtimes_table([path]).iloc[0]
    assert row["seconds"] == 0.75 and row["max_rss_mb"] is None


# ------------------------------------------------------------------------------------------- figures


def read_png(path: Path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    return matplotlib.image.imread(str(path))


def test_plots_are_real_pngs_sized_by_content(tmp_path):
    few = [("speech", [(0, 1)]), ("songs", []), ("removed", [])]
    many = few + [(f"cues {lang}", [(0, 1)]) for lang in ("en", "hi", "ta")]
    report.plot_timeline(tmp_path / "few.png", "j1", few, duration=10.0)
    report.plot_timeline(tmp_path / "many.png", "j1", many, duration=None)
    assert read_png(tmp_path / "many.png").shape[0] > read_png(tmp_path / "few.png").shape[0]

    report.plot_cps_histogram(tmp_path / "one.png", "j1", {"en": [12.0, 15.5, 25.0]}, {"en": 20})
    report.plot_cps_histogram(tmp_path / "two.png", "j1", {"en": [12.0], "hi": []}, {"en": 20, "hi": None})
    report.plot_cps_histogram(tmp_path / "none.png", "j1", {}, {})
    assert read_png(tmp_path / "two.png").shape[1] > read_png(tmp_path / "one.png").shape[1]
    read_png(tmp_path / "none.png")

    table = pd.DataFrame({"stage": ["01_demux", "04_asr"], "seconds": [0.3, None]})
    report.plot_runtimes(tmp_path / "runtimes.png", "j1", table)
    read_png(tmp_path / "runtimes.png")


# ---------------------------------------------------------------------------------------- stage edge


def make_context(tmp_path: Path, with_optional: bool) -> StageContext:
    jobdir = tmp_path / "jobs" / "j1"
    final = save_doc(
        jobdir / "07_hallucination_removal/segments.json",
        "07_hallucination_removal",
        [
            seg(1, 3, "hello there"),
            seg(8, 12, "la la", lyrics=True),
            seg(13, 16, "la la la", lyrics=True),
            seg(20, 22, "goodbye"),
        ],
    )
    songs = jobdir / "06_lyrics_detection/songs.json"
    save_songs(songs, "j1", [song_span(7.5, 16.5), song_span(30.0, 60.0)])
    removed = jobdir / "07_hallucination_removal/removed.json"
    save_removed(
        removed,
        "j1",
        [
            {"id": 1, "start": 5, "end": 6, "text": "subscribe", "action": "dropped"},
            {"id": 4, "start": 20, "end": 22, "text": "goodbye goodbye", "action": "trimmed"},
        ],
    )
    srt_path = jobdir / "09_subtitle_gen/en.srt"
    srt_path.parent.mkdir(parents=True, exist_ok=True)
    srt_path.write_text(srt_text([(1, 3), (8, 12), (13, 16), (20, 22.5)]))
    qc_path = jobdir / "09_subtitle_gen/en.qc.json"
    save_qc(qc_path, "en", [10.0, 12.5, 21.0, 8.0], 3, violations={"cps": 1}, rules={"max_cps": 20})
    write_benchmark(jobdir / "benchmarks/04_asr.tsv", 2.0, 280.0, 1.9)
    write_benchmark(jobdir / "benchmarks/01_demux.tsv", 0.3, 5.0, 0.0)
    out = jobdir / "report"
    inputs = SimpleNamespace(
        segments=str(final),
        cues=[str(srt_path)],
        qc=[str(qc_path)],
        songs=[str(songs)] if with_optional else [],
        removed=str(removed) if with_optional else [],
    )
    outputs = SimpleNamespace(
        timeline=str(out / "timeline.png"),
        cps_hist=str(out / "cps_hist.png"),
        conformance=str(out / "conformance.html"),
        runtimes=str(out / "runtimes.png"),
        runtimes_csv=str(out / "runtimes.csv"),
    )
    params = SimpleNamespace(langs=["en"], benchmark_dir=str(jobdir / "benchmarks"))
    return StageContext(stage="report", job="j1", input=inputs, output=outputs, params=params)


@pytest.mark.parametrize("with_optional", [True, False], ids=["all-stages", "optional-stages-off"])
def test_run_writes_every_figure(tmp_path, caplog, with_optional):
    ctx = make_context(tmp_path, with_optional)
    with caplog.at_level("INFO", logger="cinesub"):
        report.run(ctx)
    for name in ("timeline", "cps_hist", "runtimes"):
        read_png(Path(getattr(ctx.output, name)))
    runtimes = pd.read_csv(ctx.output.runtimes_csv)
    assert list(runtimes["stage"]) == ["01_demux", "04_asr"]
    assert "<table" in Path(ctx.output.conformance).read_text()
    expected = "2 songs, 1 removed" if with_optional else "0 songs, 0 removed"
    assert f"4 speech segments, {expected}, cues {{'en': 4}}" in caplog.text


# ------------------------------------------------------------------------------------ snakemake --report


@pytest.mark.slow
def test_snakemake_report_embeds_the_figures(tmp_path, english_film):
    film, _ = english_film
    # every stage that runs offline: 06 and 07 write the songs.json and removed.json the timeline reads
    stages = {**NO_OPTIONAL_STAGES, "glossary": True, "ner": True, "lyrics": True, "hallucination": True}
    workdir = write_workdir(
        tmp_path / "work", [{"job": "film1", "media": str(film), "source_lang": "en"}], {"stages": stages}
    )
    target = "jobs/film1/report/timeline.png"
    run_snakemake(workdir, target)
    run_snakemake(workdir, "--report", "report.html", target)

    page = (workdir / "report.html").read_text(encoding="utf-8")
    embedded = {
        name: base64.b64decode(data)
        for name, data in re.findall(
            r"data:image/png;charset=utf8;filename=([\w.]+);base64,([A-Za-z0-9+/=]+)", page
        )
    }
    for name in ("timeline.png", "cps_hist.png", "runtimes.png"):
        assert embedded.get(name) == (workdir / "jobs/film1/report" / name).read_bytes(), name
    for name in ("conformance.html", "runtimes.csv"):
        assert f'"jobs/film1/report/{name}"' in page
    assert '"figure": "timeline"' in page and "Reading speed of the subtitle cues" in page

    runtimes = pd.read_csv(workdir / "jobs/film1/report/runtimes.csv")
    assert list(runtimes["stage"]) == [
        "01_demux",
        "03_glossary_load",
        "04_asr",
        "05_ner",
        "06_lyrics_detection",
        "06_lyrics_detection.windows",  # its analysis rule (lyrics_detection_analyse)
        "07_hallucination_removal",
        "09_subtitle_gen.en",
        "10_mux",
    ]
    assert (runtimes["seconds"] > 0).all()
    conformance = (workdir / "jobs/film1/report/conformance.html").read_text()
    qc = qcfile.load(workdir / "jobs/film1/09_subtitle_gen/en.qc.json")
    assert f"<td>{qc['cues']}</td>" in conformance
