"""Does CTranslate2's output (faster-whisper decode) change with its thread count?

    python bench/thread_determinism.py [--minutes 2.5]

Transcribes the same synthetic film with the shipped ``asr`` settings, as the 04_asr engine does, with
``cpu_threads`` 1, 2 and 4 and with the scheduler's thread variables (``OMP_NUM_THREADS`` and friends,
which Snakemake sets to a job's granted threads) at 1 and 2, each in a fresh process. Writes
``bench/results/thread_determinism.json``: per combination, the segment count and a digest of the
(start, end, text) of every segment, so "same output" is an exact comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def decode(audio: str, cpu_threads: int) -> dict:
    import yaml
    from cinesub import asr
    from cinesub.configschema import validated_config

    shipped = validated_config(yaml.safe_load((HERE.parent / "config" / "config.yaml").read_text()))
    settings = dict(shipped["asr"])
    settings.update(threads=cpu_threads, decode_threads=cpu_threads, seed=0, window_s=600)
    segments = asr.transcribe_file(audio, settings, "en")
    rows = [(s["start"], s["end"], s["text"]) for s in segments]
    return {
        "segments": len(rows),
        "digest": hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16],
        "longest_s": round(max((s["end"] - s["start"] for s in segments), default=0.0), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument("--child", nargs=2, metavar=("AUDIO", "THREADS"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(decode(args.child[0], int(args.child[1]))))
        return
    from common import save_result, speech_film

    film, _, _ = speech_film(args.minutes)
    wav = film.with_suffix(".16k.wav")  # what 01_demux gives 04_asr
    if not wav.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(film), "-vn", "-ac", "1", "-ar", "16000", str(wav)],
            check=True,
        )
    audios = {"dialogue": wav}
    # hard audio (music, babble, song, long silences): where temperature fallback and doubt happen
    sys.path.insert(0, str(HERE.parent / "tests"))
    import cleanset

    for name, case in cleanset.build_cases().items():
        audios[name] = case.write(wav.parent / f"cleanset_{name}.wav")
    runs = []
    for name, audio in audios.items():
        for cpu_threads in (1, 2, 4):
            for scheduler_threads in (1, 2):
                env = {
                    **os.environ,
                    "HF_HUB_OFFLINE": "1",
                    **{v: str(scheduler_threads) for v in THREAD_VARS},
                }
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(audio), str(cpu_threads)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                runs.append(
                    {
                        "audio": name,
                        "cpu_threads": cpu_threads,
                        "scheduler_threads": scheduler_threads,
                        **json.loads(out.strip().splitlines()[-1]),
                    }
                )
                print(runs[-1], flush=True)
    by_threads, by_audio = {}, {}
    for run in runs:
        by_threads.setdefault((run["audio"], run["cpu_threads"]), set()).add(run["digest"])
        by_audio.setdefault(run["audio"], set()).add(run["digest"])
    save_result(
        "thread_determinism",
        {
            "film_minutes": args.minutes,
            "runs": runs,
            "same_for_every_cpu_threads": {name: len(d) == 1 for name, d in by_audio.items()},
            "same_for_every_scheduler_threads_at_fixed_cpu_threads": all(
                len(d) == 1 for d in by_threads.values()
            ),
        },
    )


if __name__ == "__main__":
    main()
