"""Figure 4: peak memory and wall time of the pipeline up to 04_asr on long synthetic films (tiny.en, CPU).

The films loop the 10-minute benchmark dialogue (audio + a tiny video stream). Memory is polled over the
whole process tree (Snakemake and the stage processes) and, per stage, taken from Snakemake's benchmark
files; wall time per audio minute shows whether growth is linear.
"""

from __future__ import annotations

import json
import shutil

import common

JOB = "long"


def run(minutes_list: tuple[float, ...] = (60, 180), bare_minutes: tuple[float, ...] = ()) -> dict:
    results = {}
    for minutes in minutes_list:
        film, truth = common.looped_film(minutes)
        workdir = common.OUT / "longfilm" / f"film_{minutes:g}min"
        shutil.rmtree(workdir, ignore_errors=True)
        common.write_workdir(
            workdir,
            [{"job": JOB, "media": str(film), "source_lang": "en", "title": "Long film", "year": "2026"}],
            {"stages": common.missing_stages()},
        )
        target = f"jobs/{JOB}/04_asr/segments.json"
        result = common.timed_run(common.snakemake_command(workdir, target), cwd=workdir, watch_memory=True)
        if result["rc"] != 0:
            raise SystemExit(f"{minutes} min film failed:\n{result['output'][-3000:]}")
        stages = {}
        for name, row in common.benchmark_rows(workdir / "jobs" / JOB).items():
            stages[name] = {
                "s": round(float(row["s"]), 1),
                "max_rss_mb": round(float(row["max_rss"]), 1),
                "cpu_s": round(float(row["cpu_time"]), 1),
            }
        segments = json.loads((workdir / "jobs" / JOB / "04_asr" / "segments.json").read_text())["segments"]
        entry = {
            "wall_s": result["wall_s"],
            "tree_peak_rss_mb": result["peak_rss_mb"],
            "largest_process_rss_mb": result["largest_process_rss_mb"],
            "largest_process": result["largest_process"],
            "stages": stages,
            "asr_s_per_audio_min": round(stages["04_asr"]["s"] / minutes, 2),
            "asr_cpu_s_per_audio_min": round(stages["04_asr"]["cpu_s"] / minutes, 2),
            "segments": len(segments),
            "wer_asr": common.wer([t["text"] for t in truth], [s["text"] for s in segments]),
        }
        results[f"{minutes:g}"] = entry
        print(
            f"  {minutes:g} min film to 04_asr: {result['wall_s']:.0f} s, ASR peak RSS "
            f"{stages['04_asr']['max_rss_mb']:.0f} MB, tree peak {result['peak_rss_mb']:.0f} MB, "
            f"WER {entry['wer_asr']:.3f}",
            flush=True,
        )
        if minutes in bare_minutes:
            wav = workdir / "jobs" / JOB / "01_demux" / "audio.wav"
            bare = common.timed_run(
                [
                    common.PYTHON,
                    str(common.REPO / "bench" / "bare_whisper.py"),
                    str(wav),
                    str(workdir / "bare.json"),
                ],
                watch_memory=True,
            )
            entry["bare"] = {"wall_s": bare["wall_s"], "peak_rss_mb": bare["peak_rss_mb"], "rc": bare["rc"]}
            print(
                f"  bare faster-whisper on {minutes:g} min: {bare['wall_s']:.0f} s, peak RSS "
                f"{bare['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    return {"films": results}


def table(result: dict) -> str:
    rows = []
    for minutes, row in result["films"].items():
        asr = row["stages"]["04_asr"]
        text = (
            f"{minutes} min: to 04_asr {row['wall_s']:.0f} s, ASR {asr['s']:.0f} s "
            f"({row['asr_s_per_audio_min']:.2f} s/audio-min, CPU {row['asr_cpu_s_per_audio_min']:.2f}), "
            f"ASR peak RSS {asr['max_rss_mb']:.0f} MB, tree peak {row['tree_peak_rss_mb']:.0f} MB, "
            f"WER {row['wer_asr']:.3f}"
        )
        if "bare" in row:
            text += (
                f"; bare faster-whisper {row['bare']['wall_s']:.0f} s, {row['bare']['peak_rss_mb']:.0f} MB"
            )
        rows.append(text)
    return "\n".join(rows)
