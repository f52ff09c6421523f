from cinesub import lyrics
from cinesub.runner import run_stage

run_stage(snakemake, "06_lyrics_detection", lyrics.run, packages=("librosa", "faster-whisper"))  # noqa: F821
