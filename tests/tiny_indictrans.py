"""Tiny translation models built at test time, shaped like IndicTrans2 where it matters.

Like the real checkpoints, a stand-in serves ONE direction (en-indic or indic-en) and has separate source
and target vocabularies and SentencePiece models (``model.SRC`` / ``model.TGT``): the source side is
trained on English (en-indic) or Hindi (indic-en) lines only, the target side on the other script, so
decoding target pieces with the source model leaves raw ``▁`` pieces in the text and a test notices.

The weights are set by hand (no training, no torch) so that the model really *copies*: each output
step attends to the next source token (sinusoidal positions, a cross-attention rotated by two steps
past the language tags) and writes its target-side form - Latin letters become Devanagari letters for
en-indic, Devanagari becomes Latin for indic-en, placeholders (``< ID101 >``) and digits stay as they
are. The end-of-sentence token is an ordinary output (the source's ``</s>`` is copied), never forced
or suppressed. ``weights="random"`` gives the same shapes with random weights instead.

Two runtimes, one set of weights (:func:`copy_weights`):

* :func:`build_ct2_standin` writes a CTranslate2 model (``model.bin`` + vocabularies) with
  ``ctranslate2.specs``, laid out like AI4Bharat's CT2 archives (``vocab/model.SRC``, ``vocab/model.TGT``).
* :func:`build_indictrans_standin` writes a transformers checkpoint laid out like an
  ``ai4bharat/indictrans2-*`` Hub repository (remote code + ``auto_map``, ``dict.SRC.json`` ...). Its
  model code is a Marian stand-in unless ``modeling_from`` names a checkout of AI4Bharat's
  ``huggingface_interface/`` (then their real ``modeling_indictrans.py`` runs, with random weights).
  Needs torch (the transformers extra).

``build_nllb_standin`` writes a tiny NLLB-shaped model (``NllbTokenizer`` + M2M100) for the generic backend.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENGLISH_LINES = [
    "Raj went to the market with Priya yesterday.",
    "Where are you going, my friend? I am going home.",
    "The train to Mumbai leaves at nine in the morning.",
    "Thank you very much, we will meet again tomorrow.",
    "She said the film was long but the songs were good.",
    "because Meera is waiting, Shah Rukh Khan said so",
    "yaar tum kahan ja rahe ho, arey bhai ruko zara.",
    "quick brown fox jumps over the lazy dog",
    "< ID101 > met < ID102 > and < ID103 > , 0 1 2 3 4 5 6 7 8 9 . ? ! ,",
]
HINDI_LINES = [
    "राज कल प्रिया के साथ बाज़ार गया था।",
    "तुम कहाँ जा रहे हो दोस्त? मैं घर जा रहा हूँ।",
    "मुंबई की ट्रेन सुबह नौ बजे निकलती है।",
    "बहुत बहुत धन्यवाद, हम कल फिर मिलेंगे।",
    "उसने कहा कि फ़िल्म लंबी थी पर गाने अच्छे थे।",
    "मीरा ने कहा कि Office में meeting है",
    "< ID101 > ने < ID102 > से कहा , 0 1 2 3 4 5 6 7 8 9 . ? ! ,",
]

INDICTRANS_LANGUAGE_TAGS = [
    "asm_Beng",
    "ben_Beng",
    "brx_Deva",
    "doi_Deva",
    "eng_Latn",
    "gom_Deva",
    "guj_Gujr",
    "hin_Deva",
    "kan_Knda",
    "kas_Arab",
    "mai_Deva",
    "mal_Mlym",
    "mar_Deva",
    "mni_Beng",
    "npi_Deva",
    "ory_Orya",
    "pan_Guru",
    "san_Deva",
    "sat_Olck",
    "snd_Arab",
    "tam_Taml",
    "tel_Telu",
    "urd_Arab",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq order: ids 0..3

# What the copying model writes for each letter: one Devanagari letter per Latin letter (en-indic), and
# every Devanagari code point to a Latin letter (indic-en). Digits, punctuation and placeholders stay.
LATIN_TO_DEVANAGARI = dict(zip("abcdefghijklmnopqrstuvwxyz", "अबचदएफगहइजकलमनओपखरसतउवडशयझ", strict=True))
_PLACEHOLDER_PIECE = re.compile(r"▁?ID1\d\d")


def standin_letter(char: str, direction: str) -> str:
    if direction == "en-indic":
        return LATIN_TO_DEVANAGARI.get(char.lower(), char)
    if "\u0900" <= char <= "\u097f":
        return "abcdefghijklmnopqrstuvwxyz"[ord(char) % 26] if char not in "।॥" else "."
    return char


def standin_piece(piece: str, direction: str) -> str:
    """The target piece the copying stand-in writes for source piece ``piece``."""
    if _PLACEHOLDER_PIECE.fullmatch(piece):
        return piece
    return "".join(standin_letter(c, direction) for c in piece)


def standin_text(text: str, direction: str) -> str:
    """What the copying stand-in makes of ``text`` (letters mapped, placeholders kept)."""
    return re.sub(
        r"ID1\d\d|.",
        lambda m: m.group(0) if len(m.group(0)) > 1 else standin_letter(m.group(0), direction),
        text,
    )


# ---------------------------------------------------------------------------------------- vocabularies


def _train_sentencepiece(lines: list[str], vocab_size: int, symbols: list[str] | None = None) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        user_defined_symbols=symbols or [],
        minloglevel=2,
    )
    return model.getvalue()


def _pieces(spm_bytes: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=spm_bytes)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


@dataclass
class StandinVocabulary:
    direction: str
    src_spm: bytes
    tgt_spm: bytes
    source_tokens: list[str]  # fairseq dictionary order: specials, language tags, pieces
    target_tokens: list[str]

    def target_of(self, source_token: str) -> str:
        if source_token == "</s>":
            return "</s>"
        if source_token in SPECIALS or source_token in INDICTRANS_LANGUAGE_TAGS:
            return "<unk>"
        return standin_piece(source_token, self.direction)


def standin_vocabulary(direction: str) -> StandinVocabulary:
    if direction not in ("en-indic", "indic-en"):
        raise ValueError(f"stand-ins serve en-indic or indic-en, not {direction}")
    lines = ENGLISH_LINES if direction == "en-indic" else HINDI_LINES
    src_spm = _train_sentencepiece(lines, vocab_size=150, symbols=[f"ID{n}" for n in range(101, 110)])
    src_pieces = [p for p in _pieces(src_spm) if p != "<unk>"]
    # Every piece the copying model can write is a whole piece of the target model.
    written = sorted({standin_piece(p, direction) for p in src_pieces} - {"▁"})
    target_lines = [standin_text(line, direction) for line in lines]
    characters = len(set("".join(target_lines)))
    tgt_spm = _train_sentencepiece(target_lines, vocab_size=len(written) + characters + 20, symbols=written)
    source_tokens = list(dict.fromkeys(SPECIALS + INDICTRANS_LANGUAGE_TAGS + src_pieces))
    target_tokens = list(dict.fromkeys(SPECIALS + [p for p in _pieces(tgt_spm) if p != "<unk>"]))
    # Marian (the transformers stand-in) sizes its decoder embeddings by the source vocabulary: pad the
    # target side with tokens no SentencePiece model has (never written by the copying weights).
    target_tokens += [f"<unused{i}>" for i in range(len(source_tokens) - len(target_tokens))]
    return StandinVocabulary(direction, src_spm, tgt_spm, source_tokens, target_tokens)


# ---------------------------------------------------------------------------------------------- weights

FREQUENCIES = 24  # sinusoid pairs that encode positions
MAX_POSITIONS = 256


def _frequencies() -> np.ndarray:
    """Position frequencies whose kernel sum(cos(w * d)) peaks sharply at d == 0 for |d| < MAX_POSITIONS."""
    frequencies = np.random.default_rng(7).uniform(0.25, 3.0, FREQUENCIES)
    deltas = np.arange(1, 2 * MAX_POSITIONS)
    kernel = np.cos(np.outer(deltas, frequencies)).sum(axis=1)
    assert FREQUENCIES - kernel.max() >= 4, "position code not sharp enough"
    return frequencies


def copy_weights(vocab: StandinVocabulary, *, pre_norm: bool, random_seed: int | None = None) -> dict:
    """Weights of a 1-layer encoder-decoder (1 head) that copies source tokens past the two tags.

    Every hidden vector is [content, -content, positions] with mean 0 and a fixed norm, so each layer
    norm is a fixed scale: encoder layers and feed-forwards are zero (residuals pass through), the
    decoder's cross-attention matches position t+2 of the source and carries its content, and the
    output projection maps each source token's content to its target token.
    """
    n_src, n_tgt = len(vocab.source_tokens), len(vocab.target_tokens)
    d_pos = 4 * FREQUENCIES
    d_model = 2 * n_src + d_pos
    ffn = 8
    frequencies = _frequencies()
    angles = np.outer(np.arange(MAX_POSITIONS), frequencies)
    positions = np.zeros((MAX_POSITIONS, d_model), np.float32)
    positions[:, 2 * n_src :] = np.concatenate(
        [np.sin(angles), np.cos(angles), -np.sin(angles), -np.cos(angles)], axis=1
    )
    sigma = np.sqrt(FREQUENCIES)  # content as heavy as the position code
    eye = np.eye(n_src, dtype=np.float32)
    source_embeddings = np.zeros((n_src, d_model), np.float32)
    source_embeddings[:, : 2 * n_src] = sigma * np.concatenate([eye, -eye], axis=1)
    target_embeddings = np.zeros((n_tgt, d_model), np.float32)

    g_enc = np.sqrt(d_model / (4 * FREQUENCIES))  # layer-norm scale of an encoder vector
    g_dec = np.sqrt(d_model / (2 * FREQUENCIES))  # ... of a decoder vector before attention
    sin0, cos0 = 2 * n_src, 2 * n_src + FREQUENCIES
    query = np.zeros((d_model, d_model), np.float32)
    key = np.zeros((d_model, d_model), np.float32)
    sharpness = 6.0 * np.sqrt(d_model) / (g_enc * g_dec)
    for f, w in enumerate(frequencies):
        # q = positions of t + 2 (a rotation of t's pair), k = positions of s: q.k peaks at s == t + 2.
        c, s = np.cos(2 * w), np.sin(2 * w)
        query[sin0 + f, sin0 + f], query[sin0 + f, cos0 + f] = sharpness * c, sharpness * s
        query[cos0 + f, sin0 + f], query[cos0 + f, cos0 + f] = -sharpness * s, sharpness * c
        key[sin0 + f, sin0 + f] = key[cos0 + f, cos0 + f] = 1.0
    value = np.zeros((d_model, d_model), np.float32)
    value[: 2 * n_src, : 2 * n_src] = np.eye(2 * n_src)
    out = np.eye(d_model, dtype=np.float32)

    content = g_enc * sigma  # attention output per content coordinate
    if pre_norm:
        kappa = content * np.sqrt(d_model / (2 * content**2 + 2 * FREQUENCIES))
    else:
        kappa = content * np.sqrt(d_model / (2 * FREQUENCIES * g_dec**2 + 2 * content**2))
    beta = 15.0 / kappa  # a 30-logit margin for the copied token
    target_index = {token: i for i, token in enumerate(vocab.target_tokens)}
    projection = np.zeros((n_tgt, d_model), np.float32)
    for i, token in enumerate(vocab.source_tokens):
        j = target_index.get(vocab.target_of(token), target_index["<unk>"])
        projection[j, i] += beta
        projection[j, n_src + i] -= beta

    zeros = np.zeros
    weights = {
        "d_model": d_model,
        "ffn": ffn,
        "positions": positions,
        "source_embeddings": source_embeddings,
        "target_embeddings": target_embeddings,
        "enc_self_qkv": zeros((3 * d_model, d_model), np.float32),
        "enc_self_out": zeros((d_model, d_model), np.float32),
        "enc_ffn_in": zeros((ffn, d_model), np.float32),
        "enc_ffn_out": zeros((d_model, ffn), np.float32),
        "dec_self_qkv": zeros((3 * d_model, d_model), np.float32),
        "dec_self_out": zeros((d_model, d_model), np.float32),
        "dec_cross_q": query,
        "dec_cross_kv": np.concatenate([key, value]),
        "dec_cross_out": out,
        "dec_ffn_in": zeros((ffn, d_model), np.float32),
        "dec_ffn_out": zeros((d_model, ffn), np.float32),
        "projection": projection,
    }
    if random_seed is not None:
        rng = np.random.default_rng(random_seed)
        for name, array in weights.items():
            if isinstance(array, np.ndarray) and name != "positions":
                weights[name] = rng.normal(0, 0.2, array.shape).astype(np.float32)
    return weights


# ---------------------------------------------------------------------------------------- CTranslate2


def _set_layer_norm(spec, d_model: int) -> None:
    spec.gamma = np.ones(d_model, np.float32)
    spec.beta = np.zeros(d_model, np.float32)


def _set_linear(spec, weight: np.ndarray) -> None:
    spec.weight = weight
    spec.bias = np.zeros(weight.shape[0], np.float32)


def build_ct2_standin(
    directory: str | Path, direction: str = "en-indic", *, weights: str = "copy", vocab_layout: str = "vocab"
) -> Path:
    """A CTranslate2 IndicTrans2-shaped model for ``direction``; SentencePiece models in ``vocab/``
    (AI4Bharat's archive layout) or beside ``model.bin`` (``vocab_layout="flat"``)."""
    from ctranslate2.specs import common_spec, transformer_spec

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    vocab = standin_vocabulary(direction)
    w = copy_weights(vocab, pre_norm=True, random_seed=None if weights == "copy" else 0)
    d = w["d_model"]
    spec = transformer_spec.TransformerSpec.from_config(
        (1, 1), 1, pre_norm=True, activation=common_spec.Activation.RELU
    )
    for side, embeddings in ((spec.encoder, w["source_embeddings"]), (spec.decoder, w["target_embeddings"])):
        (side.embeddings[0] if isinstance(side.embeddings, list) else side.embeddings).weight = embeddings
        side.scale_embeddings = False
        side.position_encodings.encodings = w["positions"]
        _set_layer_norm(side.layer_norm, d)
    encoder_layer, decoder_layer = spec.encoder.layer[0], spec.decoder.layer[0]
    for layer, prefix in ((encoder_layer, "enc"), (decoder_layer, "dec")):
        _set_layer_norm(layer.self_attention.layer_norm, d)
        _set_linear(layer.self_attention.linear[0], w[f"{prefix}_self_qkv"])
        _set_linear(layer.self_attention.linear[1], w[f"{prefix}_self_out"])
        _set_layer_norm(layer.ffn.layer_norm, d)
        _set_linear(layer.ffn.linear_0, w[f"{prefix}_ffn_in"])
        _set_linear(layer.ffn.linear_1, w[f"{prefix}_ffn_out"])
    _set_layer_norm(decoder_layer.attention.layer_norm, d)
    _set_linear(decoder_layer.attention.linear[0], w["dec_cross_q"])
    _set_linear(decoder_layer.attention.linear[1], w["dec_cross_kv"])
    _set_linear(decoder_layer.attention.linear[2], w["dec_cross_out"])
    _set_linear(spec.decoder.projection, w["projection"])
    spec.register_source_vocabulary(vocab.source_tokens)
    spec.register_target_vocabulary(vocab.target_tokens)
    # As ct2-fairseq-converter writes IndicTrans2: decoding starts from </s>, the source ends with </s>.
    spec.config.decoder_start_token = "</s>"
    spec.config.add_source_eos = True
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(target))
    spm_dir = target / "vocab" if vocab_layout == "vocab" else target
    spm_dir.mkdir(exist_ok=True)
    (spm_dir / "model.SRC").write_bytes(vocab.src_spm)
    (spm_dir / "model.TGT").write_bytes(vocab.tgt_spm)
    return target


