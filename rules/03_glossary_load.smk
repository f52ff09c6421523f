def glossary_settings(wildcards):
    return config["glossary"]


def job_glossary_file(wildcards):
    """The per-job glossary config/glossary/<job>.tsv as an input when it exists (optional)."""
    path = os.path.join(config["glossary"]["job_dir"], f"{wildcards.job}.tsv")
    return [path] if os.path.isfile(path) else []


rule glossary_load_merge:
    """Merge the shipped Hinglish glossary, the per-job glossary and the film's names into
    glossary.json, with the names and terms prompt for ASR."""
    input:
        shipped=workflow_path(config["glossary"]["shipped"]),
        job_glossary=job_glossary_file,
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
        glossary=glossary_settings,
        language=job_field("source_lang"),
    script:
        "../scripts/glossary_load.py"
