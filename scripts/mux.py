from cinesub import mux
from cinesub.runner import run_stage

run_stage(snakemake, "10_mux", mux.run, packages=("ffmpeg-python",))  # noqa: F821
