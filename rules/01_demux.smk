rule demux_extract:
    """Probe the film, extract 16 kHz mono PCM audio (optionally a clip of it) and find the job's speech
    timeline (Silero VAD, once: 04, 06, 07 and 09 read speech.json). One job, not two: on a cluster
    each job costs scheduling time, and the VAD needs the audio this job has just written."""
    input:
        media=media_of,
    output:
        audio="jobs/{job}/01_demux/audio.wav",
        media="jobs/{job}/01_demux/media.json",
        speech="jobs/{job}/01_demux/speech.json",
        manifest="jobs/{job}/01_demux/manifest.json",
    log:
        "jobs/{job}/logs/01_demux.log",
    benchmark:
        "jobs/{job}/benchmarks/01_demux.tsv"
    conda:
        "../envs/media.yaml"
    params:
        **section_params("demux"),
        media=job_field("media"),
        source_lang=job_field("source_lang"),
        clip_start=job_field("clip_start"),
        clip_end=job_field("clip_end"),
    script:
        "../scripts/demux.py"
