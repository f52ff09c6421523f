"""No needless reruns, and the same subtitles whatever the scheduler grants, through the real snakemake CLI.

Settings that change where or how fast a stage runs (threads, memory, cache paths, timeouts) are not rule
params, so changing them must leave a finished run alone; settings that change a result must still rerun.
"""

from __future__ import annotations

import json

import pytest
import yaml
from cinesub import manifest as manifest_file
from conftest import run_snakemake, write_workdir
from tiny_indictrans import build_indictrans_standin

pytestmark = pytest.mark.slow

TARGET = "jobs/river/10_mux/out.mkv"


def edit_config(workdir, **sections) -> None:
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


@pytest.fixture(scope="module")
def translated_run(tmp_path_factory, english_film):
    """Every stage, including TMDB (hand-written metadata) and one translation, run to the end."""
    film, _ = english_film
    standin = str(build_indictrans_standin(tmp_path_factory.mktemp("models") / "tiny_indictrans2"))
    workdir = write_workdir(
        tmp_path_factory.mktemp("reruns"),
        [{"job": "river", "media": str(film), "source_lang": "en", "target_langs": "hi", "title": "River"}],
        {"translation": {"models": {"en-indic": standin}, "num_beams": 1, "max_new_tokens": 16}},
    )
    (workdir / "config" / "metadata").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "metadata" / "river.json").write_text(
        json.dumps({"cast": [{"name": "Meera", "character": "Meera", "order": 0}]})
    )
    run_snakemake(workdir, TARGET, env={"TMDB_API_KEY": ""})
    return workdir


def test_run_settings_change_reruns_nothing(translated_run):
    workdir = translated_run
    edit_config(
        workdir,
        asr={"mem_mb": 6000, "threads": 1},
        translation={"mem_mb": 9000, "threads": 1},
        tmdb={"timeout_s": 3},
    )
    result = run_snakemake(workdir, TARGET, env={"TMDB_API_KEY": ""})
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_manifest_records_the_run_settings_the_stage_ran_with(translated_run):
    manifest = manifest_file.load(translated_run / "jobs/river/04_asr/manifest.json")
    assert {"mem_mb", "threads", "result_cache", "model_cache"} <= set(manifest["params"]["asr"])
    assert manifest["models"]["asr"]["cpu_threads"] == manifest["params"]["asr"]["threads"]


def planned_after(workdir, **sections) -> str:
    """What a dry run plans once the config sections are edited."""
    edit_config(workdir, **sections)
    result = run_snakemake(workdir, TARGET, "-n", env={"TMDB_API_KEY": ""})
    return result.stdout + result.stderr


def test_a_judgement_setting_reruns_06s_decision_not_its_audio_analysis(translated_run):
    planned = planned_after(translated_run, lyrics={"threshold": 0.6})
    assert "lyrics_detection_detect" in planned and "hallucination_removal_filter" in planned
    assert "lyrics_detection_analyse" not in planned and "asr_transcribe" not in planned
    # the analysis's own setting
    assert "lyrics_detection_analyse" in planned_after(
        translated_run, lyrics={"threshold": 0.5, "hop_s": 0.5}
    )
    edit_config(translated_run, lyrics={"hop_s": 1})


def test_result_setting_change_still_reruns_asr_and_what_follows(translated_run):
    planned = planned_after(translated_run, asr={"beam_size": 4})
    assert "asr_transcribe" in planned and "translation_translate" in planned
    assert "tmdb_fetch" not in planned and "demux_extract" not in planned
    # the reason names the changed params, not a dump of the whole section
    reason = [line for line in planned.splitlines() if "reason:" in line and "params" in line.lower()]
    assert reason and all(len(line) < 400 for line in reason), reason


def test_same_subtitles_whatever_cores(tmp_path):
    """Hard audio (long silences between lines: where Whisper's segmentation and fallback vary)
    through every default stage, with one core and with two: byte-identical subtitles."""
    import cleanset
    from cinesub import synth

    wav = cleanset.build_cases()["silence"].write(tmp_path / "gaps.wav")
    film = tmp_path / "gaps.mkv"
    synth.make_film(str(wav), str(film), size="160x90", rate=5)
    srts = []
    for cores in ("1", "2"):
        workdir = write_workdir(
            tmp_path / f"cores{cores}",
            [{"job": "river", "media": str(film), "source_lang": "en", "title": "River"}],
            {"stages": {"tmdb": False}},
        )
        run_snakemake(workdir, TARGET, "--cores", cores)
        srts.append((workdir / "jobs/river/09_subtitle_gen/en.srt").read_bytes())
        manifest = manifest_file.load(workdir / "jobs/river/04_asr/manifest.json")
        assert manifest["models"]["asr"]["scheduler_threads"] == int(cores)
    assert srts[0].strip() and srts[0] == srts[1]
