from cinesub import tmdb
from cinesub.runner import run_stage

run_stage(snakemake, tmdb)  # noqa: F821
