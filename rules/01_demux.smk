rule demux_extract:
    """Probe the film and extract 16 kHz mono PCM audio (optionally a clip of it)."""
    input:
        media=media_of,
    output:
        audio="jobs/{job}/01_demux/audio.wav",
        media="jobs/{job}/01_demux/media.json",
        manifest="jobs/{job}/01_demux/manifest.json",
    log:
        "jobs/{job}/logs/01_demux.log",
    benchmark:
        "jobs/{job}/benchmarks/01_demux.tsv"
    conda:
        "../envs/media.yaml"
    params:
        media=job_field("media"),
        source_lang=job_field("source_lang"),
        clip_start=job_field("clip_start"),
        clip_end=job_field("clip_end"),
        sample_rate=config["demux"]["sample_rate"],
    script:
        "../scripts/demux.py"


rule demux_speech:
    """The job's speech timeline: Silero VAD once over the audio; 04, 06 and 07 read it."""
    input:
        audio="jobs/{job}/01_demux/audio.wav",
    output:
        speech="jobs/{job}/01_demux/speech.json",
        manifest="jobs/{job}/01_demux/speech.manifest.json",
    log:
        "jobs/{job}/logs/01_demux.speech.log",
    benchmark:
        "jobs/{job}/benchmarks/01_demux.speech.tsv"
    conda:
        "../envs/faster_whisper.yaml"
    params:
        vad=config["demux"]["vad"],
    script:
        "../scripts/demux_speech.py"
