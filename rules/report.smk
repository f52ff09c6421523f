"""Per-job figures for ``snakemake --report``: timeline, reading speed, conformance, stage runtimes."""


rule report_plots:
    """Timeline, reading-speed histogram, conformance table and stage runtimes of one job."""
    input:
        # The muxed film comes last: once it exists every stage's benchmark file is written.
        mkv="jobs/{job}/10_mux/out.mkv",
        segments=segments_input_for("08_translation"),
        songs=optional_input("lyrics", "jobs/{job}/06_lyrics_detection/songs.json"),
        removed=optional_input("hallucination", "jobs/{job}/07_hallucination_removal/removed.json"),
        cues=per_track_files("09_subtitle_gen/{lang}.srt"),
        qc=per_track_files("09_subtitle_gen/{lang}.qc.json"),
    output:
        timeline=report(
            "jobs/{job}/report/timeline.png",
            caption="../workflow/report/timeline.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "timeline"},
        ),
        cps_hist=report(
            "jobs/{job}/report/cps_hist.png",
            caption="../workflow/report/cps_hist.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "reading speed"},
        ),
        conformance=report(
            "jobs/{job}/report/conformance.html",
            caption="../workflow/report/conformance.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "conformance"},
        ),
        runtimes=report(
            "jobs/{job}/report/runtimes.png",
            caption="../workflow/report/runtimes.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "stage runtimes"},
        ),
        runtimes_csv=report(
            "jobs/{job}/report/runtimes.csv",
            caption="../workflow/report/runtimes_table.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "stage runtimes table"},
        ),
        manifest="jobs/{job}/report/manifest.json",
    log:
        "jobs/{job}/logs/report.log",
    conda:
        "../envs/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        langs=track_langs,
        benchmark_dir=job_path("benchmarks"),
    script:
        "../scripts/report.py"


rule review_build:
    """The page a subtitler works from, beside out.mkv: timeline over loudness, every cue, every removal."""
    input:
        mkv="jobs/{job}/10_mux/out.mkv",
        audio="jobs/{job}/01_demux/audio.wav",
        segments=segments_input_for("08_translation"),
        track_segments=per_track_segments,
        srt=per_track_files("09_subtitle_gen/{lang}.srt"),
        vtt=per_track_format("vtt"),
        qc=per_track_files("09_subtitle_gen/{lang}.qc.json"),
        songs=optional_input("lyrics", "jobs/{job}/06_lyrics_detection/songs.json"),
        removed=optional_input("hallucination", "jobs/{job}/07_hallucination_removal/removed.json"),
        entities=optional_input("ner", "jobs/{job}/05_ner/entities.json"),
    output:
        html=report(
            "jobs/{job}/review/review.html",
            caption="../workflow/report/review.rst",
            category="{job}",
            labels={"job": "{job}", "figure": "review page"},
        ),
        manifest="jobs/{job}/review/manifest.json",
    log:
        "jobs/{job}/logs/review.log",
    benchmark:
        "jobs/{job}/benchmarks/review.tsv"
    conda:
        "../envs/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        langs=track_langs,
        source_lang=job_field("source_lang"),
        title=job_field("title"),
    script:
        "../scripts/review.py"
