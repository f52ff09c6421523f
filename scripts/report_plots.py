from cinesub import report
from cinesub.runner import run_stage

run_stage(snakemake, "report", report.run, packages=("matplotlib", "pandas", "srt"))  # noqa: F821
