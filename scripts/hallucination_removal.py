from cinesub import hallucination
from cinesub.runner import run_stage

run_stage(snakemake, hallucination)  # noqa: F821
