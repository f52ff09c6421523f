"""Machine-translation backends for 08_translation.

* ``CT2IndicTransBackend`` (the default for IndicTrans2): a CTranslate2 model directory (``model.bin``) as
  AI4Bharat's own inference engine runs it (``inference/engine.py``): IndicProcessor pre/post-processing,
  SentencePiece ``model.SRC`` / ``model.TGT`` for the pieces, ``translate_batch`` under a token budget.
  No torch, no ``trust_remote_code``.
* ``IndicTransBackend``: a transformers checkpoint (``config.json``, Hub or fine-tune) through its remote
  code, with the load-time fixes AI4Bharat's code needs on the transformers we pin (:func:`fix_remote_model`).
* ``GenericBackend``: a Hugging Face seq2seq model (NLLB / M2M100 / Marian) for non-Indic pairs.

All take texts whose protected spans are already placeholders (``<ID1xx>``), translate them in
length-sorted batches under a token budget, count their model calls, and hand back texts with the
placeholders in canonical form. torch, transformers and ctranslate2 are imported only when a model loads.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CinesubError
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
        lambda m: f" <ID{ord(m.group(0)) - _SHIELD_BASE + PLACEHOLDER_BASE}> ",
        text,
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


RUNTIMES = ("ctranslate2", "transformers")
# fairseq's special tokens, first in every IndicTrans2 vocabulary
SPECIAL_TOKENS = frozenset(("<s>", "<pad>", "</s>", "<unk>"))
# AI4Bharat's archives keep the SentencePiece models in vocab/ beside (or above) the CT2 model directory.
SENTENCEPIECE_PLACES = (".", "vocab", "../vocab")


def model_runtime(path: str, explicit: str = "auto") -> str:
    """``ctranslate2`` for a directory holding ``model.bin``, ``transformers`` for one with a transformers
    ``config.json`` only; ``explicit`` (not ``auto``) wins."""
    if explicit != "auto":
        return explicit
    return "ctranslate2" if (Path(path) / "model.bin").is_file() else "transformers"


def sentencepiece_models(path: str) -> tuple[Path, Path] | None:
    """``model.SRC`` and ``model.TGT`` of a CTranslate2 IndicTrans2 directory, or None."""
    for place in SENTENCEPIECE_PLACES:
        folder = (Path(path) / place).resolve()
        if (folder / "model.SRC").is_file() and (folder / "model.TGT").is_file():
            return folder / "model.SRC", folder / "model.TGT"
    return None


def ct2_missing_parts(path: str) -> list[str]:
    """What a CTranslate2 IndicTrans2 directory lacks (empty when complete)."""
    folder = Path(path)
    missing = [] if (folder / "model.bin").is_file() else ["model.bin"]
    vocabularies = (
        "source_vocabulary.json",
        "source_vocabulary.txt",
        "shared_vocabulary.json",
        "shared_vocabulary.txt",
    )
    if not any((folder / name).is_file() for name in vocabularies):
        missing.append("source/shared vocabulary")
    if sentencepiece_models(path) is None:
        missing.append("SentencePiece model.SRC/model.TGT (in the directory or its vocab/)")
    return missing


def pick_device(device: str, runtime: str = "transformers") -> str:
    if device != "auto":
        return device
    if runtime == "ctranslate2":
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class BackendBase:
    """What every backend shares: identity, batching settings and the call counters."""

    model_id: str
    path: str
    direction: str
    device: str = "cpu"
    compute_type: str = "auto"
    batch_tokens: int = 2048
    max_batch_sentences: int = 64
    num_beams: int = 4
    max_new_tokens: int = 256
    threads: int = 1
    model_calls: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    truncated: int = 0
    runtime: str = "transformers"

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "path": self.path,
            "direction": self.direction,
            "device": self.device,
            "runtime": self.runtime,
            "model_calls": self.model_calls,
            "batches": len(self.batch_sizes),
            "batch_sizes": list(self.batch_sizes),
            "truncated_inputs": self.truncated,
        }


class CT2IndicTransBackend(BackendBase):
    """IndicTrans2 on CTranslate2, as AI4Bharat's inference engine runs it."""

    # IndicTrans2 was trained on inputs of at most 256 tokens (engine.py truncates there too).
    MAX_INPUT_TOKENS = 256

    def load(self) -> CT2IndicTransBackend:
        import ctranslate2
        import sentencepiece as spm

        self.runtime = "ctranslate2"
        missing = ct2_missing_parts(self.path)
        if missing:
            raise CinesubError(
                f"translation model {self.model_id!r} ({self.path}) is a CTranslate2 model "
                f"without {', '.join(missing)}"
            )
        self.device = pick_device(self.device, "ctranslate2")
        source_model, target_model = sentencepiece_models(self.path)
        self.sp_source = spm.SentencePieceProcessor(model_file=str(source_model))
        self.sp_target = spm.SentencePieceProcessor(model_file=str(target_model))
        self.translator = ctranslate2.Translator(
            self.path, device=self.device, compute_type=self.compute_type, intra_threads=max(1, self.threads)
        )
        return self

    def _pieces(self, prepared: str) -> list[str]:
        """``"src_tag tgt_tag text"`` (IndicProcessor's output) as the model's input tokens."""
        source_tag, target_tag, text = prepared.split(" ", 2)
        pieces = self.sp_source.encode(text, out_type=str)
        body_limit = self.MAX_INPUT_TOKENS - 3  # two tags and the </s> CTranslate2 appends
        if len(pieces) > body_limit:
            self.truncated += 1
            pieces = pieces[:body_limit]
        return [source_tag, target_tag, *pieces]

    def check_readable(self, tokenized: list[list[str]], source: Language) -> None:
        """A model.SRC that cannot write the source text (mostly unknown pieces) belongs to another
        direction: stop before translating noise."""
        unknown = self.sp_source.unk_id()
        pieces = [p for tokens in tokenized for p in tokens[2:] if p != "▁"]  # bare word boundaries
        unknown_share = sum(self.sp_source.piece_to_id(p) == unknown for p in pieces) / max(1, len(pieces))
        if unknown_share > 0.5:
            raise CinesubError(
                f"translation model {self.model_id!r} ({self.path}) does not read "
                f"{source.name} text: its model.SRC knows only {1 - unknown_share:.0%} of "
                f"the pieces (a model for another direction?)"
            )

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]:
        if not texts:
            return []
        processor = indic_processor()
        prepared = processor.preprocess_batch(texts, src_lang=source.flores, tgt_lang=target.flores)
        tokenized = [self._pieces(text) for text in prepared]
        self.check_readable(tokenized, source)
        decoded: list[str] = [""] * len(texts)
        lengths = [len(tokens) + 1 for tokens in tokenized]
        for batch in plan_batches(lengths, self.batch_tokens, self.max_batch_sentences):
            results = self.translator.translate_batch(
                [tokenized[i] for i in batch],
                max_batch_size=self.batch_tokens,
                batch_type="tokens",
                beam_size=self.num_beams,
                max_decoding_length=self.max_new_tokens,
                max_input_length=self.MAX_INPUT_TOKENS,
            )
            self.model_calls += 1
            self.batch_sizes.append(len(batch))
            for index, result in zip(batch, results, strict=True):
                # Special tokens (an <unk> the model wrote) are dropped, as transformers'
                # skip_special_tokens does: SentencePiece would render <unk> as " ⁇ ".
                pieces = [p for p in result.hypotheses[0] if p not in SPECIAL_TOKENS]
                decoded[index] = canonical_placeholders(self.sp_target.decode_pieces(pieces))
        if self.truncated:
            LOG.warning(
                "%d input(s) exceeded %d tokens and were truncated", self.truncated, self.MAX_INPUT_TOKENS
            )
        return finish_indic(processor, decoded, target)


