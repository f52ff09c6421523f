rule hallucination_removal_filter:
    """Remove invented words and spans where the audio does not support them (no voice in the speech
    timeline, a failed decode); text rules alone never remove dialogue. removed.json: what, why, evidence.
    """
    input:
        speech="jobs/{job}/01_demux/speech.json",
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
        # the phrase lists resolved, so any working directory finds them
        **section_params(
            "hallucination", phrases_dir=workflow_path(config["hallucination"]["phrases_dir"])
        ),
        **section_params("qc"),
    script:
        "../scripts/hallucination_removal.py"
