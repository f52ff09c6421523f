"""The review page: one self-contained HTML file per job that a subtitler works from.

``jobs/<job>/review/review.html`` holds an interactive timeline (plotly, its JavaScript inlined so the
page works offline and can be mailed): the film's loudness over time above lanes for speech, songs,
removed lines and the cues of every language, zoomable down to a single word and readable at two hours.
Below it: the rule-conformance numbers per language (from 09's ``<lang>.qc.json``), a table of every
cue (times, text, reading speed, lines, the rules it breaks and why, whether several segments were
merged into it or it was held on screen after its speech), with the source text beside each
translated cue; every segment 07 removed or trimmed with its text and reasons; the songs 06 found; the
names 05 found and the spellings it kept; links to the SRT, VTT and MKV files. Clicking a cue row
zooms the timeline to it; clicking a bar scrolls the tables to its row.

Pure core: :func:`loudness_curve` (samples in), :func:`cue_rows`, :func:`removed_rows`,
:func:`song_rows`, :func:`name_rows`, :func:`summary_rows`, :func:`timeline_figure`,
:func:`render_page`. I/O edge: :func:`run`.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import srt

from . import entitiesfile, languages, qcfile, songsfile
from . import removed as removed_file
from . import segments as segments_io
from .fileio import write_text_atomic
from .runner import optional_input

STAGE = "review"
PACKAGES = ("plotly", "jinja2")  # the libraries whose versions its manifest records
SECTION = None  # reads no config section of its own
TEMPLATE = Path(__file__).with_name("review_page.html.j2")
# Loudness: at most this many points (a 2-hour film: one per 0.36 s), never finer than MIN_STEP_S.
MAX_POINTS = 20_000
MIN_STEP_S = 0.1
FLOOR_DB = -60.0
# A cue shown this long after its last word was held on screen (09's linger), not just timed to speech.
EXTENDED_S = 0.05
RULE_NAMES = {
    "cps": "reading speed",
    "line_length": "line too long",
    "lines": "too many lines",
    "min_duration": "too short on screen",
    "max_duration": "too long on screen",
    "gap": "gap to next cue too small",
    "overlap": "overlaps next cue",
}
LANE_COLOURS = {
    "speech": "#4c78a8",
    "songs": "#8e6bbf",
    "dropped": "#d62728",
    "trimmed": "#ff9f1c",
    "cue": "#59a14f",
    "cue_broken": "#e15759",
    "cue_lyrics": "#b07aa1",
}


# ------------------------------------------------------------------------------------------ pure core


def loudness_curve(blocks: Iterable[np.ndarray], rate: int, step_s: float) -> tuple[list[float], list[float]]:
    """(block centre times in seconds, RMS level in dBFS, floored at FLOOR_DB) of consecutive blocks
    of ``step_s`` seconds."""
    times, levels = [], []
    position = 0
    for block in blocks:
        if not len(block):
            continue
        rms = math.sqrt(float(np.mean(np.square(block, dtype=np.float64))))
        times.append(round((position + len(block) / 2) / rate, 3))
        levels.append(round(max(FLOOR_DB, 20 * math.log10(max(rms, 1e-9))), 1))
        position += len(block)
    return times, levels


def loudness_step(duration_s: float) -> float:
    return max(MIN_STEP_S, duration_s / MAX_POINTS)


def timecode(seconds: float) -> str:
    """``h:mm:ss.mmm``: what a subtitler types into an editor."""
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def parse_cues(srt_text: str) -> list[dict]:
    """Every cue of an SRT file: 1-based index as numbered in the file, times, lines (markup kept)."""
    return [
        {
            "index": cue.index,
            "start": cue.start.total_seconds(),
            "end": cue.end.total_seconds(),
            "lines": cue.content.splitlines(),
        }
        for cue in srt.parse(srt_text)
    ]


def _overlapping(segments: Sequence[dict], start: float, end: float) -> list[dict]:
    return [seg for seg in segments if seg["start"] < end and seg["end"] > start]


def cue_rows(
    lang: str,
    cues: Sequence[dict],
    qc: dict,
    segments: Sequence[dict],
    source_cues: Sequence[dict] | None = None,
) -> list[dict]:
    """One table row per cue: times, text, cps (from qc.json), lines, broken rules and their reason,
    how many segments it was made of, how long it was held after its speech, the source text beside
    a translated cue."""
    broken = {entry["index"]: entry for entry in qc.get("nonconforming", [])}
    cps = list(qc.get("cps", []))
    rows = []
    for position, cue in enumerate(cues):
        spoken = _overlapping(segments, cue["start"], cue["end"])
        speech_end = max((seg["end"] for seg in spoken), default=cue["end"])
        entry = broken.get(cue["index"], {})
        text = "\n".join(cue["lines"])
        row = {
            "lang": lang,
            "index": cue["index"],
            "start": cue["start"],
            "end": cue["end"],
            "duration": round(cue["end"] - cue["start"], 3),
            "text": text,
            "lines": len(cue["lines"]),
            "longest_line": max((len(_plain(line)) for line in cue["lines"]), default=0),
            "cps": cps[position] if position < len(cps) else None,
            "rules": list(entry.get("rules", [])),
            "reason": entry.get("reason", ""),
            "segments": len(spoken),
            "extended_s": round(max(0.0, cue["end"] - speech_end), 3),
            "lyrics": "♪" in text or "<i>" in text,
        }
        if source_cues is not None:
            row["source"] = "\n".join(
                " ".join(c["lines"]) for c in _overlapping(source_cues, cue["start"], cue["end"])
            )
        rows.append(row)
    return rows


def _plain(line: str) -> str:
    for tag in ("<i>", "</i>", "<b>", "</b>"):
        line = line.replace(tag, "")
    return line


def removed_rows(removed_report: dict | None) -> list[dict]:
    """Every segment 07 removed (dropped) or trimmed, in time order, with text and reasons."""
    rows = []
    for entry in (removed_report or {}).get("removed", []):
        reasons = entry.get("reasons") or ([entry["reason"]] if entry.get("reason") else [])
        details = entry.get("details") or {}
        rows.append(
            {
                "id": entry.get("id"),
                "start": float(entry["start"]),
                "end": float(entry["end"]),
                "action": entry.get("action", "dropped"),
                "text": entry.get("text", ""),
                "kept_text": entry.get("kept_text", ""),
                "reasons": list(reasons),
                "details": "; ".join(f"{k}: {v}" for k, v in details.items())
                if isinstance(details, dict)
                else str(details),
            }
        )
    return sorted(rows, key=lambda row: (row["start"], row["end"]))


def song_rows(songs_report: dict | None) -> list[dict]:
    """Songs 06 accepted, then the candidates it rejected (with why)."""
    report = songs_report or {}
    rows = []
    for song, accepted in [(s, True) for s in report.get("songs", [])] + [
        (s, False) for s in report.get("rejected", [])
    ]:
        rows.append(
            {
                "start": float(song["start"]),
                "end": float(song["end"]),
                "accepted": accepted,
                "confidence": song.get("confidence"),
                "cues_fired": ", ".join(song.get("cues_fired", [])),
                "sung_lines": len(song.get("segment_ids", [])),
                "why": "" if accepted else song.get("rejected_because", ""),
            }
        )
    return rows


def name_rows(entities: dict | None) -> list[dict]:
    """Names 05 found: the spelling kept, how it was heard when that differs, label, count, finder."""
    rows = []
    for name in (entities or {}).get("names", []):
        canonical = name.get("canonical", "")
        heard = [form for form in name.get("forms", []) if form != canonical]
        rows.append(
            {
                "canonical": canonical,
                "heard_as": ", ".join(heard),
                "label": name.get("label", ""),
                "count": name.get("count", 0),
                "sources": ", ".join(name.get("sources", [])),
            }
        )
    return rows


def summary_rows(qcs: dict[str, dict]) -> list[dict]:
    """Per language the qc.json numbers the page shows: cues, conforming, share, each rule's count."""
    rows = []
    for lang, qc in qcs.items():
        cues = int(qc.get("cues", 0))
        conforming = int(qc.get("conforming", cues))
        rows.append(
            {
                "lang": lang,
                "name": _language_name(lang),
                "cues": cues,
                "conforming": conforming,
                "percent": f"{100.0 * conforming / cues:.1f}" if cues else "100.0",
                "max_cps": (qc.get("rules") or {}).get("max_cps"),
                "merged": int(qc.get("merged_cues", 0)),
                "lyrics": int(qc.get("lyrics_cues", 0)),
                "violations": {rule: int((qc.get("violations") or {}).get(rule, 0)) for rule in RULE_NAMES},
            }
        )
    return rows


