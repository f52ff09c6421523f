"""GPU check of the translation stage: the IndicTrans2 code path on CUDA (fp16) vs CPU.

Runs where a CUDA GPU exists (the project's device machine or a user's workstation). It builds the
IndicTrans2-shaped stand-in from tests/tiny_indictrans.py (no weights are downloaded), translates a
100-segment English document to Hindi with names protected on ``cuda`` and on ``cpu`` through
``cinesub.translation``, and checks that the CUDA run really used the GPU in fp16, made the same
number of model calls, kept every protected name and produced one segment per source segment.
Prints one JSON object. Usage: ``python bench/gpu_check.py [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

from cinesub import glossaryfile, segments, translation  # noqa: E402
from tiny_indictrans import build_indictrans_standin  # noqa: E402

NAMES = ["Meera", "Rahul", "Dahisar"]
LINES = [
    "Meera waited at the station in Dahisar.",
    "Rahul was late again",
    "and the train had already gone.",
    "They walked home together in the rain.",
]


def make_document(count: int = 100) -> dict:
    segs = []
    for i in range(count):
        text = LINES[i % len(LINES)]
        segs.append({"id": i, "start": 2.0 * i, "end": 2.0 * i + 1.6, "text": text})
    return segments.new_document("gpu", "en", "07_hallucination_removal", segs, duration=2.0 * count)


def run_on(device: str, model_dir: Path, glossary: translation.Glossary) -> dict:
    settings = translation.settings_from({"device": device, "models": {"en-indic": str(model_dir)}})
    started = time.perf_counter()
    backend = translation.load_translator("en-indic", settings)
    loaded = time.perf_counter()
    result = translation.translate_document(make_document(), "hi", backend, glossary, settings)
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    finished = time.perf_counter()
    parameter = next(backend.model.parameters())
    meta = result["meta"]["08_translation"]
    texts = [seg["text"] for seg in result["segments"]]
    return {
        "device": str(parameter.device),
        "dtype": str(parameter.dtype),
        "load_s": round(loaded - started, 3),
        "translate_s": round(finished - loaded, 3),
        "model_calls": meta["model_calls"],
        "segments": len(result["segments"]),
        "names_kept": all(any(name in text for text in texts) for name in ("Meera", "Rahul")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    import torch

    report: dict = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available()}
    with tempfile.TemporaryDirectory() as workdir:
        model_dir = build_indictrans_standin(Path(workdir) / "standin")
        glossary_path = Path(workdir) / "glossary.json"
        names = [{"name": name, "variants": [], "source": "job", "label": "PERSON"} for name in NAMES]
        glossaryfile.save(
            glossary_path,
            {"language": "hi", "terms": [], "names": names, "prompt": "", "hotwords": "", "prompt_tokens": 0},
        )
        glossary = translation.load_glossary(str(glossary_path))
        report["cpu"] = run_on("cpu", model_dir, glossary)
        if torch.cuda.is_available():
            report["gpu_name"] = torch.cuda.get_device_name(0)
            report["cuda"] = run_on("cuda", model_dir, glossary)
            cuda, cpu = report["cuda"], report["cpu"]
            report["ok"] = (
                cuda["device"].startswith("cuda")
                and cuda["dtype"] == "torch.float16"
                and cuda["model_calls"] == cpu["model_calls"]
                and cuda["segments"] == 100
                and cuda["names_kept"]
            )
        else:
            report["ok"] = False
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
