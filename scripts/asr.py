from cinesub import asr
from cinesub.runner import run_stage

run_stage(snakemake, asr)  # noqa: F821
