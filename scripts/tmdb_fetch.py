from cinesub import tmdb
from cinesub.runner import run_stage

run_stage(snakemake, "02_tmdb", tmdb.run, packages=("requests",))  # noqa: F821
