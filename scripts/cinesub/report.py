"""Per-job figures and tables for ``snakemake --report``.

For each job: a timeline (speech segments, songs found by stage 06, segments dropped as hallucinations
by stage 07, subtitle cues per language), a reading-speed histogram per language, the subtitle-rule
conformance table from stage 09's QC files, and stage runtimes from the rules' benchmark files. Optional
stages may be switched off, so their inputs are optional.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import srt

from . import qcfile, songsfile
from . import removed as removed_file
from . import segments as segments_io
from .fileio import atomic_path, write_text_atomic
from .runner import optional_input

STAGE = "report"
PACKAGES = ("matplotlib", "pandas", "srt")  # the libraries whose versions its manifest records
SECTION = None  # reads no config section of its own
Span = tuple[float, float]

VIOLATION_COLUMNS = ["cps", "line_length", "lines", "min_duration", "max_duration", "gap", "overlap"]
BENCHMARK_COLUMNS = {"s": "seconds", "max_rss": "max_rss_mb", "cpu_time": "cpu_s"}


# ------------------------------------------------------------------------------------------ pure core


def song_spans(songs_report: dict | None) -> list[Span]:
    """Songs that 06_lyrics_detection accepted (its songs.json) as (start, end); not rejected candidates."""
    return [(song["start"], song["end"]) for song in (songs_report or {}).get("songs", [])]


def dropped_segments(removed_report: dict | None) -> list[dict]:
    """Segments 07_hallucination_removal dropped (its removed.json); trimmed segments stay on screen."""
    return [entry for entry in (removed_report or {}).get("removed", []) if entry.get("action") == "dropped"]


def cue_spans(srt_text: str) -> list[Span]:
    """(start, end) in seconds of every cue of an SRT file."""
    return [(cue.start.total_seconds(), cue.end.total_seconds()) for cue in srt.parse(srt_text)]


def timeline_lanes(
    speech: Sequence[dict], songs: Sequence[Span], removed: Sequence[dict], cues: dict[str, Sequence[Span]]
) -> list[tuple[str, list[Span]]]:
    """The timeline's lanes, top to bottom: (label, spans)."""
    lanes = [
        ("speech", [(seg["start"], seg["end"]) for seg in speech]),
        ("songs", list(songs)),
        ("removed", [(seg["start"], seg["end"]) for seg in removed]),
    ]
    lanes += [(f"cues {lang}", list(spans)) for lang, spans in cues.items()]
    return lanes


