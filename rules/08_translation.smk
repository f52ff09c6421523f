rule translation_translate:
    """Source segments to one target language (IndicTrans2, or NLLB for non-Indic pairs), names kept."""
    input:
        segments=segments_input_for("08_translation"),
        glossary=optional_input("glossary", "jobs/{job}/03_glossary_load/glossary.json"),
    output:
        segments="jobs/{job}/08_translation/{lang}.segments.json",
        manifest="jobs/{job}/08_translation/{lang}.manifest.json",
    log:
        "jobs/{job}/logs/08_translation.{lang}.log",
    benchmark:
        "jobs/{job}/benchmarks/08_translation.{lang}.tsv"
    conda:
        "../envs/indictrans2.yaml"
    threads: config["translation"]["threads"]
    resources:
        gpu=gpu_slots("translation"),
        mem_mb=config["translation"]["mem_mb"],
    params:
        **section_params("translation"),
        target_lang=wildcard_value("lang"),
    script:
        "../scripts/translation.py"
