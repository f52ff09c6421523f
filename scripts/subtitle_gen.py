from cinesub import subtitles
from cinesub.runner import run_stage

run_stage(snakemake, "09_subtitle_gen", subtitles.run, packages=("srt", "webvtt-py"))  # noqa: F821
