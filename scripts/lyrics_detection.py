from cinesub import lyrics_detection
from cinesub.runner import run_stage

run_stage(snakemake, lyrics_detection)  # noqa: F821
