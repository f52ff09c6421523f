from cinesub import ner
from cinesub.runner import run_stage

run_stage(snakemake, ner)  # noqa: F821
