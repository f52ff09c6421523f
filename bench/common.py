"""Shared pieces of the benchmarks: paths, synthetic films with known text, timing and memory probes.

Benchmarks are scripts, not tests: they measure and print, they never assert a target.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"  # gitignored cache: films, working directories
RESULTS = REPO / "bench" / "results"
PYTHON = str(Path(sys.executable))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
sys.path.insert(0, str(REPO / "scripts"))

from cinesub import jobsheet, synth  # noqa: E402

# Sentences are drawn from these parts with a fixed seed: varied, distinct, and known word for word.
SUBJECTS = [
    "The old fisherman",
    "My sister",
    "The new teacher",
    "Our driver",
    "The station master",
    "Every child",
    "The tired doctor",
    "A young painter",
    "The shopkeeper",
    "His grandmother",
    "The police officer",
    "Nobody in the village",
    "The film director",
    "Her best friend",
]
VERBS = [
    "carried",
    "painted",
    "found",
    "repaired",
    "sold",
    "counted",
    "cleaned",
    "forgot",
    "opened",
    "watched",
    "wanted",
    "borrowed",
    "described",
    "brought",
]
OBJECTS = [
    "the heavy wooden boxes",
    "a bright yellow kite",
    "two baskets of mangoes",
    "the broken radio",
    "an old green bicycle",
    "the letters from Delhi",
    "three cups of sweet tea",
    "the small red boat",
    "a map of the coast",
    "the keys to the school",
    "the camera and the lights",
    "a bag of rice",
]
PLACES = [
    "near the river",
    "before the rain started",
    "at the market this morning",
    "behind the temple",
    "after the long meeting",
    "on the way to the station",
    "in the quiet evening",
    "by the old bridge",
    "during the festival",
    "at the end of the street",
]


def sentences(count: int, seed: int = 7) -> list[synth.Line]:
    """``count`` distinct English sentences with pauses of 0.6-2.0 s (a fixed seed: the same every run)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    lines: list[synth.Line] = []
    while len(lines) < count:
        text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}."
        if text in seen:
            continue
        seen.add(text)
        lines.append(synth.Line(text, pause_after=round(rng.uniform(0.6, 2.0), 2), speed=150))
    return lines


def speech_film(minutes: float, name: str | None = None) -> tuple[Path, Path, list[dict]]:
    """A cached synthetic film of about ``minutes`` of dialogue: (film.mkv, speech.wav, truth)."""
    import soundfile

    name = name or f"film_{minutes:g}min"
    folder = OUT / "films"
    film, wav, truth_path = folder / f"{name}.mkv", folder / f"{name}.wav", folder / f"{name}.truth.json"
    if film.exists() and truth_path.exists():
        return film, wav, json.loads(truth_path.read_text())["sentences"]
    folder.mkdir(parents=True, exist_ok=True)
    # about 4 s per sentence with its pause; synthesise a few extra and cut at the target length
    lines = sentences(int(minutes * 60 / 3.5) + 5)
    samples, truth = synth.build_speech(lines, lead_in=1.0)
    limit = int(minutes * 60 * synth.SAMPLE_RATE)
    truth = [t for t in truth if t["end"] * synth.SAMPLE_RATE <= limit]
    samples = samples[:limit]
    soundfile.write(str(wav), samples, synth.SAMPLE_RATE)
    synth.make_film(str(wav), str(film), size="160x90", rate=5)
    truth_path.write_text(json.dumps({"sentences": truth, "duration": len(samples) / synth.SAMPLE_RATE}))
    return film, wav, truth


def looped_film(minutes: float, base_minutes: float = 10.0) -> tuple[Path, list[dict]]:
    """A long film: the ``base_minutes`` film's audio looped to ``minutes`` (audio + a tiny video stream).

    The truth is the base truth repeated with shifted times, so WER stays measurable.
    """
    _, base_wav, base_truth = speech_film(base_minutes)
    folder = OUT / "films"
    film, truth_path = folder / f"long_{minutes:g}min.mkv", folder / f"long_{minutes:g}min.truth.json"
    if film.exists() and truth_path.exists():
        return film, json.loads(truth_path.read_text())["sentences"]
    import soundfile

    base_seconds = soundfile.info(str(base_wav)).duration
    loops = int(round(minutes * 60 / base_seconds))
    truth = [
        dict(t, start=round(t["start"] + k * base_seconds, 3), end=round(t["end"] + k * base_seconds, 3))
        for k in range(loops)
        for t in base_truth
    ]
    tmp = film.with_suffix(".tmp.mkv")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=64x36:rate=1",
            "-stream_loop",
            str(loops - 1),
            "-i",
            str(base_wav),
            "-shortest",
            *synth.FAST_H264,
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-metadata:s:a:0",
            "language=eng",
            str(tmp),
        ],
        check=True,
    )
    tmp.rename(film)
    truth_path.write_text(json.dumps({"sentences": truth, "duration": loops * base_seconds}))
    return film, truth


