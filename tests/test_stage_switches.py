"""Stage switches: config turns 02, 03, 05, 06, 07 and 08 on or off and the DAG reroutes, so each stage
reads the segments of the previous enabled producer; invalid combinations stop before any job runs.

Dry runs (`snakemake -n`) through the real CLI show the DAG; one end-to-end run shows the reroute in the
files themselves.
"""

from __future__ import annotations

import json
import re

import pytest
from cinesub import manifest as manifest_file
from cinesub import qcfile
from conftest import NO_OPTIONAL_STAGES, ffprobe_streams, run_snakemake, write_workdir

pytestmark = pytest.mark.slow

ALL_ON = {key: True for key in NO_OPTIONAL_STAGES}
# Producers of the source-language segments, in order, with their switch (None: always on).
PRODUCERS = [
    ("04_asr", None),
    ("05_ner", "ner"),
    ("06_lyrics_detection", "lyrics"),
    ("07_hallucination_removal", "hallucination"),
]
CONSUMERS = {
    "ner_tag": "05_ner",
    "lyrics_detection_detect": "06_lyrics_detection",
    "hallucination_removal_filter": "07_hallucination_removal",
    "translation_translate": "08_translation",
    "subtitle_gen_write": "09_subtitle_gen",
    "report_plots": "99_report",
}
OPTIONAL_RULES = {
    "tmdb": ("tmdb_fetch",),
    "glossary": ("glossary_load_merge",),
    "ner": ("ner_tag",),
    "lyrics": ("lyrics_detection_analyse", "lyrics_detection_detect"),
    "hallucination": ("hallucination_removal_filter",),
    "translation": ("translation_translate",),
}
ALWAYS = {"demux_extract", "asr_transcribe", "subtitle_gen_write", "mux_tracks", "report_plots"}
JOB = "film"
TARGET = f"jobs/{JOB}/report/timeline.png"


def expected_segments(stages: dict, consumer_stage: str) -> str:
    """The oracle: the last enabled producer that comes before ``consumer_stage``."""
    enabled = [
        name for name, switch in PRODUCERS if name < consumer_stage and (switch is None or stages[switch])
    ]
    return f"jobs/{JOB}/{enabled[-1]}/segments.json"


def dry_run_jobs(output: str) -> dict[tuple[str, str], list[str]]:
    """{(rule, wildcards): inputs} from a dry run's job listing."""
    jobs: dict[tuple[str, str], list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block).group(1)
        inputs = re.search(r"^\s+input: (.*)$", block, re.M)
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        jobs[(rule, wildcards.group(1) if wildcards else "")] = inputs.group(1).split(", ") if inputs else []
    return jobs


def segment_inputs(inputs: list[str]) -> list[str]:
    return [path for path in inputs if re.fullmatch(rf"jobs/{JOB}/0[4-7]_\w+/segments\.json", path)]


@pytest.fixture(scope="module")
def film(english_film):
    return english_film[0]


def dry_run(tmp_path, film, stages: dict, targets: str = "") -> tuple[int, str]:
    workdir = write_workdir(
        tmp_path,
        [{"job": JOB, "media": str(film), "source_lang": "en", "target_langs": targets, "title": "River"}],
        {"stages": stages},
    )
    result = run_snakemake(workdir, "-n", "-F", TARGET, check=False, timeout=300)
    return result.returncode, result.stdout + result.stderr


SWITCH_CASES = {
    "all on": ALL_ON,
    # TMDB names reach the pipeline only through the glossary, so glossary off goes with tmdb off
    **{f"{key} off": {**ALL_ON, key: False} for key in NO_OPTIONAL_STAGES if key != "glossary"},
    "glossary+tmdb off": {**ALL_ON, "glossary": False, "tmdb": False},
    "ner+lyrics+hallucination off": {**ALL_ON, "ner": False, "lyrics": False, "hallucination": False},
    "glossary+tmdb+lyrics off": {**ALL_ON, "glossary": False, "tmdb": False, "lyrics": False},
    "all optional off": NO_OPTIONAL_STAGES,
}


