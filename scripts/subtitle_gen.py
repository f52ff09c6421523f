from cinesub import subtitle_gen
from cinesub.runner import run_stage

run_stage(snakemake, subtitle_gen)  # noqa: F821