# ---------------------------------------------------------------------------------------- transformers

CONFIGURATION_SOURCE = '''"""Stand-in for IndicTrans2's configuration_indictrans.py (test fixture)."""
from transformers import MarianConfig


class IndicTransConfig(MarianConfig):
    model_type = "IndicTrans"
'''

MODELING_SOURCE = '''"""Stand-in for IndicTrans2's modeling_indictrans.py (test fixture): an encoder-decoder
with separate source and target vocabularies, like the real model."""
from transformers import MarianMTModel

from .configuration_indictrans import IndicTransConfig


class IndicTransForConditionalGeneration(MarianMTModel):
    config_class = IndicTransConfig

    # Marian recomputes its sinusoidal positions at load; the stand-in's position code
    # ([0 ..., sin, cos, -sin, -cos], tiny_indictrans.copy_weights) is saved with the weights instead.
    _keys_to_ignore_on_save = None
'''

TOKENIZATION_SOURCE = '''"""Stand-in for IndicTrans2's tokenization_indictrans.py (test fixture).

Inputs are "<src_tag> <tgt_tag> text" as IndicProcessor.preprocess_batch writes them; the two tags become
the first two tokens, then SentencePiece pieces of the source model, then </s>. Decoding uses the
target vocabulary and the target SentencePiece model. The real tokenizer pads on the left, which is
harmless there because IndicTrans2's positions skip padding; Marian's count it, so this one pads on
the right (the copying weights find source tokens by position).
"""
import json
import os

from sentencepiece import SentencePieceProcessor
from transformers.tokenization_utils import PreTrainedTokenizer

VOCAB_FILES_NAMES = {
    "src_vocab_fp": "dict.SRC.json",
    "tgt_vocab_fp": "dict.TGT.json",
    "src_spm_fp": "model.SRC",
    "tgt_spm_fp": "model.TGT",
}


class IndicTransTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, src_vocab_fp=None, tgt_vocab_fp=None, src_spm_fp=None, tgt_spm_fp=None,
                 unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>", **kwargs):
        self.src_vocab_fp, self.tgt_vocab_fp = src_vocab_fp, tgt_vocab_fp
        self.src_spm_fp, self.tgt_spm_fp = src_spm_fp, tgt_spm_fp
        with open(src_vocab_fp, encoding="utf-8") as handle:
            self.src_encoder = json.load(handle)
        with open(tgt_vocab_fp, encoding="utf-8") as handle:
            self.tgt_encoder = json.load(handle)
        self.src_decoder = {v: k for k, v in self.src_encoder.items()}
        self.tgt_decoder = {v: k for k, v in self.tgt_encoder.items()}
        self.src_spm = SentencePieceProcessor(model_file=src_spm_fp)
        self.tgt_spm = SentencePieceProcessor(model_file=tgt_spm_fp)
        self._target_mode = False
        super().__init__(unk_token=unk_token, bos_token=bos_token, eos_token=eos_token,
                         pad_token=pad_token, **kwargs)
        self.padding_side = "right"

    @property
    def vocab_size(self):
        return len(self.src_encoder)

    def get_vocab(self):
        return dict(self.src_encoder)

    def _tokenize(self, text, **kwargs):
        src_tag, tgt_tag, body = text.split(" ", 2)
        if src_tag not in self.src_encoder or tgt_tag not in self.src_encoder:
            raise ValueError(f"unknown language tags {src_tag!r} {tgt_tag!r}")
        return [src_tag, tgt_tag] + self.src_spm.EncodeAsPieces(body)

    def _convert_token_to_id(self, token):
        return self.src_encoder.get(token, self.src_encoder["<unk>"])

    def _convert_id_to_token(self, index):
        decoder = self.tgt_decoder if self._target_mode else self.src_decoder
        return decoder.get(index, "<unk>")

    def convert_tokens_to_string(self, tokens):
        spm = self.tgt_spm if self._target_mode else self.src_spm
        return spm.decode_pieces(tokens)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        return token_ids_0 + [self.eos_token_id]

    def _decode(self, token_ids, skip_special_tokens=False, **kwargs):
        self._target_mode = True
        try:
            return super()._decode(token_ids, skip_special_tokens=skip_special_tokens, **kwargs)
        finally:
            self._target_mode = False

    def save_vocabulary(self, save_directory, filename_prefix=None):
        paths = []
        for name, source in (("dict.SRC.json", self.src_vocab_fp), ("dict.TGT.json", self.tgt_vocab_fp),
                             ("model.SRC", self.src_spm_fp), ("model.TGT", self.tgt_spm_fp)):
            target = os.path.join(save_directory, name)
            if os.path.abspath(source) != os.path.abspath(target):
                with open(source, "rb") as src, open(target, "wb") as dst:
                    dst.write(src.read())
            paths.append(target)
        return tuple(paths)
'''

