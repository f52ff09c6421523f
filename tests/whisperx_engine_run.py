"""Run cinesub's WhisperXEngine on a 16 kHz WAV inside the WhisperX venv (.venv-whisperx) and write what it
produced as JSON. Called by tests/test_asr_whisperx.py, which asserts on the result.

Everything WhisperX needs is made here, offline: a tiny random wav2vec2 CTC model with its processor (the
alignment model; random weights, so it places characters only as well as chance and the signal's bounds
allow) and nltk punkt_tab data trained on the script's text. Whisper is the real tiny.en-bundled model.

usage: whisperx_engine_run.py AUDIO.wav TEXT.txt WORKDIR OUT.json
       whisperx_engine_run.py prepare TEXT.txt WORKDIR   (only the two models, for bench/whisperx_demo.py)
"""

from __future__ import annotations

import json
import os
import string
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def build_alignment_model(directory: Path) -> Path:
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    symbols = ["<pad>", "<s>", "</s>", "<unk>", "|", "'", *string.ascii_lowercase]
    vocab = directory / "vocab.json"
    vocab.write_text(json.dumps({s: i for i, s in enumerate(symbols)}))
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab), word_delimiter_token="|")
    features = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        vocab_size=len(symbols),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        pad_token_id=0,
    )
    Wav2Vec2ForCTC(config).eval().save_pretrained(directory)
    Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def build_punkt(nltk_data: Path, text: str) -> None:
    from nltk.tokenize.punkt import PunktTrainer, save_punkt_params

    target = nltk_data / "tokenizers" / "punkt_tab" / "english"
    target.parent.mkdir(parents=True, exist_ok=True)
    save_punkt_params(PunktTrainer(text).get_params(), dir=str(target))


def asr_defaults() -> dict:
    from cinesub.configschema import validated_section

    return validated_section("asr", {})


def prepare(text_file: str, workdir: str) -> Path:
    """The alignment model and punkt data under ``workdir`` (NLTK_DATA=workdir/nltk_data); the model path."""
    work = Path(workdir)
    os.environ["NLTK_DATA"] = str(work / "nltk_data")
    build_punkt(work / "nltk_data", Path(text_file).read_text())
    return build_alignment_model(work / "align_model")


def main(audio: str, text_file: str, workdir: str, out: str) -> None:
    align_model = prepare(text_file, workdir)
    import ctranslate2
    import torch
    from cinesub import asr

    settings = asr_defaults() | {
        "backend": "whisperx",
        "align_model": str(align_model),
        "device": "auto",
        "batch_size": 4,
    }
    asr.MAX_CHUNK_S = 5.0  # one VAD chunk per sentence: the random aligner cannot cross sentences
    engine = asr.load_engine(settings, "en")
    segments = asr.transcribe_file(audio, settings, "en", engine=engine)
    stand_ins = {}
    for name, attr in (("torchaudio", None), ("pyannote.audio", "Pipeline")):
        if sys.modules[name].__spec__.origin is None:  # a stand-in: the real package did not import
            try:
                getattr(sys.modules[name], attr)() if attr else None
                stand_ins[name] = "used"
            except asr.CinesubError as refusal:
                stand_ins[name] = str(refusal)
    errors = {}
    broken = {
        "english_only_model": ("hi", settings),
        "missing_alignment_model": ("en", settings | {"align_model": str(Path(workdir) / "no-such-model")}),
        "missing_punkt": ("en", settings),
    }
    for case, (language, bad) in broken.items():
        if case == "missing_punkt":
            import nltk

            nltk.data.path[:] = [str(Path(workdir) / "empty")]
        try:
            asr.load_engine(bad, language)
            errors[case] = None
        except asr.CinesubError as error:
            errors[case] = str(error)
    Path(out).write_text(
        json.dumps(
            {
                "segments": segments,
                "devices": [engine.device, engine.align_device],
                "gpus": [ctranslate2.get_cuda_device_count() > 0, torch.cuda.is_available()],
                "pipeline": type(engine.model).__name__,
                "vad": type(engine.model.vad_model).__name__,
                "unaligned_segments": engine.unaligned_segments,
                "stand_ins": stand_ins,
                "errors": errors,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(*sys.argv[2:4])
    else:
        main(*sys.argv[1:5])
