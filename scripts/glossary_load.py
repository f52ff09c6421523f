from cinesub import glossary_load
from cinesub.runner import run_stage

run_stage(snakemake, glossary_load)  # noqa: F821
