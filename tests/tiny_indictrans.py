"""Build tiny random translation models at test time, shaped like the real checkpoints.

``build_indictrans_standin`` writes a directory laid out like an ``ai4bharat/indictrans2-*`` repository:
its own ``configuration_indictrans.py`` / ``modeling_indictrans.py`` / ``tokenization_indictrans.py``,
``auto_map`` entries in ``config.json`` and ``tokenizer_config.json``, two SentencePiece models
(``model.SRC`` / ``model.TGT``) with fairseq-style dictionaries (``dict.SRC.json`` / ``dict.TGT.json``).
It therefore loads through ``AutoModelForSeq2SeqLM`` / ``AutoTokenizer`` with ``trust_remote_code=True``
and ``local_files_only=True`` - the same code path as the real checkpoints. The weights are random
(d_model 32), so the output is noise: tests assert counts, order and placeholder handling, not text.

``build_nllb_standin`` writes a tiny NLLB-shaped model (``NllbTokenizer`` +
``M2M100ForConditionalGeneration``) for the generic backend.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

# A few lines per script are enough for SentencePiece to learn a small vocabulary.
TRAINING_LINES = [
    "Raj went to the market with Priya yesterday.",
    "Where are you going, my friend? I am going home.",
    "The train to Mumbai leaves at nine in the morning.",
    "Thank you very much, we will meet again tomorrow.",
    "She said the film was long but the songs were good.",
    "राज कल प्रिया के साथ बाज़ार गया था।",
    "तुम कहाँ जा रहे हो दोस्त? मैं घर जा रहा हूँ।",
    "मुंबई की ट्रेन सुबह नौ बजे निकलती है।",
    "बहुत बहुत धन्यवाद, हम कल फिर मिलेंगे।",
    "उसने कहा कि फ़िल्म लंबी थी पर गाने अच्छे थे।",
    "yaar tum kahan ja rahe ho, arey bhai ruko zara.",
    # Placeholders as IndicProcessor writes them (the real vocabularies cover these characters).
    "< ID101 > met < ID102 > and < ID103 > , 0 1 2 3 4 5 6 7 8 9 .",
]

INDICTRANS_LANGUAGE_TAGS = [
    "asm_Beng", "ben_Beng", "brx_Deva", "doi_Deva", "eng_Latn", "gom_Deva", "guj_Gujr", "hin_Deva",
    "kan_Knda", "kas_Arab", "mai_Deva", "mal_Mlym", "mar_Deva", "mni_Beng", "npi_Deva", "ory_Orya",
    "pan_Guru", "san_Deva", "sat_Olck", "snd_Arab", "tam_Taml", "tel_Telu", "urd_Arab",
]

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq order: ids 0..3

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
'''

TOKENIZATION_SOURCE = '''"""Stand-in for IndicTrans2's tokenization_indictrans.py (test fixture).

Inputs are "<src_tag> <tgt_tag> text" as IndicProcessor.preprocess_batch writes them; the two tags become
the first two tokens, then SentencePiece pieces of the source model, then </s>. Decoding uses the
target vocabulary. Inputs are padded on the left, like the real tokenizer.
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
        self.padding_side = "left"

    @property
    def vocab_size(self):
        return len(self.src_encoder)

    def get_vocab(self):
        return dict(self.src_encoder)

    def _tokenize(self, text, **kwargs):
        if self._target_mode:
            return self.tgt_spm.EncodeAsPieces(text)
        src_tag, tgt_tag, body = text.split(" ", 2)
        if src_tag not in self.src_encoder or tgt_tag not in self.src_encoder:
            raise ValueError(f"unknown language tags {src_tag!r} {tgt_tag!r}")
        return [src_tag, tgt_tag] + self.src_spm.EncodeAsPieces(body)

    def _convert_token_to_id(self, token):
        encoder = self.tgt_encoder if self._target_mode else self.src_encoder
        return encoder.get(token, encoder["<unk>"])

    def _convert_id_to_token(self, index):
        decoder = self.tgt_decoder if self._target_mode else self.src_decoder
        return decoder.get(index, "<unk>")

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).replace("\\u2581", " ").strip()

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