def _language_name(lang: str) -> str:
    try:
        return languages.get(lang).name
    except Exception:  # noqa: BLE001 - a name is a nicety; the code is shown anyway
        return lang


def _bar_trace(
    go: Any,
    lane: str,
    spans: Sequence[tuple[float, float]],
    hover: Sequence[str],
    ids: Sequence[str],
    colours: Sequence[str] | str,
    epoch: Any,
) -> Any:
    import pandas as pd

    starts = [epoch + pd.Timedelta(seconds=start) for start, _ in spans]
    return go.Bar(
        y=[lane] * len(spans),
        base=starts,
        x=[max(end - start, 0.02) * 1000 for start, end in spans],
        orientation="h",
        marker={"color": colours, "line": {"width": 0}},
        hovertext=list(hover),
        hoverinfo="text",
        customdata=list(ids),
        name=lane,
        showlegend=False,
        width=0.8,
    )


def _cue_hover(row: dict) -> str:
    broken = ", ".join(RULE_NAMES[rule] for rule in row["rules"] if rule in RULE_NAMES)
    text = html.escape(row["text"]).replace("\n", "<br>")
    return (
        f"{timecode(row['start'])} #{row['index']} {row['cps'] or 0:.1f} cps"
        + (f" — {broken}" if broken else "")
        + f"<br>{text}"
    )


