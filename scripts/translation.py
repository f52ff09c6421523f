from cinesub import translation
from cinesub.runner import run_stage

run_stage(snakemake, translation)  # noqa: F821