TOKENIZER_CONFIG = {
    "tokenizer_class": "IndicTransTokenizer",
    "auto_map": {"AutoTokenizer": ["tokenization_indictrans.IndicTransTokenizer", None]},
    "model_max_length": 256,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "clean_up_tokenization_spaces": True,
}


def _write_tokenizer(target: Path, vocab: StandinVocabulary) -> None:
    (target / "model.SRC").write_bytes(vocab.src_spm)
    (target / "model.TGT").write_bytes(vocab.tgt_spm)
    for name, tokens in (("dict.SRC.json", vocab.source_tokens), ("dict.TGT.json", vocab.target_tokens)):
        mapping = {token: i for i, token in enumerate(tokens)}
        (target / name).write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    (target / "tokenization_indictrans.py").write_text(TOKENIZATION_SOURCE, encoding="utf-8")
    (target / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2), encoding="utf-8")


def _marian_state(w: dict) -> dict:
    """The copy weights as a MarianMTModel state dict (post-norm, like Marian)."""
    import torch

    def t(array):
        return torch.tensor(np.asarray(array, np.float32))

    d = w["d_model"]
    state = {
        "model.encoder.embed_tokens.weight": t(w["source_embeddings"]),
        "model.decoder.embed_tokens.weight": t(w["target_embeddings"]),
        "model.encoder.embed_positions.weight": t(w["positions"]),
        "model.decoder.embed_positions.weight": t(w["positions"]),
        "lm_head.weight": t(w["projection"]),
        "final_logits_bias": torch.zeros(1, len(w["projection"])),
    }
    for side in ("encoder", "decoder"):
        qkv, out = w[f"{side[:3]}_self_qkv"], w[f"{side[:3]}_self_out"]
        prefix = f"model.{side}.layers.0."
        for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
            state[f"{prefix}self_attn.{name}.weight"] = t(qkv[i * d : (i + 1) * d])
        state[f"{prefix}self_attn.out_proj.weight"] = t(out)
        state[f"{prefix}fc1.weight"] = t(w[f"{side[:3]}_ffn_in"])
        state[f"{prefix}fc2.weight"] = t(w[f"{side[:3]}_ffn_out"])
    prefix = "model.decoder.layers.0.encoder_attn."
    state[f"{prefix}q_proj.weight"] = t(w["dec_cross_q"])
    state[f"{prefix}k_proj.weight"] = t(w["dec_cross_kv"][:d])
    state[f"{prefix}v_proj.weight"] = t(w["dec_cross_kv"][d:])
    state[f"{prefix}out_proj.weight"] = t(w["dec_cross_out"])
    return state