def indic_processor() -> Any:
    """A fresh IndicProcessor: its placeholder maps are a FIFO that one postprocess_batch drains.

    Loaded from its compiled module without the package ``__init__``, which imports the training
    collator and with it transformers (and torch, where installed); the processor needs neither."""
    import importlib.util
    import sys

    module = sys.modules.get("IndicTransToolkit.processor")
    if module is None:
        package = importlib.util.find_spec("IndicTransToolkit")  # finds, does not import
        if package is None or not package.submodule_search_locations:
            raise CinesubError("IndicTransToolkit is not installed (pip install -r requirements.txt)")
        folder = Path(next(iter(package.submodule_search_locations)))
        compiled = sorted(folder.glob("processor*.so")) + sorted(folder.glob("processor*.pyd"))
        if not compiled:
            from IndicTransToolkit import processor as module  # a pure-Python build
        else:
            spec = importlib.util.spec_from_file_location("IndicTransToolkit.processor", compiled[0])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules["IndicTransToolkit.processor"] = module
    return module.IndicProcessor(inference=True)


def finish_indic(processor: Any, decoded: list[str], target: Language) -> list[str]:
    """IndicProcessor's post-processing with our placeholders shielded from it."""
    finished = processor.postprocess_batch([shield(text) for text in decoded], lang=target.flores)
    return [" ".join(unshield(text).split()) for text in finished]


