from cinesub import speech
from cinesub.runner import run_stage

run_stage(snakemake, speech)  # noqa: F821
