from cinesub import subtitles
from cinesub.runner import run_stage

run_stage(snakemake, subtitles)  # noqa: F821
