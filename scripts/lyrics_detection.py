from cinesub import lyrics
from cinesub.runner import run_stage

run_stage(snakemake, lyrics)  # noqa: F821
