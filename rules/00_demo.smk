rule demo_make_film:
    """The demo film: espeak-ng speech from resources/demo/script.tsv over a test picture."""
    input:
        script=workflow_path("resources/demo/script.tsv"),
    output:
        film="demo/film.mkv",
        truth="demo/truth.json",
    log:
        "demo/logs/demo_make_film.log",
    benchmark:
        "demo/benchmarks/demo_make_film.tsv"
    conda:
        "../envs/media.yaml"
    params:
        audio_language="eng",
    script:
        "../scripts/make_demo_film.py"


rule demo_make_film_hi:
    """The Hindi demo film (make demo-hi): Festival's Hindi voice speaking resources/demo/script_hi.tsv."""
    input:
        script=workflow_path("resources/demo/script_hi.tsv"),
    output:
        film="demo/film_hi.mkv",
        truth="demo/truth_hi.json",
    log:
        "demo/logs/demo_make_film_hi.log",
    benchmark:
        "demo/benchmarks/demo_make_film_hi.tsv"
    conda:
        "../envs/media.yaml"
    params:
        audio_language="hin",
    script:
        "../scripts/make_demo_film.py"
