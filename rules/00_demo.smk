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
    script:
        "../scripts/make_demo_film.py"