def wer(reference: list[str], hypothesis: list[str]) -> float:
    import jiwer

    transform = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()]
    )
    return round(jiwer.wer(transform(" ".join(reference)), transform(" ".join(hypothesis))), 4)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


class PeakRSS:
    """Polls the summed RSS of a process and its children (a process tree) every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self.process, self.interval, self.peak_bytes = psutil.Process(pid), interval, 0
        self.largest_bytes, self.largest_command = 0, ""  # the single biggest process seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                total = 0
                for proc in tree:
                    try:
                        rss = proc.memory_info().rss
                        total += rss
                        if rss > self.largest_bytes:
                            self.largest_bytes, self.largest_command = rss, " ".join(proc.cmdline()[-2:])
                    except psutil.Error:
                        pass
                self.peak_bytes = max(self.peak_bytes, total)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


def timed_run(
    command: list[str], cwd: Path | None = None, env: dict | None = None, watch_memory: bool = False
) -> dict:
    """Run a command; wall seconds, return code, output tail and (optionally) the tree's peak RSS."""
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}",
        **(env or {}),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if watch_memory:
        with PeakRSS(proc.pid) as probe:
            output, _ = proc.communicate()
        peak = probe.peak_mb
        largest = (round(probe.largest_bytes / 2**20, 1), probe.largest_command)
    else:
        output, _ = proc.communicate()
        peak = None
    wall = time.perf_counter() - started
    result = {"wall_s": round(wall, 3), "rc": proc.returncode, "output": output, "peak_rss_mb": peak}
    if watch_memory:
        result["largest_process_rss_mb"], result["largest_process"] = largest
    return result


def snakemake_command(workdir: Path, *args: str, checkout: Path = REPO) -> list[str]:
    """``checkout``: whose Snakefile (and so whose stage code) runs: another commit's in a before/after."""
    return [SNAKEMAKE, "-s", str(checkout / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]


def benchmark_rows(job_dir: Path) -> dict[str, dict[str, str]]:
    """The row of each of a job's Snakemake benchmark files (``benchmarks/<stage>.tsv``), by stage."""
    rows = {}
    for tsv in sorted((job_dir / "benchmarks").glob("*.tsv")):
        with tsv.open() as handle:
            rows[tsv.stem] = next(csv.DictReader(handle, delimiter="\t"))
    return rows


def write_workdir(workdir: Path, jobs: list[dict], overrides: dict | None = None) -> Path:
    """A working directory with the shipped config (plus ``overrides`` per section) and a job sheet."""
    import yaml

    (workdir / "config").mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in (overrides or {}).items():
        config[key] = (
            {**config[key], **value}
            if isinstance(value, dict) and isinstance(config.get(key), dict)
            else value
        )
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    (workdir / "config" / "jobs.tsv").write_text(jobsheet.sheet_text(jobs))
    return workdir


def environment() -> dict:
    """Where and with what the numbers were measured."""
    from importlib.metadata import version

    def ver(name: str) -> str:
        try:
            return version(name)
        except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
            return "-"

    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        # the start of every Snakemake run: the SLURM plugin asks `scontrol show config` on import,
        # 9 s more where SLURM's client is configured and no controller answers (README, SLURM)
        "snakemake_version_s": _snakemake_start_s(),
        "versions": {
            name: ver(name)
            for name in (
                "snakemake",
                "faster-whisper",
                "ctranslate2",
                "torch",
                "transformers",
                "spacy",
                "numpy",
            )
        },
    }


def _snakemake_start_s() -> float:
    started = time.perf_counter()
    subprocess.run([SNAKEMAKE, "--version"], capture_output=True, check=True)
    return round(time.perf_counter() - started, 2)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stamp() -> dict:
    """When a figure was measured and how loaded the machine was at the end of it."""
    return {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg()}


def save_result(name: str, data: dict, merge: bool = False) -> Path:
    """Write ``bench/results/<name>.json``; ``merge``: keep figures this run skipped."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    if merge and path.exists():
        earlier = json.loads(path.read_text())
        for name in earlier.get("tables", {}):  # date the kept figures before the environment is replaced
            if isinstance(earlier.get(name), dict) and "environment" in earlier:
                earlier[name].setdefault(
                    "measured", {k: earlier["environment"].get(k) for k in ("date", "load_at_start")}
                )
        tables = {**earlier.get("tables", {}), **data.get("tables", {})}
        data = {**earlier, **data, "tables": tables}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


# config switch -> the rule file that must be included for the stage to run
STAGE_RULES = {
    "tmdb": "02_tmdb",
    "glossary": "03_glossary_load",
    "ner": "05_ner",
    "lyrics": "06_lyrics_detection",
    "hallucination": "07_hallucination_removal",
    "translation": "08_translation",
}


def missing_stages() -> dict:
    """Stage switches whose rule file the Snakefile does not include yet (so the default pipeline
    can be benchmarked while stages are still landing); recorded with every result."""
    snakefile = (REPO / "Snakefile").read_text()
    return {switch: False for switch, rule in STAGE_RULES.items() if f"rules/{rule}.smk" not in snakefile}
