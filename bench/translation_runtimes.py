"""08 on CTranslate2 vs transformers: the same tiny model, CPU, time per 100 segments and peak RSS.

The model is tests/tiny_indictrans.py's copying stand-in (en-indic), one set of weights written both
as a CTranslate2 model (``ctranslate2.specs``) and as a transformers checkpoint (remote code, like the
Hub's). Each runtime runs in its own process through the real 08 path (``translation.load_translator``
+ ``translate_document``, 4 beams as shipped, IndicProcessor, placeholders); the parent measures each
process tree's peak RSS with the same poller (``common.PeakRSS``) and the worker times the translation
itself (median of 3, after one warm-up). Both must give the same text. Needs the transformers extra.

    .venv/bin/python bench/translation_runtimes.py [--runs N]
"""

from __future__ import annotations

import json
import sys
import time

import common

sys.path.insert(0, str(common.REPO / "tests"))
RUNTIMES = ("ctranslate2", "transformers")


def _worker(runtime: str, path: str, segments: int, runs: int) -> None:
    from cinesub import translation
    from translation_batching import _document

    loaded_at = time.perf_counter()
    settings = translation.settings_from(
        {"models": {"en-indic": path}, "threads": 2, "runtimes": {"en-indic": runtime}}
    )
    backend = translation.load_translator("en-indic", settings)
    load_s = time.perf_counter() - loaded_at
    doc = _document(segments)
    walls, out = [], None
    for _ in range(runs + 1):
        backend.model_calls, backend.batch_sizes = 0, []
        started = time.perf_counter()
        out = translation.translate_document(doc, "hi", backend, settings=settings)
        walls.append(time.perf_counter() - started)
    meta = out["meta"]["08_translation"]
    print(
        json.dumps(
            {
                "runtime": meta["runtime"],
                "load_s": round(load_s, 3),
                "wall_s_median": round(common.median(walls[1:]), 3),
                "runs_s": [round(w, 3) for w in walls[1:]],
                "model_calls": meta["model_calls"],
                "reinserted_names": meta["reinserted_names"],
                "texts": [s["text"] for s in out["segments"]],
                "torch_imported": "torch" in sys.modules,
            },
            ensure_ascii=False,
        )
    )


def run(segments: int = 100, runs: int = 3) -> dict:
    import tiny_indictrans

    paths = {"ctranslate2": common.OUT / "tiny_ct2_en_indic", "transformers": common.OUT / "tiny_hf_en_indic"}
    if not (paths["ctranslate2"] / "model.bin").exists():
        tiny_indictrans.build_ct2_standin(paths["ctranslate2"], "en-indic")
    if not (paths["transformers"] / "config.json").exists():
        tiny_indictrans.build_indictrans_standin(paths["transformers"], "en-indic")
    results = {}
    for runtime in RUNTIMES:
        command = [
            common.PYTHON,
            __file__,
            "--worker",
            runtime,
            str(paths[runtime]),
            str(segments),
            str(runs),
        ]
        measured = common.timed_run(command, cwd=common.REPO, watch_memory=True)
        if measured["rc"] != 0:
            raise RuntimeError(f"{runtime} worker failed:\n{measured['output'][-3000:]}")
        report = json.loads(measured["output"].strip().splitlines()[-1])
        report["peak_rss_mb"] = measured["peak_rss_mb"]
        results[runtime] = report
        print(
            f"  {runtime}: {report['wall_s_median']:.3f} s per {segments} segments, "
            f"{report['model_calls']} calls, peak RSS {report['peak_rss_mb']} MB",
            flush=True,
        )
    same = results["ctranslate2"].pop("texts") == results["transformers"].pop("texts")
    ct2, hf = results["ctranslate2"], results["transformers"]
    return {
        "segments": segments,
        "num_beams": 4,
        "same_output": same,
        "runtimes": results,
        "speedup": round(hf["wall_s_median"] / ct2["wall_s_median"], 2),
        "rss_ratio": round(hf["peak_rss_mb"] / ct2["peak_rss_mb"], 2),
    }


def table(result: dict) -> str:
    parts = [
        f"{name} {result['runtimes'][runtime]['wall_s_median']:.3f} s, "
        f"peak RSS {result['runtimes'][runtime]['peak_rss_mb']:.0f} MB"
        for runtime, name in (("ctranslate2", "CTranslate2"), ("transformers", "transformers"))
    ]
    ratios = f"{result['speedup']:.1f}x time, {result['rss_ratio']:.1f}x memory"
    return f"per {result['segments']} segments (4 beams, CPU): {'; '.join(parts)} ({ratios}); " + (
        f"same text: {result['same_output']}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        outcome = run(runs=int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3)
        outcome["environment"] = common.environment()
        print(table(outcome))
        print(common.save_result("translation_runtimes", outcome))
