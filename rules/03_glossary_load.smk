# A few milliseconds of work: on a cluster it runs on the submit host instead of waiting for a slot.
localrules:
    glossary_load_merge,


rule glossary_load_merge:
    """Merge the shipped Hinglish glossary, the per-job glossary and the film's names into
    glossary.json, with the names and terms prompt for ASR."""
    input:
        shipped=workflow_path(config["glossary"]["shipped"]),
        job_glossary=per_job_file("glossary", "job_dir", "tsv"),
        metadata=optional_input("tmdb", "jobs/{job}/02_tmdb/metadata.json"),
    output:
        glossary="jobs/{job}/03_glossary_load/glossary.json",
        manifest="jobs/{job}/03_glossary_load/manifest.json",
    log:
        "jobs/{job}/logs/03_glossary_load.log",
    benchmark:
        "jobs/{job}/benchmarks/03_glossary_load.tsv"
    conda:
        "../envs/media.yaml"
    params:
        **section_params("glossary"),
        language=job_field("source_lang"),
    script:
        "../scripts/glossary_load.py"
