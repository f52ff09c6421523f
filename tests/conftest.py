"""Shared fixtures: synthetic films with known text and timing, and a real snakemake CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from cinesub import jobsheet, synth  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# Sentences unlike the demo's, with varied length and pauses (truth times come from synthesis).
ENGLISH_LINES = [
    synth.Line("The river was quiet when the boats came back.", pause_after=1.2, speed=150),
    synth.Line("Meera counted the nets twice before she spoke.", pause_after=0.9, speed=150),
    synth.Line("We lost two of them in the storm last night.", pause_after=1.6, speed=150),
    synth.Line("Nobody is hurt, and that is what matters.", pause_after=1.0, speed=150),
    synth.Line("Tomorrow we will mend them at the old jetty.", pause_after=2.0, speed=150),
    synth.Line("Bring tea for everyone, it is going to be cold.", pause_after=1.0, speed=150),
]

NO_OPTIONAL_STAGES = {
    "tmdb": False,
    "glossary": False,
    "ner": False,
    "lyrics": False,
    "hallucination": False,
    "translation": False,
}


def build_film(
    directory: Path,
    lines: list[synth.Line],
    name: str = "film.mkv",
    lead_in: float = 1.0,
    audio_codec: str = "libopus",
) -> tuple[Path, list[dict]]:
    import soundfile

    directory.mkdir(parents=True, exist_ok=True)
    samples, truth = synth.build_speech(lines, lead_in)
    wav = directory / (Path(name).stem + ".speech.wav")
    soundfile.write(str(wav), samples, synth.SAMPLE_RATE)
    film = directory / name
    synth.make_film(str(wav), str(film), audio_codec=audio_codec)
    (directory / (Path(name).stem + ".truth.json")).write_text(json.dumps(truth))
    return film, truth


@pytest.fixture(scope="session")
def english_film(tmp_path_factory) -> tuple[Path, list[dict]]:
    return build_film(tmp_path_factory.mktemp("films"), ENGLISH_LINES)


def cast_hotwords(names: list[str], max_tokens: int | None = None) -> str:
    """The hotwords 03_glossary_load writes for a job whose cast are ``names`` (each its own character),
    with the shipped glossary settings, or at most ``max_tokens`` of them."""
    from cinesub import glossary_load
    from cinesub.configschema import validated_section

    settings = validated_section("glossary", {})
    metadata = {"cast": [{"name": n, "character": n, "order": i} for i, n in enumerate(names)]}
    cap = settings["hotwords_max_tokens"] if max_tokens is None else max_tokens
    count = glossary_load.token_counter()
    doc = glossary_load.build_glossary([], [], metadata, "en", settings["prompt_max_tokens"], count, cap)
    return doc["hotwords"]


def write_workdir(workdir: Path, jobs: list[dict], config_overrides: dict | None = None) -> Path:
    """A working directory with config/config.yaml (the shipped one + overrides) and a job sheet."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in (config_overrides or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    (workdir / "config" / "jobs.tsv").write_text(jobsheet.sheet_text(jobs))
    return workdir


def run_snakemake(
    workdir: Path, *args: str, env: dict | None = None, timeout: int = 900, check: bool = True
) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (profiles apply only there)."""
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **(env or {}),
    }
    result = subprocess.run(
        command, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def ffmpeg(*args: str) -> None:
    """ffmpeg quietly, never waiting on stdin, overwriting its output; fails the test on error."""
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def ffprobe_streams(path: Path) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["streams"]


@pytest.fixture
def has_tool():
    def check(name: str) -> bool:
        return shutil.which(name) is not None

    return check


def media_summary(audio_seconds: float, fps: float | None = 25.0, **given) -> dict:
    """A media.json as 01 writes it for a film with no streams a test cares about; the test's values win."""
    media = {
        "path": "film.mkv",
        "format": "matroska,webm",
        "duration": audio_seconds,
        "size": None,
        "bit_rate": None,
        "fps": fps,
        "streams": [],
        "audio_stream": 0,
        "clip": {"start": 0.0, "end": None},
        "audio_seconds": audio_seconds,
        "sample_rate": 16000,
        "warnings": [],
    }
    return {**media, **given}


def save_qc(path: Path, lang: str, cps: list[float], conforming: int, **given) -> None:
    """A <lang>.qc.json as 09 writes it (validated by its one writer); the test's values win."""
    from cinesub import qcfile

    cues = len(cps)
    qc = {
        "cues": cues,
        "conforming": conforming,
        "violations": {},
        "nonconforming": [],
        "language": lang,
        "source_stage": "07_hallucination_removal",
        "segments": cues,
        "conformance": round(conforming / cues, 4) if cues else 1.0,
        "rules": {},
        "lyrics_style": "italic_note",
        "cps": cps,
        "cps_histogram": {"edges": [], "counts": []},
        "merged_cues": 0,
        "sentences_mid_cue": [],
        "lyrics_cues": 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    qcfile.save(path, {**qc, **given})


def song_span(start: float, end: float, **given) -> dict:
    """A songs.json span with every field its schema requires; the test's own values win."""
    span = {
        "start": start,
        "end": end,
        "duration": round(end - start, 3),
        "confidence": 0.9,
        "vocal_share": 0.8,
        "cues_fired": ["sung_voice"],
        "audio": {},
        "transcript": {"repeated_lines": 0.0},
        "segment_ids": [],
    }
    return {**span, **given}


def save_songs(path: Path, job: str, songs: list[dict], rejected: list[dict] = ()) -> None:
    """A songs.json as 06 writes it (validated by its one writer), from the spans a test cares about."""
    from cinesub import songsfile

    path.parent.mkdir(parents=True, exist_ok=True)
    songsfile.save(
        path,
        {
            "job": job,
            "stage": "06_lyrics_detection",
            "action": "style",
            "songs": songs,
            "rejected": list(rejected),
            "dropped_segments": [],
            "settings": {},
        },
    )


def save_removed(path: Path, job: str, removed: list[dict]) -> None:
    """A removed.json as 07 writes it (validated by its one writer), from the removals a test cares about."""
    from cinesub import removed as removed_file

    required = {"lyrics": False, "reasons": ["boilerplate"], "spans": [], "details": {}, "evidence": {}}
    entries = [{**required, **entry} for entry in removed]
    dropped = sum(entry["action"] == "dropped" for entry in entries)
    summary = {
        "segments_in": len(entries),
        "segments_out": len(entries) - dropped,
        "dropped": dropped,
        "trimmed": len(entries) - dropped,
        "flagged": 0,
        "words_in": 0,
        "words_out": 0,
        "removed_word_share": 0.0,
        "by_reason": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    removed_file.save(
        path,
        {
            "schema_version": 1,
            "job": job,
            "stage": "07_hallucination_removal",
            "summary": summary,
            "removed": entries,
            "flagged": [],
            "settings": {},
        },
    )
