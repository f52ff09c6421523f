from cinesub import demux
from cinesub.runner import run_stage

run_stage(snakemake, demux)  # noqa: F821
