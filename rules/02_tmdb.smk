# Compute nodes often have no internet: the lookup runs on the submit host.
localrules:
    tmdb_fetch,


rule tmdb_fetch:
    """Cast and crew names from TMDB (cached, retried, circuit-broken), a hand-written
    config/metadata/<job>.json, or an empty list with one warning. TMDB_API_KEY comes from the environment.
    """
    input:
        hand_written=per_job_file("tmdb", "metadata_dir", "json"),
    output:
        metadata="jobs/{job}/02_tmdb/metadata.json",
        manifest="jobs/{job}/02_tmdb/manifest.json",
    log:
        "jobs/{job}/logs/02_tmdb.log",
    benchmark:
        "jobs/{job}/benchmarks/02_tmdb.tsv"
    conda:
        "../envs/media.yaml"
    params:
        **section_params("tmdb"),
        title=job_field("title"),
        year=job_field("year"),
    script:
        "../scripts/tmdb.py"
