rule hallucination_removal_filter:
    """Drop or trim invented text (boilerplate, loops, identical runs, compression ratio, low confidence,
    no speech in the audio, impossible speaking rate, wrong script); removed.json says what and why.
    """
    input:
        audio="jobs/{job}/01_demux/audio.wav",
        segments=segments_input_for("07_hallucination_removal"),
    output:
        segments="jobs/{job}/07_hallucination_removal/segments.json",
        removed="jobs/{job}/07_hallucination_removal/removed.json",
        manifest="jobs/{job}/07_hallucination_removal/manifest.json",
    log:
        "jobs/{job}/logs/07_hallucination_removal.log",
    benchmark:
        "jobs/{job}/benchmarks/07_hallucination_removal.tsv"
    conda:
        "../envs/faster_whisper.yaml"
    params:
        cfg=hallucination_settings,
    script:
        "../scripts/hallucination_removal.py"