def conformance_table(qcs: dict[str, dict]) -> pd.DataFrame:
    """One row per subtitle language: cues, conforming share, and how often each rule was broken."""
    rows = []
    for lang, qc in qcs.items():
        cues = int(qc.get("cues", 0))
        conforming = int(qc.get("conforming", cues))
        row: dict[str, Any] = {
            "language": lang,
            "cues": cues,
            "conforming": conforming,
            "conformance_pct": round(100.0 * conforming / cues, 1) if cues else 100.0,
            "max_cps": (qc.get("rules") or {}).get("max_cps"),
        }
        violations = qc.get("violations") or {}
        row.update({rule: int(violations.get(rule, 0)) for rule in VIOLATION_COLUMNS})
        rows.append(row)
    columns = ["language", "cues", "conforming", "conformance_pct", "max_cps", *VIOLATION_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def benchmark_stage(path: str | os.PathLike) -> str:
    """``jobs/x/benchmarks/09_subtitle_gen.en.tsv`` -> ``09_subtitle_gen.en``."""
    return Path(path).name.removesuffix(".tsv")


def runtimes_table(benchmark_paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Stage runtimes from Snakemake benchmark files, in pipeline order (the stage number leads)."""
    rows = []
    for path in benchmark_paths:
        frame = pd.read_csv(path, sep="\t")
        if frame.empty:
            continue
        last = frame.iloc[-1]  # a benchmark file with repeats holds one row per repeat
        row = {"stage": benchmark_stage(path)}
        for column, name in BENCHMARK_COLUMNS.items():
            value = pd.to_numeric(last.get(column), errors="coerce")
            row[name] = None if pd.isna(value) else round(float(value), 3)
        rows.append(row)
    table = pd.DataFrame(rows, columns=["stage", *BENCHMARK_COLUMNS.values()])
    return table.sort_values("stage", key=lambda s: s.map(_stage_sort_key), ignore_index=True)


def _stage_sort_key(stage: str) -> tuple[int, str]:
    match = re.match(r"(\d+)_", stage)
    return (int(match.group(1)) if match else 99, stage)


def conformance_html(job: str, table: pd.DataFrame) -> str:
    """A small standalone HTML page with the conformance table."""
    body = table.to_html(index=False, border=0, classes="conformance", na_rep="")
    title = f"Subtitle rule conformance: {html.escape(job)}"
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head><body>\n'
        f"<h2>{title}</h2>\n{body}\n</body></html>\n"
    )


# ------------------------------------------------------------------------------------------- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on compute nodes
    import matplotlib.pyplot as plt

    return plt


LANE_COLOURS = {"speech": "tab:blue", "songs": "tab:purple", "removed": "tab:red"}


def plot_timeline(
    path: str | os.PathLike, job: str, lanes: list[tuple[str, list[Span]]], duration: float | None
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 0.6 * len(lanes) + 1.4))
    for row, (label, spans) in enumerate(lanes):
        colour = LANE_COLOURS.get(label, "tab:green")
        ax.broken_barh(
            [(start, max(end - start, 0.05)) for start, end in spans], (row - 0.4, 0.8), facecolors=colour
        )
    ax.set_yticks(range(len(lanes)), [f"{label} ({len(spans)})" for label, spans in lanes])
    ax.invert_yaxis()
    ends = [end for _, spans in lanes for _, end in spans]
    ax.set_xlim(0, max([duration or 0.0, *ends, 1.0]))
    ax.set_xlabel("time (s)")
    ax.set_title(f"{job}: speech, songs, removed hallucinations and subtitle cues")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_cps_histogram(
    path: str | os.PathLike, job: str, cps: dict[str, list[float]], limits: dict[str, float | None]
) -> None:
    plt = _pyplot()
    langs = list(cps) or ["(none)"]
    fig, axes = plt.subplots(1, len(langs), figsize=(4.5 * len(langs), 3.4), squeeze=False)
    for ax, lang in zip(axes[0], langs, strict=True):
        values = cps.get(lang, [])
        limit = limits.get(lang)
        top = max([*values, (limit or 20) * 1.5])
        ax.hist(values, bins=[2 * k for k in range(int(top // 2) + 2)], color="tab:blue", edgecolor="white")
        if limit:
            ax.axvline(limit, color="tab:red", linestyle="--", label=f"limit {limit:g} cps")
            ax.legend(loc="upper right")
        ax.set_title(f"{lang}: {len(values)} cues")
        ax.set_xlabel("characters per second")
        ax.set_ylabel("cues")
    fig.suptitle(f"{job}: reading speed")
    fig.tight_layout()
    _save(fig, path)


def plot_runtimes(path: str | os.PathLike, job: str, table: pd.DataFrame) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(table), 1) + 1.4))
    ax.barh(list(table["stage"]), list(table["seconds"].fillna(0.0)), color="tab:gray")
    ax.invert_yaxis()
    ax.set_xlabel("wall time (s)")
    ax.set_title(f"{job}: stage runtimes")
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    _pyplot().close(fig)


# ---------------------------------------------------------------------------------------- stage edge


def run(ctx: Any) -> None:
    job = ctx.job
    final = segments_io.load(ctx.input.segments)
    songs_path = optional_input(ctx.input, "songs")
    removed_path = optional_input(ctx.input, "removed")
    songs = song_spans(songsfile.load_optional(songs_path))
    removed = dropped_segments(removed_file.load_optional(removed_path))

    langs = list(ctx.params.langs)
    cue_files = dict(zip(langs, ctx.input.cues, strict=True))
    qc_files = dict(zip(langs, ctx.input.qc, strict=True))
    cues = {lang: cue_spans(Path(path).read_text(encoding="utf-8")) for lang, path in cue_files.items()}
    qcs = {lang: qcfile.load(path) for lang, path in qc_files.items()}

    plot_timeline(
        ctx.output.timeline,
        job,
        timeline_lanes(final["segments"], songs, removed, cues),
        final.get("duration"),
    )
    plot_cps_histogram(
        ctx.output.cps_hist,
        job,
        {lang: list(qc.get("cps", [])) for lang, qc in qcs.items()},
        {lang: (qc.get("rules") or {}).get("max_cps") for lang, qc in qcs.items()},
    )
    write_text_atomic(ctx.output.conformance, conformance_html(job, conformance_table(qcs)))

    benchmarks = sorted(Path(ctx.params.benchmark_dir).glob("*.tsv"))
    runtimes = runtimes_table(benchmarks)
    write_text_atomic(ctx.output.runtimes_csv, runtimes.to_csv(index=False))
    plot_runtimes(ctx.output.runtimes, job, runtimes)
    ctx.log.info(
        "%s: %d speech segments, %d songs, %d removed, cues %s, %d benchmark files",
        job,
        len(final["segments"]),
        len(songs),
        len(removed),
        {lang: len(spans) for lang, spans in cues.items()},
        len(benchmarks),
    )