@pytest.mark.parametrize("stages", SWITCH_CASES.values(), ids=SWITCH_CASES.keys())
def test_dag_reroutes_around_disabled_stages(tmp_path, film, stages):
    targets = "hi" if stages["translation"] else ""
    returncode, output = dry_run(tmp_path, film, stages, targets)
    assert returncode == 0, output[-3000:]
    jobs = dry_run_jobs(output)
    rules = {rule for rule, _ in jobs}
    expected_rules = ALWAYS | {rule for key, rules in OPTIONAL_RULES.items() if stages[key] for rule in rules}
    assert rules == expected_rules

    for (rule, wildcards), inputs in jobs.items():
        if rule not in CONSUMERS:
            continue
        if rule == "subtitle_gen_write" and wildcards.endswith("lang=hi"):
            assert segment_inputs(inputs) == [] and f"jobs/{JOB}/08_translation/hi.segments.json" in inputs
            continue
        assert segment_inputs(inputs) == [expected_segments(stages, CONSUMERS[rule])], (rule, inputs)

    glossary = f"jobs/{JOB}/03_glossary_load/glossary.json"
    for rule in ("asr_transcribe", "ner_tag", "translation_translate"):
        for (name, _), inputs in jobs.items():
            if name == rule:
                assert (glossary in inputs) == stages["glossary"], (rule, inputs)
    if stages["glossary"]:
        glossary_inputs = jobs[("glossary_load_merge", f"job={JOB}")]
        assert (f"jobs/{JOB}/02_tmdb/metadata.json" in glossary_inputs) == stages["tmdb"]
    report_inputs = jobs[("report_plots", f"job={JOB}")]
    assert (f"jobs/{JOB}/06_lyrics_detection/songs.json" in report_inputs) == stages["lyrics"]
    assert (f"jobs/{JOB}/07_hallucination_removal/removed.json" in report_inputs) == stages["hallucination"]
    subtitles = {wildcards for rule, wildcards in jobs if rule == "subtitle_gen_write"}
    languages = ["en", "hi"] if targets else ["en"]
    assert subtitles == {f"job={JOB}, lang={lang}" for lang in languages}


def test_targets_without_translation_fail_at_start(tmp_path, film):
    returncode, output = dry_run(tmp_path, film, {**ALL_ON, "translation": False}, targets="hi,ta")
    assert returncode != 0
    line = f"job sheet config/jobs.tsv, job '{JOB}': target languages hi,ta need stages.translation: true"
    assert line in output
    assert "Job stats" not in output  # stopped before any DAG was built


def test_tmdb_without_glossary_is_refused(tmp_path, film):
    # Nothing but the glossary passes TMDB's names on: the lookup would run for nothing.
    returncode, output = dry_run(tmp_path, film, {**ALL_ON, "glossary": False})
    assert returncode != 0
    assert "config: stages.tmdb needs stages.glossary" in output, output[-2000:]


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"lyric": False}, ["stages", "lyric"]),
        ({"ner": "no"}, ["stages.ner", "boolean"]),
    ],
    ids=["misspelt switch", "not a boolean"],
)
def test_invalid_switches_fail_at_start_with_one_line(tmp_path, film, bad, words):
    returncode, output = dry_run(tmp_path, film, {**ALL_ON, **bad})
    assert returncode != 0
    lines = [line for line in output.splitlines() if line.startswith("config:") or "config: " in line]
    assert lines and all(word in lines[0] for word in words), output[-2000:]
    assert "Job stats" not in output


def test_end_to_end_with_glossary_and_lyrics_off(tmp_path, english_film):
    film, _ = english_film
    stages = {**NO_OPTIONAL_STAGES, "ner": True, "hallucination": True}
    workdir = write_workdir(
        tmp_path, [{"job": JOB, "media": str(film), "source_lang": "en"}], {"stages": stages}
    )
    run_snakemake(workdir, f"jobs/{JOB}/10_mux/out.mkv")
    jobdir = workdir / "jobs" / JOB
    assert not (jobdir / "06_lyrics_detection").exists() and not (jobdir / "03_glossary_load").exists()
    # 07 read 05's segments (06 is off): its document carries 05's provenance and not 06's
    doc = json.loads((jobdir / "07_hallucination_removal" / "segments.json").read_text())
    assert doc["stage"] == "07_hallucination_removal"
    assert "05_ner" in doc["meta"] and "06_lyrics_detection" not in doc["meta"]
    manifest = manifest_file.load(jobdir / "07_hallucination_removal" / "manifest.json")
    assert any(entry["path"].endswith("05_ner/segments.json") for entry in manifest["inputs"])
    qc = qcfile.load(jobdir / "09_subtitle_gen" / "en.qc.json")
    assert qc["source_stage"] == "07_hallucination_removal" and qc["cues"] > 0
    streams = ffprobe_streams(jobdir / "10_mux" / "out.mkv")
    assert [s["tags"]["language"] for s in streams if s["codec_type"] == "subtitle"] == ["eng"]