def _train_sentencepiece(lines: list[str], vocab_size: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        minloglevel=2,
    )
    return model.getvalue()


def _fairseq_dictionary(spm_bytes: bytes, extra_tokens: list[str]) -> dict[str, int]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=spm_bytes)
    tokens = SPECIALS + extra_tokens + [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocabulary: dict[str, int] = {}
    for token in tokens:
        vocabulary.setdefault(token, len(vocabulary))
    return vocabulary


def build_indictrans_standin(directory: str | Path, *, seed: int = 0, d_model: int = 32) -> Path:
    """Write an IndicTrans2-shaped tiny random checkpoint into ``directory`` and return its path."""
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    spm_bytes = _train_sentencepiece(TRAINING_LINES, vocab_size=120)
    (target / "model.SRC").write_bytes(spm_bytes)
    (target / "model.TGT").write_bytes(spm_bytes)
    # One dictionary for both sides: generate() sizes beams by config.vocab_size.
    src_dict = tgt_dict = _fairseq_dictionary(spm_bytes, INDICTRANS_LANGUAGE_TAGS)
    (target / "dict.SRC.json").write_text(json.dumps(src_dict, ensure_ascii=False), encoding="utf-8")
    (target / "dict.TGT.json").write_text(json.dumps(tgt_dict, ensure_ascii=False), encoding="utf-8")
    (target / "configuration_indictrans.py").write_text(CONFIGURATION_SOURCE, encoding="utf-8")
    (target / "modeling_indictrans.py").write_text(MODELING_SOURCE, encoding="utf-8")
    (target / "tokenization_indictrans.py").write_text(TOKENIZATION_SOURCE, encoding="utf-8")

    config = MarianConfig(
        vocab_size=len(src_dict), decoder_vocab_size=len(tgt_dict), share_encoder_decoder_embeddings=False,
        d_model=d_model, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model,
        max_position_embeddings=256, bos_token_id=0, pad_token_id=1, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=None, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    with torch.no_grad():
        # Random weights would often stop at once; a negative </s> bias keeps outputs non-empty.
        model.final_logits_bias[0, 2] = -20.0
    model.generation_config = GenerationConfig(bos_token_id=0, pad_token_id=1, eos_token_id=2,
                                               decoder_start_token_id=2)
    model.save_pretrained(target)

    config_path = target / "config.json"
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    saved.update({
        "model_type": "IndicTrans",
        "architectures": ["IndicTransForConditionalGeneration"],
        "auto_map": {
            "AutoConfig": "configuration_indictrans.IndicTransConfig",
            "AutoModelForSeq2SeqLM": "modeling_indictrans.IndicTransForConditionalGeneration",
        },
    })
    config_path.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    tokenizer_config = {
        "tokenizer_class": "IndicTransTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_indictrans.IndicTransTokenizer", None]},
        "model_max_length": 256,
        "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
        "clean_up_tokenization_spaces": True,
    }
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    return target


def build_nllb_standin(directory: str | Path, *, seed: int = 0, d_model: int = 32) -> Path:
    """Write a tiny random NLLB-shaped checkpoint (NllbTokenizer + M2M100) into ``directory``."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    spm_path = target / "sentencepiece.bpe.model"
    spm_path.write_bytes(_train_sentencepiece(TRAINING_LINES, vocab_size=120))
    tokenizer = NllbTokenizer(vocab_file=str(spm_path), src_lang="eng_Latn", tgt_lang="fra_Latn")
    tokenizer.save_pretrained(target)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=d_model, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    with torch.no_grad():
        # No final_logits_bias in M2M100: push </s> down through its output-embedding row instead.
        model.lm_head.weight[tokenizer.eos_token_id].zero_()
    model.save_pretrained(target)
    return target
