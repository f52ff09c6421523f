"""Machine-translation backends for 08_translation: IndicTrans2 (via IndicTransToolkit) and a generic
Hugging Face seq2seq model (NLLB / M2M100 / Marian) for non-Indic pairs.

Both take texts whose protected spans are already placeholders (``<ID1xx>``), translate them in
length-sorted batches under a token budget, count their ``generate`` calls, and hand back texts with
the placeholders in canonical form. torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from .languages import Language

LOG = logging.getLogger("cinesub")

# Placeholders carry numbers 101..199 (IndicProcessor numbers its own <IDn> from 1), in the <IDn> form
# IndicTrans2 was trained to copy. Models sometimes respace or bracket them, or write "ID" in Devanagari.
PLACEHOLDER_BASE = 100
MAX_PLACEHOLDERS = 99
_PLACEHOLDER_VARIANTS = re.compile(
    r"(?:[<\[]\s*)?(?:ID|Id|id|iD|आईडी|आयडी|आइडी|आई\s?डी)\s*(1\d\d)(?:\s*[>\]])?"
)
_CANONICAL = re.compile(r"<ID(1\d\d)>")
# One private-use character per placeholder while IndicProcessor post-processes: it transliterates,
# detokenizes and replaces its own placeholder keys, none of which touch these characters.
_SHIELD_BASE = 0xE000


def placeholder(number: int) -> str:
    """The canonical placeholder for protected span ``number`` (1-based)."""
    return f"<ID{PLACEHOLDER_BASE + number}>"


def canonical_placeholders(text: str) -> str:
    return _PLACEHOLDER_VARIANTS.sub(lambda m: f"<ID{m.group(1)}>", text)


def shield(text: str) -> str:
    return _CANONICAL.sub(lambda m: chr(_SHIELD_BASE + int(m.group(1)) - PLACEHOLDER_BASE), text)


def unshield(text: str) -> str:
    return re.sub(
        f"[{chr(_SHIELD_BASE + 1)}-{chr(_SHIELD_BASE + MAX_PLACEHOLDERS)}]",
        lambda m: f" <ID{ord(m.group(0)) - _SHIELD_BASE + PLACEHOLDER_BASE}> ", text,
    )


def plan_batches(lengths: list[int], batch_tokens: int, max_batch_sentences: int) -> list[list[int]]:
    """Indices grouped into batches: longest first, each batch's padded size (rows x longest row)
    within ``batch_tokens`` and at most ``max_batch_sentences`` rows. An over-long row goes alone."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for index in order:
        if batches:
            current = batches[-1]
            longest = lengths[current[0]]
            if len(current) < max_batch_sentences and (len(current) + 1) * longest <= batch_tokens:
                current.append(index)
                continue
        batches.append([index])
    return batches


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@dataclass
class Seq2SeqBackend:
    """Shared loading, batching and generation; subclasses prepare inputs and finish outputs."""

    model_id: str
    path: str
    direction: str
    device: str = "cpu"
    batch_tokens: int = 2048
    max_batch_sentences: int = 64
    num_beams: int = 4
    max_new_tokens: int = 256
    threads: int = 1
    model_calls: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    truncated: int = 0
    tokenizer: Any = None
    model: Any = None
    progress: Any = None  # called after each batch with (percent done, what was done): cinesub.progress

    def load(self) -> Seq2SeqBackend:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.device = pick_device(self.device)
        if self.device == "cpu":
            torch.set_num_threads(max(1, self.threads))
        # IndicTrans2 ships its own model and tokenizer code; it runs only from the resolved directory.
        options = {"trust_remote_code": True, "local_files_only": True}
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, **options)
        model = AutoModelForSeq2SeqLM.from_pretrained(self.path, **options)
        model = model.to(self.device)
        if self.device.startswith("cuda"):
            model = model.half()
        self.model = model.eval()
        return self

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_id, "path": self.path, "direction": self.direction, "device": self.device,
                "model_calls": self.model_calls, "batches": len(self.batch_sizes),
                "batch_sizes": list(self.batch_sizes), "truncated_inputs": self.truncated}

    def _generate(self, prepared: list[str], extra: dict[str, Any]) -> list[str]:
        """Batched generation over ``prepared`` model inputs; decoded outputs in input order."""
        import torch

        tokenizer = self.tokenizer
        lengths = [len(ids) for ids in tokenizer(prepared, truncation=True)["input_ids"]]
        limit = getattr(tokenizer, "model_max_length", None) or 0
        self.truncated += sum(1 for n in lengths if limit and n >= limit)
        decoded: list[str] = [""] * len(prepared)
        batches = plan_batches(lengths, self.batch_tokens, self.max_batch_sentences)
        done = 0
        for number, batch in enumerate(batches, start=1):
            encoded = tokenizer([prepared[i] for i in batch], padding="longest", truncation=True,
                                return_tensors="pt").to(self.device)
            with torch.inference_mode():
                output = self.model.generate(**encoded, num_beams=self.num_beams,
                                             max_new_tokens=self.max_new_tokens, use_cache=True, **extra)
            self.model_calls += 1
            self.batch_sizes.append(len(batch))
            texts = tokenizer.batch_decode(output.detach().cpu().tolist(), skip_special_tokens=True,
                                           clean_up_tokenization_spaces=True)
            for index, text in zip(batch, texts, strict=True):
                decoded[index] = canonical_placeholders(text)
            done += len(batch)
            if self.progress is not None:
                self.progress(100.0 * done / len(prepared),
                              f"batch {number} of {len(batches)}, {done} of {len(prepared)} sentences")
        if self.truncated:
            LOG.warning("%d input(s) reached the model's %d-token limit and were truncated",
                        self.truncated, limit)
        return decoded


class IndicTransBackend(Seq2SeqBackend):
    """IndicTrans2 checkpoints: IndicProcessor pre/post-processing around the model."""

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]:
        if not texts:
            return []
        from IndicTransToolkit import IndicProcessor

        # A fresh processor per call: its placeholder maps are a FIFO that one postprocess_batch drains.
        processor = IndicProcessor(inference=True)
        prepared = processor.preprocess_batch(texts, src_lang=source.flores, tgt_lang=target.flores)
        decoded = self._generate(prepared, {})
        finished = processor.postprocess_batch([shield(text) for text in decoded], lang=target.flores)
        return [" ".join(unshield(text).split()) for text in finished]


class GenericBackend(Seq2SeqBackend):
    """NLLB (FLORES codes), M2M100 (ISO codes) or a single-pair model such as Marian."""

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]:
        if not texts:
            return []
        tokenizer = self.tokenizer
        extra: dict[str, Any] = {}
        if hasattr(tokenizer, "get_lang_id"):  # M2M100
            tokenizer.src_lang = source.code
            extra["forced_bos_token_id"] = tokenizer.get_lang_id(target.code)
        elif target.flores in tokenizer.get_vocab():  # NLLB
            tokenizer.src_lang = source.flores
            extra["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(target.flores)
        decoded = self._generate([" ".join(text.split()) for text in texts], extra)
        return [" ".join(text.split()) for text in decoded]


def backend_class(direction: str) -> type[Seq2SeqBackend]:
    return GenericBackend if direction == "generic" else IndicTransBackend