def _cue_colour(row: dict) -> str:
    if row["rules"]:
        return LANE_COLOURS["cue_broken"]
    return LANE_COLOURS["cue_lyrics"] if row["lyrics"] else LANE_COLOURS["cue"]


def timeline_figure(
    duration: float,
    loudness: tuple[list[float], list[float]],
    speech: Sequence[dict],
    songs: Sequence[dict],
    removed: Sequence[dict],
    cues: dict[str, list[dict]],
) -> Any:
    """Loudness over time above one lane per kind of span, on one zoomable time axis (h:mm:ss)."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    epoch = pd.Timestamp(0)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.28, 0.72], vertical_spacing=0.02)
    times, levels = loudness
    fig.add_trace(
        go.Scatter(
            x=[epoch + pd.Timedelta(seconds=t) for t in times],
            y=[level - FLOOR_DB for level in levels],
            mode="lines",
            line={"width": 1, "color": "#7f7f7f"},
            fill="tozeroy",
            name="loudness",
            hovertemplate="%{x|%H:%M:%S.%L}<br>%{customdata} dBFS<extra></extra>",
            customdata=levels,
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    # one lane per kind of span, top to bottom: (label, spans, hover text, row id to find, colours)
    lanes: list[tuple[str, Sequence[dict], list[str], list[str], Any]] = [
        (
            "speech",
            speech,
            [f"{timecode(s['start'])} segment {s['id']}: {html.escape(s['text'])}" for s in speech],
            [""] * len(speech),
            LANE_COLOURS["speech"],
        ),
        (
            "songs",
            songs,
            [
                f"{timecode(s['start'])}–{timecode(s['end'])} song"
                + ("" if s["accepted"] else f" candidate rejected: {s['why']}")
                for s in songs
            ],
            [f"song-{i}" for i in range(len(songs))],
            [LANE_COLOURS["songs"] if s["accepted"] else "#cccccc" for s in songs],
        ),
        (
            "removed",
            removed,
            [
                f"{timecode(r['start'])} {r['action']} ({', '.join(r['reasons'])}): {html.escape(r['text'])}"
                for r in removed
            ],
            [f"removed-{i}" for i in range(len(removed))],
            [LANE_COLOURS.get(r["action"], LANE_COLOURS["dropped"]) for r in removed],
        ),
    ]
    lanes += [
        (
            f"cues {lang}",
            rows,
            [_cue_hover(r) for r in rows],
            [f"cue-{lang}-{r['index']}" for r in rows],
            [_cue_colour(r) for r in rows],
        )
        for lang, rows in cues.items()
    ]
    for label, spans, hover, ids, colours in lanes:
        trace = _bar_trace(go, label, [(s["start"], s["end"]) for s in spans], hover, ids, colours, epoch)
        fig.add_trace(trace, row=2, col=1)
    order = ["speech", "songs", "removed", *[f"cues {lang}" for lang in cues]]
    end = max(duration, 1.0)
    fig.update_yaxes(
        categoryorder="array", categoryarray=list(reversed(order)), fixedrange=True, row=2, col=1
    )
    fig.update_yaxes(title_text="dB over −60", fixedrange=True, range=[0, -FLOOR_DB], row=1, col=1)
    fig.update_xaxes(
        type="date", tickformat="%H:%M:%S", range=[epoch, epoch + pd.Timedelta(seconds=end)], showgrid=True
    )
    fig.update_xaxes(rangeslider={"visible": True, "thickness": 0.06}, row=2, col=1)
    fig.update_layout(
        height=260 + 34 * len(order),
        margin={"l": 70, "r": 20, "t": 10, "b": 10},
        bargap=0.1,
        hovermode="closest",
        dragmode="zoom",
        plot_bgcolor="white",
    )
    return fig


def render_page(context: dict) -> str:
    """The page from its Jinja2 template; ``context`` is what :func:`run` gathers."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    env.filters["timecode"] = timecode
    return env.get_template(TEMPLATE.name).render(**context, rule_names=RULE_NAMES)