def build_indictrans_standin(
    directory: str | Path,
    direction: str = "en-indic",
    *,
    weights: str = "copy",
    modeling_from: str | Path | None = None,
    with_vocab_size: bool = True,
) -> Path:
    """A transformers IndicTrans2-shaped checkpoint for ``direction`` (needs torch).

    With ``modeling_from`` (a checkout's ``huggingface_interface/``), AI4Bharat's own configuration and
    modeling code are copied in and run with random weights; ``with_vocab_size=False`` writes a
    config.json without ``vocab_size``, like the older Hub exports.
    """
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    vocab = standin_vocabulary(direction)
    _write_tokenizer(target, vocab)
    auto_map = {
        "AutoConfig": "configuration_indictrans.IndicTransConfig",
        "AutoModelForSeq2SeqLM": "modeling_indictrans.IndicTransForConditionalGeneration",
    }
    if modeling_from is not None:
        return _build_with_upstream_code(target, vocab, Path(modeling_from), auto_map, with_vocab_size)
    (target / "configuration_indictrans.py").write_text(CONFIGURATION_SOURCE, encoding="utf-8")
    (target / "modeling_indictrans.py").write_text(MODELING_SOURCE, encoding="utf-8")
    w = copy_weights(vocab, pre_norm=False, random_seed=None if weights == "copy" else 0)
    d = w["d_model"]
    config = MarianConfig(
        vocab_size=len(vocab.source_tokens),
        decoder_vocab_size=len(vocab.target_tokens),
        share_encoder_decoder_embeddings=False,
        d_model=d,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=1,
        decoder_attention_heads=1,
        encoder_ffn_dim=w["ffn"],
        decoder_ffn_dim=w["ffn"],
        max_position_embeddings=MAX_POSITIONS,
        scale_embedding=False,
        activation_function="relu",
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=None,
        tie_word_embeddings=False,
        dropout=0.0,
    )
    model = MarianMTModel(config)
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if "layer_norm" in name:
                param.copy_(torch.ones_like(param) if name.endswith("weight") else torch.zeros_like(param))
            elif name.endswith(".bias"):
                param.zero_()
        missing, unexpected = model.load_state_dict(_marian_state(w), strict=False)
        assert not unexpected and all("layer_norm" in k or k.endswith(".bias") for k in missing), missing
    model.generation_config = GenerationConfig(
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2
    )
    model._keys_to_ignore_on_save = None  # keep the position code (see MODELING_SOURCE)
    model.save_pretrained(target)
    config_path = target / "config.json"
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    saved.update(
        {
            "model_type": "IndicTrans",
            "architectures": ["IndicTransForConditionalGeneration"],
            "auto_map": auto_map,
        }
    )
    config_path.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    return target


