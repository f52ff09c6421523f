from cinesub import speech
from cinesub.runner import run_stage

run_stage(snakemake, "01_demux", speech.run, packages=("faster-whisper",))  # noqa: F821
