from cinesub import glossary
from cinesub.runner import run_stage

run_stage(snakemake, glossary)  # noqa: F821
