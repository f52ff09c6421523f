from cinesub import review
from cinesub.runner import run_stage

run_stage(snakemake, review)  # noqa: F821
