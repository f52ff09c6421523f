from cinesub import review
from cinesub.runner import run_stage

run_stage(snakemake, "review", review.run, packages=("plotly", "jinja2"))  # noqa: F821
