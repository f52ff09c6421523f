from cinesub import hallucination
from cinesub.runner import run_stage

run_stage(snakemake, "07_hallucination_removal", hallucination.run, packages=("faster-whisper",))  # noqa: F821
