def mux_langs(wildcards):
    return subtitle_langs(wildcards.job)


rule mux_tracks:
    """Copy every original stream and add one tagged soft subtitle track per language."""
    input:
        film=media_of,
        media="jobs/{job}/01_demux/media.json",
        subtitles=subtitle_files,
    output:
        mkv="jobs/{job}/10_mux/out.mkv",
        manifest="jobs/{job}/10_mux/manifest.json",
    params:
        media=job_field("media"),
        source_lang=job_field("source_lang"),
        langs=mux_langs,
        default_language=config["mux"]["default_language"],
    log:
        "jobs/{job}/logs/10_mux.log",
    benchmark:
        "jobs/{job}/benchmarks/10_mux.tsv"
    conda:
        "../envs/media.yaml"
    script:
        "../scripts/mux.py"