def _build_with_upstream_code(
    target: Path, vocab: StandinVocabulary, upstream: Path, auto_map: dict, with_vocab_size: bool
) -> Path:
    """AI4Bharat's configuration/modeling files with a tiny random config (never committed: the
    caller names a local checkout of github.com/AI4Bharat/IndicTrans2)."""
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    for name in ("configuration_indictrans.py", "modeling_indictrans.py"):
        shutil.copyfile(upstream / name, target / name)
    config = {
        "model_type": "IndicTrans",
        "architectures": ["IndicTransForConditionalGeneration"],
        "auto_map": auto_map,
        "encoder_vocab_size": len(vocab.source_tokens),
        "decoder_vocab_size": len(vocab.target_tokens),
        "encoder_embed_dim": 32,
        "decoder_embed_dim": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_source_positions": 256,
        "max_target_positions": 256,
        "encoder_normalize_before": True,
        "decoder_normalize_before": True,
        "layernorm_embedding": True,
        "activation_function": "gelu",
        "scale_embedding": True,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 2,
        "attn_implementation": "eager",
    }
    if with_vocab_size:
        config["vocab_size"] = len(vocab.target_tokens)
    (target / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    loaded = AutoConfig.from_pretrained(target, trust_remote_code=True, local_files_only=True)
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(loaded, trust_remote_code=True)
    with torch.no_grad():
        model.lm_head.weight[2] -= 3.0  # random weights would often stop at once: keep outputs non-empty
    model.save_pretrained(target)
    saved = json.loads((target / "config.json").read_text(encoding="utf-8"))
    if not with_vocab_size:
        saved.pop("vocab_size", None)
    saved["auto_map"] = auto_map
    (target / "config.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
    for name in ("configuration_indictrans.py", "modeling_indictrans.py"):
        shutil.copyfile(upstream / name, target / name)
    return target


def build_nllb_standin(directory: str | Path, *, seed: int = 0, d_model: int = 32) -> Path:
    """Write a tiny random NLLB-shaped checkpoint (NllbTokenizer + M2M100) into ``directory``."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    spm_path = target / "sentencepiece.bpe.model"
    spm_path.write_bytes(_train_sentencepiece(ENGLISH_LINES + HINDI_LINES, vocab_size=120))
    tokenizer = NllbTokenizer(vocab_file=str(spm_path), src_lang="eng_Latn", tgt_lang="fra_Latn")
    tokenizer.save_pretrained(target)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    with torch.no_grad():
        # No final_logits_bias in M2M100: push </s> down through its output-embedding row instead.
        model.lm_head.weight[tokenizer.eos_token_id].zero_()
    model.save_pretrained(target)
    return target
