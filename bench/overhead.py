"""Figure 1: end-to-end wall time of ``jobs/<id>/10_mux/out.mkv`` vs bare faster-whisper on the same audio.

Each pair (pipeline from scratch, then bare faster-whisper on the pipeline's own 16 kHz WAV; the order
alternates between pairs so load drift hits both) gives one ratio; the figure is the median ratio. Each
pair also runs bare faster-whisper on the film itself (it decodes the audio, as the pipeline's 01 does):
the same input on both sides, reported as its own ratio.
The difference is broken down by stage from ``jobs/<id>/benchmarks/*.tsv`` (process time) and the stage
manifests (time inside the stage's ``run``), the rest being Snakemake's own scheduling.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
from datetime import datetime
from pathlib import Path

import common
from cinesub import manifest as manifest_file

JOB = "bench"
TARGET = f"jobs/{JOB}/10_mux/out.mkv"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_timed_run(command: list[str], cwd: Path | None = None) -> dict:
    """``common.timed_run`` plus the CPU seconds of the whole (waited-for) process tree; peak RSS of
    the process tree by the same poller (common.PeakRSS) on both sides of every ratio."""
    before = _children_cpu()
    result = common.timed_run(command, cwd=cwd, watch_memory=True)
    result["cpu_s"] = round(_children_cpu() - before, 2)
    return result


def workdir_for(
    minutes: float, asr_batch_size: int | None = None, resampler: str | None = None
) -> tuple[Path, list[dict]]:
    """The working directory for ``minutes`` of film with the shipped config (``asr_batch_size``: the
    04_asr batched mode instead of the shipped ``asr.batch_size``; ``resampler``: another
    ``demux.resampler``)."""
    film, _, truth = common.speech_film(minutes)
    suffix = f"_asr_batch{asr_batch_size}" if asr_batch_size else ""
    suffix += f"_{resampler}" if resampler else ""
    workdir = common.OUT / "overhead" / f"film_{minutes:g}min{suffix}"
    overrides: dict = {"stages": common.missing_stages()}
    if asr_batch_size:
        overrides["asr"] = {"batch_size": asr_batch_size}
    if resampler:
        overrides["demux"] = {"resampler": resampler}
    common.write_workdir(
        workdir,
        [{"job": JOB, "media": str(film), "source_lang": "en", "title": "Bench film", "year": "2026"}],
        overrides,
    )
    return workdir, truth


def stage_table(workdir: Path) -> dict:
    """Per stage: process seconds, CPU seconds and peak RSS (Snakemake's benchmark file), and the
    seconds inside ``run`` (the manifest); the difference is process start-up and imports."""
    stages = {}
    for name, row in common.benchmark_rows(workdir / "jobs" / JOB).items():
        stage_dir, _, lang = name.partition(".")
        manifest = workdir / "jobs" / JOB / stage_dir / (f"{lang}.manifest.json" if lang else "manifest.json")
        record = manifest_file.load(manifest) if manifest.exists() else {}
        process = float(row["s"])
        work = float(record.get("duration_s", process))
        stages[name] = {
            "process_s": round(process, 2),
            "work_s": round(work, 2),
            "startup_s": round(max(0.0, process - work), 2),
            "cpu_s": _float(row.get("cpu_time")),
            "max_rss_mb": _float(row.get("max_rss")),
            "finished": record.get("finished"),
        }
    return stages


def _float(value) -> float | None:
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None


def vad_seconds(workdir: Path) -> tuple[float, float]:
    """The VAD's seconds inside 01_demux, and how many of them came after ffmpeg's decode ended (its log
    line). The VAD is work bare faster-whisper does inside ``transcribe``; 01 runs it beside the decoder,
    so only the second figure lengthens 01, and only that is taken off 01 to count the stages without
    the ASR (the decoder's own seconds stay counted)."""
    log = workdir / "jobs" / JOB / "logs" / "01_demux.log"
    found = (
        re.search(r"VAD took ([0-9.]+) s, ([0-9.]+) s of it after", log.read_text()) if log.exists() else None
    )
    return (float(found.group(1)), float(found.group(2))) if found else (0.0, 0.0)


def busy_seconds(stages: dict) -> float:
    """Length of the union of the stages' process intervals (each ends when its manifest says it finished)."""
    intervals = []
    for stage in stages.values():
        if stage["finished"]:
            end = datetime.fromisoformat(stage["finished"]).timestamp()
            intervals.append((end - stage["process_s"], end))
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return round(total, 2)


def srt_text(path: Path) -> list[str]:
    import srt

    return [cue.content.replace("\n", " ") for cue in srt.parse(path.read_text(encoding="utf-8"))]


def _pipeline(workdir: Path, wav: Path, same_audio: Path) -> dict:
    result = cpu_timed_run(common.snakemake_command(workdir, TARGET), cwd=workdir)
    if result["rc"] != 0:
        raise SystemExit(f"pipeline failed:\n{result['output'][-3000:]}")
    if not same_audio.exists():
        shutil.copy(wav, same_audio)
    return result


def _bare(audio: Path, result_json: Path, batch_size: int = 1) -> dict:
    result = cpu_timed_run(
        [
            common.PYTHON,
            str(common.REPO / "bench" / "bare_whisper.py"),
            str(audio),
            str(result_json),
            "--batch-size",
            str(batch_size),
        ]
    )
    if result["rc"] != 0:
        raise SystemExit(f"bare faster-whisper failed:\n{result['output'][-3000:]}")
    result.update(json.loads(result_json.read_text()))
    return result


def shipped_batch_size() -> int:
    from cinesub.configschema import validated_section

    return validated_section("asr", {})["batch_size"]


def run(
    minutes: float = 10.0, runs: int = 3, asr_batch_size: int | None = None, resampler: str | None = None
) -> dict:
    workdir, truth = workdir_for(minutes, asr_batch_size, resampler)
    batch_size = asr_batch_size or shipped_batch_size()  # what this run's 04_asr decodes with
    reference = [s["text"] for s in truth]
    pairs = []
    (workdir / "audio.wav").unlink(missing_ok=True)
    for index in range(runs):
        shutil.rmtree(workdir / "jobs", ignore_errors=True)
        shutil.rmtree(workdir / ".snakemake", ignore_errors=True)
        wav = workdir / "jobs" / JOB / "01_demux" / "audio.wav"
        bare_json = workdir / "bare.json"
        same_audio = workdir / "audio.wav"  # the pipeline's own demuxed WAV, kept for the bare runs

        if index % 2 == 0 or not same_audio.exists():  # the first pair makes the WAV
            pipe, base = _pipeline(workdir, wav, same_audio), _bare(same_audio, bare_json)
        else:
            base, pipe = _bare(same_audio, bare_json), _pipeline(workdir, wav, same_audio)
        # batched against batched too: faster-whisper's own BatchedInferencePipeline, same batch size
        bare_batched = _bare(same_audio, bare_json, batch_size) if batch_size > 1 else None
        # the same input on both sides too: faster-whisper given the film itself (it decodes with PyAV, as
        # 01 decodes with ffmpeg), not the pipeline's already decoded WAV
        film = common.speech_film(minutes)[0]
        bare_film = _bare(film, bare_json, batch_size)
        stages = stage_table(workdir)
        busy = busy_seconds(stages)
        vad_s, vad_on_path_s = vad_seconds(workdir)
        non_asr = sum(row["process_s"] for name, row in stages.items() if name != "04_asr") - vad_on_path_s
        non_asr_cpu = sum(row["cpu_s"] or 0.0 for name, row in stages.items() if name != "04_asr")
        asr_segments = json.loads((workdir / "jobs" / JOB / "04_asr" / "segments.json").read_text())[
            "segments"
        ]
        pairs.append(
            {
                "pipeline_s": pipe["wall_s"],
                "pipeline_cpu_s": pipe["cpu_s"],
                "bare_s": base["wall_s"],
                "bare_cpu_s": base["cpu_s"],
                "bare_transcribe_s": base["transcribe_s"],
                "bare_load_s": round(base["import_s"] + base["load_s"], 2),
                "ratio": round(pipe["wall_s"] / base["wall_s"], 3),
                "cpu_ratio": round(pipe["cpu_s"] / base["cpu_s"], 3),
                "snakemake_own_s": round(pipe["wall_s"] - busy, 2),
                "pipeline_peak_rss_mb": pipe["peak_rss_mb"],
                "bare_peak_rss_mb": base["peak_rss_mb"],
                "vad_s": vad_s,
                "vad_after_decode_s": vad_on_path_s,
                "asr_and_vad_s": round(stages["04_asr"]["process_s"] + vad_on_path_s, 2),
                "non_asr_process_s_per_audio_min": round(non_asr / minutes, 3),
                # CPU of the stages but 04 (the VAD's share of 01 included: its CPU is not split out)
                "non_asr_cpu_s_per_audio_min": round(non_asr_cpu / minutes, 3),
                "non_asr_and_snakemake_s_per_audio_min": round(
                    (non_asr + max(0.0, pipe["wall_s"] - busy)) / minutes, 3
                ),
                **(
                    {
                        "bare_batched_s": bare_batched["wall_s"],
                        "ratio_vs_bare_batched": round(pipe["wall_s"] / bare_batched["wall_s"], 3),
                        "wer_bare_batched": common.wer(reference, bare_batched["texts"]),
                    }
                    if bare_batched
                    else {}
                ),
                "bare_film_s": bare_film["wall_s"],
                "ratio_vs_bare_film": round(pipe["wall_s"] / bare_film["wall_s"], 3),
                "wer_bare_film": common.wer(reference, bare_film["texts"]),
                "stages": stages,
                "wer_bare": common.wer(reference, base["texts"]),
                "wer_asr": common.wer(reference, [s["text"] for s in asr_segments]),
                "wer_subtitles": common.wer(
                    reference, srt_text(workdir / "jobs" / JOB / "09_subtitle_gen" / "en.srt")
                ),
            }
        )
        print(
            f"  overhead pair {index + 1}/{runs}: pipeline {pipe['wall_s']:.1f} s,"
            f" bare {base['wall_s']:.1f} s,"
            f" ratio {pairs[-1]['ratio']:.2f} (cpu ratio {pairs[-1]['cpu_ratio']:.2f})",
            flush=True,
        )

    names = list(pairs[-1]["stages"])
    breakdown = {
        name: {
            key: common.median([p["stages"][name][key] for p in pairs if name in p["stages"]])
            for key in ("process_s", "work_s", "startup_s", "cpu_s", "max_rss_mb")
        }
        for name in names
    }
    return {
        "film_minutes": minutes,
        "runs": runs,
        "asr_batch_size": asr_batch_size or "shipped config",
        "demux_resampler": resampler or "shipped config",
        "decode_batch_size": batch_size,
        "disabled_stages_not_in_snakefile": sorted(common.missing_stages()),
        "ratio_median": common.median([p["ratio"] for p in pairs]),
        "cpu_ratio_median": common.median([p["cpu_ratio"] for p in pairs]),
        "pipeline_s_median": common.median([p["pipeline_s"] for p in pairs]),
        "bare_s_median": common.median([p["bare_s"] for p in pairs]),
        "snakemake_own_s_median": common.median([p["snakemake_own_s"] for p in pairs]),
        **{
            f"{key}_median": common.median([p[key] for p in pairs])
            for key in (
                "pipeline_peak_rss_mb",
                "bare_peak_rss_mb",
                "vad_s",
                "vad_after_decode_s",
                "asr_and_vad_s",
                "non_asr_process_s_per_audio_min",
                "non_asr_cpu_s_per_audio_min",
                "non_asr_and_snakemake_s_per_audio_min",
                "bare_batched_s",
                "ratio_vs_bare_batched",
                "wer_bare_batched",
                "bare_film_s",
                "ratio_vs_bare_film",
                "wer_bare_film",
            )
            if key in pairs[-1] and pairs[-1][key] is not None
        },
        "wer": {
            key: common.median([p[key] for p in pairs]) for key in ("wer_bare", "wer_asr", "wer_subtitles")
        },
        "stages": breakdown,
        "pairs": pairs,
    }


def table(result: dict) -> str:
    lines = [
        f"pipeline {result['pipeline_s_median']:.1f} s vs bare faster-whisper "
        f"{result['bare_s_median']:.1f} s: "
        f"ratio {result['ratio_median']:.2f} (CPU-time ratio {result['cpu_ratio_median']:.2f}); "
        f"WER bare {result['wer']['wer_bare']:.3f}, 04_asr {result['wer']['wer_asr']:.3f}, "
        f"subtitles {result['wer']['wer_subtitles']:.3f}",
        f"peak RSS (process tree, same poller): pipeline {result.get('pipeline_peak_rss_mb_median')} MB, "
        f"bare {result.get('bare_peak_rss_mb_median')} MB; 04_asr + the VAD in 01 "
        f"{result.get('asr_and_vad_s_median')} s (VAD {result.get('vad_s_median')} s, "
        f"{result.get('vad_after_decode_s_median')} s of it after 01's decode); the other stages "
        f"{result.get('non_asr_process_s_per_audio_min_median')} s per audio minute "
        f"({result.get('non_asr_and_snakemake_s_per_audio_min_median')} with Snakemake's own time; "
        f"CPU {result.get('non_asr_cpu_s_per_audio_min_median')} s per minute, VAD included)"
        + (
            f"; vs bare BatchedInferencePipeline {result['bare_batched_s_median']:.1f} s: "
            f"ratio {result['ratio_vs_bare_batched_median']:.2f}, "
            f"its WER {result['wer_bare_batched_median']:.3f}"
            if "bare_batched_s_median" in result
            else ""
        ),
        (
            f"bare faster-whisper given the film (decoding it itself) {result['bare_film_s_median']:.1f} s: "
            f"ratio {result['ratio_vs_bare_film_median']:.2f}, its WER {result['wer_bare_film_median']:.3f}"
            if "bare_film_s_median" in result
            else "bare faster-whisper given the film: not measured"
        ),
        f"{'stage':<28}{'process s':>10}{'in run s':>10}{'start-up s':>11}{'CPU s':>8}{'RSS MB':>8}",
    ]
    for name, row in result["stages"].items():
        lines.append(
            f"{name:<28}{row['process_s']:>10.2f}{row['work_s']:>10.2f}{row['startup_s']:>11.2f}"
            f"{(row['cpu_s'] or 0):>8.1f}{(row['max_rss_mb'] or 0):>8.0f}"
        )
    lines.append(f"{'snakemake (outside stages)':<28}{result['snakemake_own_s_median']:>10.2f}")
    minutes = result["film_minutes"]
    lines.append(
        f"per audio minute (process s / {minutes:g}): "
        + ", ".join(f"{name} {row['process_s'] / minutes:.3f}" for name, row in result["stages"].items())
    )
    return "\n".join(lines)
