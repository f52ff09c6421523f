def asr_settings(wildcards):
    return config["asr"]


def asr_conda_env():
    return f"../envs/{config['asr']['backend'].replace('-', '_')}.yaml"


rule asr_transcribe:
    """Speech to canonical segments with word timestamps (faster-whisper or WhisperX)."""
    input:
        audio="jobs/{job}/01_demux/audio.wav",
        glossary=optional_input("glossary", "jobs/{job}/03_glossary_load/glossary.json"),
    output:
        segments="jobs/{job}/04_asr/segments.json",
        manifest="jobs/{job}/04_asr/manifest.json",
    params:
        asr=asr_settings,
        language=job_field("source_lang"),
    threads: config["asr"]["threads"]
    resources:
        gpu=gpu_slots("asr"),
        mem_mb=config["asr"]["mem_mb"],
    log:
        "jobs/{job}/logs/04_asr.log",
    benchmark:
        "jobs/{job}/benchmarks/04_asr.tsv"
    conda:
        asr_conda_env()
    script:
        "../scripts/asr.py"
