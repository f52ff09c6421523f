"""09_subtitle_gen: canonical segments -> cues that follow the subtitle rules -> SRT / WebVTT + QC."""


rule subtitle_gen_write:
    """Build cues from word timings (or proportional timing for translations), write SRT/VTT and QC."""
    input:
        segments=subtitle_source_segments,
        media="jobs/{job}/01_demux/media.json",
        speech="jobs/{job}/01_demux/speech.json",
    output:
        **subtitle_format_outputs(),
        qc="jobs/{job}/09_subtitle_gen/{lang}.qc.json",
        manifest="jobs/{job}/09_subtitle_gen/{lang}.manifest.json",
    log:
        "jobs/{job}/logs/09_subtitle_gen.{lang}.log",
    benchmark:
        "jobs/{job}/benchmarks/09_subtitle_gen.{lang}.tsv"
    conda:
        "../envs/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        **section_params("subtitles"),
        lang=wildcard_value("lang"),
    script:
        "../scripts/subtitle_gen.py"
