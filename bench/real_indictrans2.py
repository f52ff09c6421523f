"""08 on AI4Bharat's real IndicTrans2 model code, with tiny random weights (never committed here).

    git clone https://github.com/AI4Bharat/IndicTrans2 /tmp/IndicTrans2   # any machine with internet
    .venv/bin/python bench/real_indictrans2.py /tmp/IndicTrans2/huggingface_interface

Builds two checkpoints from their ``configuration_indictrans.py`` / ``modeling_indictrans.py`` (a config
with ``vocab_size``, and one without it like the older Hub exports), loads each through 08's transformers
backend and translates with the shipped settings (4 beams, ``use_cache=True``) - once as transformers
alone would (the load-time fixes off) and once through ``mt_backends`` as 08 runs it. Cached beam
search must give exactly what ``use_cache=False`` gives. Needs the transformers extra (torch).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

LINES = ["Raj went to the market with Priya yesterday.", "Thank you very much, we will meet again tomorrow."]


def run(upstream: Path) -> list[str]:
    import torch
    import transformers
    from cinesub import languages, mt_backends, translation
    from tiny_indictrans import build_indictrans_standin

    report = [f"transformers {transformers.__version__}, torch {torch.__version__}, code from {upstream}"]
    english, hindi = languages.get("en"), languages.get("hi")
    with tempfile.TemporaryDirectory() as scratch:
        for with_vocab_size in (False, True):
            vintage = (
                "config with vocab_size" if with_vocab_size else "config without vocab_size (older exports)"
            )
            path = build_indictrans_standin(
                Path(scratch) / f"vocab_size_{with_vocab_size}",
                "en-indic",
                modeling_from=upstream,
                with_vocab_size=with_vocab_size,
            )
            settings = translation.settings_from(
                {
                    "models": {"en-indic": str(path)},
                    "num_beams": 4,
                    "max_new_tokens": 12,
                    "runtimes": {"en-indic": "transformers"},
                }
            )
            for fixes in (False, True):
                saved = (mt_backends.fix_remote_model, mt_backends.uses_legacy_cache)
                if not fixes:
                    mt_backends.fix_remote_model = lambda config: config
                    mt_backends.uses_legacy_cache = lambda model: False
                try:
                    backend = translation.load_translator("en-indic", settings)
                    out = backend.translate(LINES, english, hindi)
                    with torch.inference_mode():
                        encoded = backend.tokenizer([f"eng_Latn hin_Deva {LINES[0]}"], return_tensors="pt")
                        cached = backend.model.generate(
                            **encoded, num_beams=4, max_new_tokens=12, use_cache=True
                        )
                        uncached = backend.model.generate(
                            **encoded, num_beams=4, max_new_tokens=12, use_cache=False
                        )
                    same = torch.equal(cached, uncached)
                    result = f"generated {len(out)} translations; cached == uncached beams: {same}"
                except Exception as exc:  # noqa: BLE001 - the point is to show what fails
                    result = f"FAILED {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
                finally:
                    mt_backends.fix_remote_model, mt_backends.uses_legacy_cache = saved
                label = "08 (load-time fixes)" if fixes else "transformers as is"
                report.append(f"{vintage} | {label} | num_beams=4 use_cache=True | {result}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "huggingface_interface", type=Path, help="AI4Bharat/IndicTrans2's huggingface_interface/"
    )
    args = parser.parse_args()
    for line in run(args.huggingface_interface):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
