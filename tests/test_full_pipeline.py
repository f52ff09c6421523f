"""The default pipeline (every optional stage on) end to end through the real snakemake CLI:
each stage's output is read by the next, and the film's names reach the transcript's entities."""

from __future__ import annotations

import json

import pytest
import srt
from cinesub import manifest as manifest_file
from cinesub import metadatafile, qcfile, songsfile
from cinesub import removed as removed_file
from conftest import ffprobe_streams, run_snakemake, write_workdir

pytestmark = pytest.mark.slow

STAGES = [
    "01_demux",
    "02_tmdb",
    "03_glossary_load",
    "04_asr",
    "05_ner",
    "06_lyrics_detection",
    "07_hallucination_removal",
]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, english_film):
    film, truth = english_film
    workdir = write_workdir(
        tmp_path_factory.mktemp("full"),
        [{"job": "river", "media": str(film), "source_lang": "en", "title": "The River"}],
    )
    metadata_dir = workdir / "config" / "metadata"
    metadata_dir.mkdir()
    (metadata_dir / "river.json").write_text(
        json.dumps(
            {
                "title": "The River",
                "cast": [{"name": "Nandita Rao", "character": "Meera", "order": 0}],
                # tiny.en writes the name as "Mira", on some machines as "Mirror" (an Intel Xeon VM, with
                # the same packages): hand-written spelling variants map either back, as a subtitler's would
                "variants": {"Meera": ["Mira", "Mirror", "मीरा"]},
            }
        )
    )
    result = run_snakemake(workdir, "jobs/river/10_mux/out.mkv")
    return workdir, truth, result


def test_every_stage_ran_and_left_a_manifest(full_run):
    workdir, _, _ = full_run
    for stage in STAGES + ["10_mux"]:
        manifest = manifest_file.load(workdir / f"jobs/river/{stage}/manifest.json")
        assert manifest["stage"] == stage
    assert manifest_file.load(workdir / "jobs/river/09_subtitle_gen/en.manifest.json")["job"] == "river"


def test_segments_flow_forward_through_each_stage(full_run):
    workdir, _, _ = full_run
    docs = {
        stage: json.loads((workdir / f"jobs/river/{stage}/segments.json").read_text())
        for stage in ("04_asr", "05_ner", "06_lyrics_detection", "07_hallucination_removal")
    }
    assert [d["stage"] for d in docs.values()] == list(docs)
    # each stage's manifest names the previous stage's segments as an input
    for earlier, later in zip(list(docs)[:-1], list(docs)[1:]):
        inputs = [
            i["path"] for i in manifest_file.load(workdir / f"jobs/river/{later}/manifest.json")["inputs"]
        ]
        assert f"jobs/river/{earlier}/segments.json" in inputs
    qc = qcfile.load(workdir / "jobs/river/09_subtitle_gen/en.qc.json")
    assert qc["source_stage"] == "07_hallucination_removal"
    removed = removed_file.load(workdir / "jobs/river/07_hallucination_removal/removed.json")
    kept = len(docs["07_hallucination_removal"]["segments"])
    assert removed["summary"]["segments_in"] == len(docs["06_lyrics_detection"]["segments"])
    assert removed["summary"]["segments_out"] == kept
    songs = songsfile.load(workdir / "jobs/river/06_lyrics_detection/songs.json")
    assert songs["songs"] == []  # plain dialogue is not a song


def test_film_names_reach_glossary_and_entities(full_run):
    workdir, _, _ = full_run
    metadata = metadatafile.load(workdir / "jobs/river/02_tmdb/metadata.json")
    assert metadata["source"] == "file" and "Meera" in metadata["names"]
    glossary = json.loads((workdir / "jobs/river/03_glossary_load/glossary.json").read_text())
    assert any(n["name"] == "Meera" for n in glossary["names"])
    entities = json.loads((workdir / "jobs/river/05_ner/segments.json").read_text())
    tagged = [(s["text"], e) for s in entities["segments"] for e in s.get("entities", [])]
    assert any(
        e.get("canonical") == "Meera" and text[e["start_char"] : e["end_char"]] in ("Meera", "Mira")
        for text, e in tagged
    ), tagged


def test_subtitles_and_track(full_run):
    workdir, truth, _ = full_run
    cues = list(srt.parse((workdir / "jobs/river/09_subtitle_gen/en.srt").read_text(encoding="utf-8")))
    assert len(cues) >= len(truth) - 1
    subs = [
        s for s in ffprobe_streams(workdir / "jobs/river/10_mux/out.mkv") if s["codec_type"] == "subtitle"
    ]
    assert [s["tags"]["language"] for s in subs] == ["eng"]


def test_rerun_is_a_no_op(full_run):
    workdir, _, _ = full_run
    result = run_snakemake(workdir, "jobs/river/10_mux/out.mkv")
    assert "Nothing to be done" in result.stdout + result.stderr