def fix_remote_model(config: Any) -> Any:
    """AI4Bharat's configuration_indictrans.py on transformers >= 4.57: older exports have no
    ``vocab_size``, which beam search reads; the decoder's vocabulary is the one it means."""
    if getattr(config, "vocab_size", None) is None and getattr(config, "decoder_vocab_size", None):
        config.vocab_size = config.decoder_vocab_size
    return config


def uses_legacy_cache(model: Any) -> bool:
    """Remote model code written for tuple caches (it defines the old ``_reorder_cache`` hook)."""
    return any(
        cls.__module__.startswith("transformers_modules.") and "_reorder_cache" in vars(cls)
        for cls in type(model).__mro__
    )


def give_legacy_cache(model: Any) -> None:
    """transformers >= 4.57 hands the decoder an ``EncoderDecoderCache``; AI4Bharat's decoder reads
    ``past_key_values[0][0].shape``. Hand it what it was written for: nothing on the first step, the
    tuple form afterwards (beam reordering stays transformers' own; outputs equal ``use_cache=False``)."""
    from transformers.cache_utils import Cache

    prepare = model.prepare_inputs_for_generation

    def prepare_legacy(*args: Any, past_key_values: Any = None, **kwargs: Any) -> dict:
        if isinstance(past_key_values, Cache):
            past_key_values = past_key_values.to_legacy_cache() if past_key_values.get_seq_length() else None
        return prepare(*args, past_key_values=past_key_values, **kwargs)

    model.prepare_inputs_for_generation = prepare_legacy


class Seq2SeqBackend(BackendBase):
    """Shared transformers loading, batching and generation; subclasses prepare inputs and finish outputs."""

    tokenizer: Any = None
    model: Any = None
    progress: Any = None  # called after each batch with (percent done, what was done): cinesub.progress

    def load(self) -> Seq2SeqBackend:
        import torch
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        self.runtime = "transformers"
        self.device = pick_device(self.device)
        if self.device == "cpu":
            torch.set_num_threads(max(1, self.threads))
        # IndicTrans2 ships its own model and tokenizer code; it runs only from the resolved directory.
        options = {"trust_remote_code": True, "local_files_only": True}
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, **options)
        config = fix_remote_model(AutoConfig.from_pretrained(self.path, **options))
        model = AutoModelForSeq2SeqLM.from_pretrained(self.path, config=config, **options)
        if uses_legacy_cache(model):
            give_legacy_cache(model)
        model = model.to(self.device)
        if self.device.startswith("cuda"):
            model = model.half()
        self.model = model.eval()
        return self

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
            encoded = tokenizer(
                [prepared[i] for i in batch], padding="longest", truncation=True, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    num_beams=self.num_beams,
                    max_new_tokens=self.max_new_tokens,
                    use_cache=True,
                    **extra,
                )
            self.model_calls += 1
            self.batch_sizes.append(len(batch))
            texts = tokenizer.batch_decode(
                output.detach().cpu().tolist(), skip_special_tokens=True, clean_up_tokenization_spaces=True
            )
            for index, text in zip(batch, texts, strict=True):
                decoded[index] = canonical_placeholders(text)
            done += len(batch)
            if self.progress is not None:
                self.progress(
                    100.0 * done / len(prepared),
                    f"batch {number} of {len(batches)}, {done} of {len(prepared)} sentences",
                )
        if self.truncated:
            LOG.warning(
                "%d input(s) reached the model's %d-token limit and were truncated", self.truncated, limit
            )
        return decoded


class IndicTransBackend(Seq2SeqBackend):
    """IndicTrans2 transformers checkpoints: IndicProcessor pre/post-processing around the model."""

    def translate(self, texts: list[str], source: Language, target: Language) -> list[str]:
        if not texts:
            return []
        processor = indic_processor()
        prepared = processor.preprocess_batch(texts, src_lang=source.flores, tgt_lang=target.flores)
        return finish_indic(processor, self._generate(prepared, {}), target)


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


def backend_class(direction: str, runtime: str) -> type[BackendBase]:
    if runtime == "ctranslate2":
        if direction == "generic":
            raise CinesubError(
                "the generic (NLLB/M2M100) translation model runs on transformers only; "
                "name a transformers checkpoint for translation.models.generic"
            )
        return CT2IndicTransBackend
    return GenericBackend if direction == "generic" else IndicTransBackend
