from cinesub import asr
from cinesub.runner import run_stage

run_stage(snakemake, "04_asr", asr.run, packages=("faster-whisper", "ctranslate2", "whisperx"))  # noqa: F821
