rule mux_tracks:
    """Copy every original stream and add one tagged soft subtitle track per language."""
    input:
        film=media_of,
        media="jobs/{job}/01_demux/media.json",
        subtitles=per_track_files("09_subtitle_gen/{lang}.srt"),  # srt is a required format
    output:
        mkv="jobs/{job}/10_mux/out.mkv",
        manifest="jobs/{job}/10_mux/manifest.json",
    log:
        "jobs/{job}/logs/10_mux.log",
    benchmark:
        "jobs/{job}/benchmarks/10_mux.tsv"
    conda:
        "../envs/media.yaml"
    params:
        **section_params("mux"),
        **section_params("qc"),
        media=job_field("media"),
        source_lang=job_field("source_lang"),
        langs=track_langs,
        title=job_field("title"),
        allowed_scripts=config["hallucination"]["allowed_scripts"],
    script:
        "../scripts/mux.py"