def figure_html(fig: Any) -> str:
    """The figure as a <div> with plotly.js inlined: the page needs no network."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id="timeline",
        config={"scrollZoom": True, "displaylogo": False, "responsive": True},
    )


# ---------------------------------------------------------------------------------------- stage edge


def read_loudness(audio_path: str) -> tuple[list[float], list[float]]:
    import soundfile

    info = soundfile.info(audio_path)
    hop = max(1, int(loudness_step(info.duration) * info.samplerate))
    blocks = soundfile.blocks(audio_path, blocksize=hop, dtype="float32", always_2d=False)
    return loudness_curve(
        (b.mean(axis=1) if b.ndim > 1 else b for b in blocks), info.samplerate, hop / info.samplerate
    )


def _link(target: str | os.PathLike, page: str | os.PathLike) -> str:
    """``target`` relative to the page's folder, so the job folder can be moved or copied whole."""
    return os.path.relpath(os.fspath(target), os.path.dirname(os.fspath(page)) or ".")


def run(ctx: Any) -> None:
    job = ctx.job
    langs = list(ctx.params.langs)
    source = str(ctx.params.source_lang)
    final = segments_io.load(ctx.input.segments)
    songs_path, removed_path, entities_path = (
        optional_input(ctx.input, n) for n in ("songs", "removed", "entities")
    )
    songs = song_rows(songsfile.load_optional(songs_path))
    removed = removed_rows(removed_file.load_optional(removed_path))
    names = name_rows(entitiesfile.load_optional(entities_path))
    qcs = {lang: qcfile.load(path) for lang, path in zip(langs, ctx.input.qc, strict=True)}
    parsed = {
        lang: parse_cues(Path(path).read_text(encoding="utf-8"))
        for lang, path in zip(langs, ctx.input.srt, strict=True)
    }
    track_segments = {
        lang: segments_io.load(path)["segments"]
        for lang, path in zip(langs, ctx.input.track_segments, strict=True)
    }
    source_cues = parsed.get(source)
    cues = {
        lang: cue_rows(
            lang, parsed[lang], qcs[lang], track_segments[lang], source_cues if lang != source else None
        )
        for lang in langs
    }
    duration = float(final.get("duration") or max([s["end"] for s in final["segments"]] or [0.0]))
    loudness = read_loudness(ctx.input.audio)
    figure = timeline_figure(duration, loudness, final["segments"], songs, removed, cues)
    page = ctx.output.html
    vtt = dict(zip(langs, ctx.input.vtt, strict=True)) if getattr(ctx.input, "vtt", None) else {}
    links = [{"label": "film with subtitles (MKV)", "href": _link(ctx.input.mkv, page)}]
    for lang, path in zip(langs, ctx.input.srt, strict=True):
        links.append({"label": f"{_language_name(lang)} ({lang}) SRT", "href": _link(path, page)})
        if lang in vtt:
            links.append({"label": f"{_language_name(lang)} ({lang}) VTT", "href": _link(vtt[lang], page)})
    context = {
        "job": job,
        "title": str(ctx.params.title or ""),
        "source": source,
        "duration": duration,
        "speech_segments": len(final["segments"]),
        "summary": summary_rows(qcs),
        "cues": cues,
        "removed": removed,
        "songs": songs,
        "names": names,
        "links": links,
        "timeline": figure_html(figure),
    }
    write_text_atomic(page, render_page(context))
    ctx.log.info(
        "%s: %d speech segments, cues %s, %d removed, %d songs, %d names, %d loudness points",
        job,
        len(final["segments"]),
        {lang: len(rows) for lang, rows in cues.items()},
        len(removed),
        len(songs),
        len(names),
        len(loudness[0]),
    )
