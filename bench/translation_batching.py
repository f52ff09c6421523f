"""Figure 5: translation model calls and wall time per 100 segments, batched vs one call per segment.

Uses the tiny IndicTrans2-shaped CTranslate2 stand-in from ``tests/tiny_indictrans.py`` (hand-set weights
that copy the source into Devanagari, so outputs end at their own </s> like a real translation's)
through the real 08 code path (``translation.translate_document`` with the default CTranslate2 backend),
English -> Hindi.
"""

from __future__ import annotations

import sys
import time

import common

sys.path.insert(0, str(common.REPO / "tests"))


def _document(count: int) -> dict:
    from cinesub.segments import new_document

    _, _, truth = common.speech_film(10)
    sentences = (truth * (count // len(truth) + 1))[:count]
    segments = [
        {
            "id": i,
            "start": s["start"] + 600 * (i // len(truth)),
            "end": s["end"] + 600 * (i // len(truth)),
            "text": s["text"],
            "words": [],
        }
        for i, s in enumerate(sentences)
    ]
    return new_document("bench", "en", "07_hallucination_removal", segments, duration=segments[-1]["end"] + 1)


def _translate(doc: dict, path: str, per_segment: bool) -> tuple[float, dict]:
    from cinesub import translation

    settings = translation.settings_from({"threads": 2, "models": {"en-indic": path}})
    if per_segment:  # the baseline: every segment alone, one model call each
        settings.max_unit_segments, settings.max_batch_sentences = 1, 1
    backend = translation.load_translator("en-indic", settings)
    started = time.perf_counter()
    out = translation.translate_document(doc, "hi", backend, settings=settings)
    return time.perf_counter() - started, out["meta"]["08_translation"]


def run(segments: int = 100, runs: int = 3) -> dict:
    import tiny_indictrans

    path = common.OUT / "tiny_ct2_en_indic"
    if not (path / "model.bin").exists():
        tiny_indictrans.build_ct2_standin(path, "en-indic")
    doc = _document(segments)
    modes = {}
    for name, per_segment in (("batched", False), ("per_segment", True)):
        walls, meta = [], {}
        for _ in range(runs):
            wall, meta = _translate(doc, str(path), per_segment)
            walls.append(round(wall, 3))
        modes[name] = {
            "wall_s_median": common.median(walls),
            "runs_s": walls,
            "model_calls": meta.get("model_calls"),
            "units": meta.get("units"),
            "model_inputs": meta.get("model_inputs"),
            "batch_sizes": meta.get("batch_sizes"),
        }
        print(
            f"  translation {name}: {modes[name]['model_calls']} model calls, "
            f"{modes[name]['wall_s_median']:.2f} s per {segments} segments",
            flush=True,
        )
    return {
        "segments": segments,
        "modes": modes,
        "runtime": "ctranslate2",
        "speedup": round(modes["per_segment"]["wall_s_median"] / modes["batched"]["wall_s_median"], 2),
    }


def table(result: dict) -> str:
    b, p = result["modes"]["batched"], result["modes"]["per_segment"]
    return (
        f"per {result['segments']} segments: batched {b['model_calls']} calls, {b['wall_s_median']:.2f} s "
        f"({b['units']} sentence units); one call per segment {p['model_calls']} calls, "
        f"{p['wall_s_median']:.2f} s; speed-up {result['speedup']:.1f}x"
    )
