rule lyrics_detection_analyse:
    """06's audio half: the voice and music features of every window, and the descriptive ones of every
    candidate span, from 01's WAV and speech timeline alone. It needs no transcript, so it runs beside
    04_asr wherever cores are free (on a GPU machine, always)."""
    input:
        audio="jobs/{job}/01_demux/audio.wav",
        speech="jobs/{job}/01_demux/speech.json",
    output:
        windows="jobs/{job}/06_lyrics_detection/windows.json",
        manifest="jobs/{job}/06_lyrics_detection/windows.manifest.json",
    log:
        "jobs/{job}/logs/06_lyrics_detection.windows.log",
    benchmark:
        "jobs/{job}/benchmarks/06_lyrics_detection.windows.tsv"
    conda:
        "../envs/nlp.yaml"
    params:
        # the judgement's settings (threshold, action, ...) are not the analysis's: changing them
        # reruns only lyrics_detection_detect
        **section_params("lyrics", leave_out="x-detect-setting"),
    script:
        "../scripts/lyrics_detection.py"


rule lyrics_detection_detect:
    """Songs from the voice itself (held notes, a slowly changing voice band, a voice heard) with or
    without a beat, refrains in the transcript as support; a beat alone never makes a song. Sung
    segments are flagged lyrics (or dropped with lyrics.action: drop). Every span goes to songs.json.
    """
    input:
        windows="jobs/{job}/06_lyrics_detection/windows.json",
        speech="jobs/{job}/01_demux/speech.json",
        segments=segments_input_for("06_lyrics_detection"),
    output:
        segments="jobs/{job}/06_lyrics_detection/segments.json",
        songs="jobs/{job}/06_lyrics_detection/songs.json",
        manifest="jobs/{job}/06_lyrics_detection/manifest.json",
    log:
        "jobs/{job}/logs/06_lyrics_detection.log",
    benchmark:
        "jobs/{job}/benchmarks/06_lyrics_detection.tsv"
    conda:
        "../envs/nlp.yaml"
    params:
        **section_params("lyrics"),
    script:
        "../scripts/lyrics_detection.py"
