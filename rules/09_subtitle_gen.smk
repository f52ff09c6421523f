"""09_subtitle_gen: canonical segments -> cues that follow the subtitle rules -> SRT / WebVTT + QC."""


def subtitle_gen_lang(wildcards):
    return wildcards.lang


def subtitle_gen_settings(wildcards):
    """The whole ``subtitles`` config section (schema defaults filled in by common.smk)."""
    return config["subtitles"]


def subtitle_gen_format_outputs():
    """One named output per format in ``subtitles.formats``: srt=..., vtt=..."""
    return {
        fmt: f"jobs/{{job}}/09_subtitle_gen/{{lang}}.{fmt}"
        for fmt in config["subtitles"]["formats"]
    }


rule subtitle_gen_write:
    """Build cues from word timings (or proportional timing for translations), write SRT/VTT and QC."""
    input:
        segments=subtitle_source_segments,
        media="jobs/{job}/01_demux/media.json",
    output:
        **subtitle_gen_format_outputs(),
        qc="jobs/{job}/09_subtitle_gen/{lang}.qc.json",
        manifest="jobs/{job}/09_subtitle_gen/{lang}.manifest.json",
    params:
        lang=subtitle_gen_lang,
        subtitles=subtitle_gen_settings,
    threads: 1
    resources:
        mem_mb=1000,
    log:
        "jobs/{job}/logs/09_subtitle_gen.{lang}.log",
    benchmark:
        "jobs/{job}/benchmarks/09_subtitle_gen.{lang}.tsv"
    conda:
        "../envs/media.yaml"
    script:
        "../scripts/subtitle_gen.py"
