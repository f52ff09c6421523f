"""A real headless Chromium for the review page: the DOM after its scripts ran, and screenshots.

``rendered(page)`` returns what a person's browser shows: the summary numbers (``data-qc`` cells),
every table row with ``data-kind`` (cues, removed lines, songs, names) and how many bars plotly drew
in each lane of the timeline. Used by tests/test_review.py and bench/review_pages.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

# No network, no first-run dialogs, no GPU: the same page a subtitler opens from disk.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(page: Path, *args: str, timeout: int = 180, fragment: str = "") -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                *args,
                page.resolve().as_uri() + (f"#{fragment}" if fragment else ""),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 1800, fragment: str = "") -> Path:
    """A PNG of the page as Chromium draws it; ``fragment`` (e.g. ``t=600-660``) is the URL's #part."""
    _run(page, f"--window-size={width},{height}", f"--screenshot={out}", fragment=fragment)
    return out


@dataclass
class Rendered:
    summary: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> data-qc -> text
    rows: list[dict[str, str]] = field(default_factory=list)  # attributes of each row with data-kind
    row_text: list[str] = field(default_factory=list)  # the text of each of those rows
    bars: list[int] = field(default_factory=list)  # points plotly drew per bar trace, main plot first
    plotted: bool = False  # plotly drew its SVG


class _DomParser(HTMLParser):
    def __init__(self, result: Rendered):
        super().__init__(convert_charrefs=True)
        self.result = result
        self.lang: str | None = None
        self.cell: str | None = None
        self.row_depth: int | None = None
        self.text: list[str] = []
        self.stack: list[str] = []  # classes of open <g> elements

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        classes = attributes.get("class", "").split()
        if tag == "svg" and "main-svg" in classes:
            self.result.plotted = True
        if tag == "g":
            self.stack.append(" ".join(classes))
            if "trace" in classes and "bars" in classes:
                self.result.bars.append(0)
            elif "point" in classes and any("bars" in c.split() for c in self.stack[:-1]):
                self.result.bars[-1] += 1
        if tag == "tr":
            self.lang = attributes.get("data-lang")
            if "data-kind" in attributes:
                self.result.rows.append(attributes)
                self.row_depth, self.text = 1, []
        if tag == "td" and "data-qc" in attributes and self.lang:
            self.cell = attributes["data-qc"]
            self.result.summary.setdefault(self.lang, {})[self.cell] = ""

    def handle_endtag(self, tag):
        if tag == "g" and self.stack:
            self.stack.pop()
        if tag == "td":
            self.cell = None
            if self.row_depth:
                self.text.append(" ")
        if tag == "tr" and self.row_depth:
            self.result.row_text.append(" ".join("".join(self.text).split()))
            self.row_depth = None

    def handle_data(self, data):
        if self.cell and self.lang:
            self.result.summary[self.lang][self.cell] += data.strip()
        if self.row_depth:
            self.text.append(data)


def parse(dom: str) -> Rendered:
    result = Rendered()
    _DomParser(result).feed(dom)
    return result


def rendered(page: Path) -> Rendered:
    """The page as Chromium left it after running its scripts (plotly's SVG included)."""
    return parse(_run(page, "--dump-dom").stdout)


def chromium_or_skip():
    import pytest

    if chromium() is None:
        pytest.skip("chromium is not installed: apt-get install chromium (make test installs it as root)")
    return chromium()


def qc_numbers(qc: dict) -> dict[str, str]:
    """What the summary row of a language must show, from its qc.json."""
    cues = int(qc["cues"])
    numbers = {
        "cues": str(cues),
        "conforming": str(qc["conforming"]),
        "percent": f"{100.0 * qc['conforming'] / cues:.1f}" if cues else "100.0",
        "max_cps": str(qc["rules"]["max_cps"]),
        "merged_cues": str(qc.get("merged_cues", 0)),
        "lyrics_cues": str(qc.get("lyrics_cues", 0)),
    }
    numbers.update({f"violations.{rule}": str(count) for rule, count in qc["violations"].items()})
    return numbers


def check_page(page: Path, job_dir: Path, langs: list[str]) -> Rendered:
    """Assert the rendered page against the job's own files: every qc.json number, every cue of every
    SRT (index, times, text), every removed span, and one drawn bar per cue."""
    import json

    import srt
    from cinesub import qcfile, songsfile
    from cinesub import removed as removed_file

    shown = rendered(page)
    assert shown.plotted, "plotly did not draw the timeline"
    for lang in langs:
        qc = qcfile.load(job_dir / f"09_subtitle_gen/{lang}.qc.json")
        assert {k: shown.summary[lang][k] for k in qc_numbers(qc)} == qc_numbers(qc), lang
        cues = list(srt.parse((job_dir / f"09_subtitle_gen/{lang}.srt").read_text(encoding="utf-8")))
        rows = [
            (row, text)
            for row, text in zip(shown.rows, shown.row_text, strict=True)
            if row["data-kind"] == "cue" and row.get("data-lang") == lang
        ]
        assert len(rows) == len(cues) == qc["cues"], lang
        for cue, (row, text) in zip(cues, rows, strict=True):
            assert int(row["data-index"]) == cue.index
            assert abs(float(row["data-start"]) - cue.start.total_seconds()) < 1e-6
            assert abs(float(row["data-end"]) - cue.end.total_seconds()) < 1e-6
            assert " ".join(cue.content.split()) in text, (cue.content, text)
    removed_path = job_dir / "07_hallucination_removal/removed.json"
    removed = removed_file.load(removed_path)["removed"] if removed_path.exists() else []
    shown_removed = sorted(
        (float(r["data-start"]), float(r["data-end"]), t)
        for r, t in zip(shown.rows, shown.row_text, strict=True)
        if r["data-kind"] == "removed"
    )
    assert len(shown_removed) == len(removed)
    for entry, (start, end, text) in zip(
        sorted(removed, key=lambda e: (e["start"], e["end"])), shown_removed, strict=True
    ):
        assert (start, end) == (entry["start"], entry["end"]) and " ".join(entry["text"].split()) in text
    # the lanes, top to bottom: speech, songs, removed, one per language; plotly draws one bar per span
    # and no trace for an empty lane; the range slider's copies of the traces come after the main plot
    final = next(
        job_dir / stage / "segments.json"
        for stage in ("07_hallucination_removal", "06_lyrics_detection", "05_ner", "04_asr")
        if (job_dir / stage / "segments.json").exists()
    )
    songs_path = job_dir / "06_lyrics_detection/songs.json"
    songs = songsfile.load(songs_path) if songs_path.exists() else {}
    lanes = [
        len(json.loads(final.read_text())["segments"]),
        len(songs.get("songs", [])) + len(songs.get("rejected", [])),
        len(removed),
    ]
    lanes += [json.loads((job_dir / f"09_subtitle_gen/{lang}.qc.json").read_text())["cues"] for lang in langs]
    drawn = [count for count in lanes if count]
    assert shown.bars[: len(drawn)] == drawn, (lanes, shown.bars)
    return shown
