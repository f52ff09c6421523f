"""cinesub: a film in, a subtitled MKV out. See README.md; stages live in rules/."""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/00_demo.smk"
include: "rules/01_demux.smk"
include: "rules/02_tmdb.smk"
include: "rules/03_glossary_load.smk"
include: "rules/04_asr.smk"
include: "rules/05_ner.smk"
include: "rules/06_lyrics_detection.smk"
include: "rules/07_hallucination_removal.smk"
include: "rules/08_translation.smk"
include: "rules/09_subtitle_gen.smk"
include: "rules/10_mux.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),


rule report_all:
    """Every job's review page and report figures: `make report`."""
    input:
        report_targets(),
