from cinesub import mux
from cinesub.runner import run_stage

run_stage(snakemake, mux)  # noqa: F821
