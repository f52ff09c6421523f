from cinesub import report
from cinesub.runner import run_stage

run_stage(snakemake, report)  # noqa: F821
