rule asr_transcribe:
    """Speech to canonical segments with word timestamps (faster-whisper or WhisperX)."""
    input:
        audio="jobs/{job}/01_demux/audio.wav",
        speech="jobs/{job}/01_demux/speech.json",
        glossary=optional_input("glossary", "jobs/{job}/03_glossary_load/glossary.json"),
    output:
        segments="jobs/{job}/04_asr/segments.json",
        manifest="jobs/{job}/04_asr/manifest.json",
    log:
        "jobs/{job}/logs/04_asr.log",
    benchmark:
        "jobs/{job}/benchmarks/04_asr.tsv"
    conda:
        asr_conda_env()
    threads: config["asr"]["threads"]
    resources:
        gpu=gpu_slots("asr"),
        mem_mb=config["asr"]["mem_mb"],
    params:
        **section_params("asr"),
        language=job_field("source_lang"),
    script:
        "../scripts/asr.py"
