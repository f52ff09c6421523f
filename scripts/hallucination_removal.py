from cinesub import hallucination_removal
from cinesub.runner import run_stage

run_stage(snakemake, hallucination_removal)  # noqa: F821
