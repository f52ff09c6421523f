from cinesub import demux
from cinesub.runner import run_stage

run_stage(snakemake, "01_demux", demux.run, packages=("ffmpeg-python", "faster-whisper", "onnxruntime"))  # noqa: F821
