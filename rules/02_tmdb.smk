# Compute nodes often have no internet: the lookup runs on the submit host.
localrules:
    tmdb_fetch,


def tmdb_settings(wildcards):
    return config["tmdb"]


def tmdb_metadata_file(wildcards):
    """The hand-written metadata file as an input when it exists, so editing it reruns the stage."""
    path = os.path.join(config["tmdb"]["metadata_dir"], f"{wildcards.job}.json")
    return [path] if os.path.isfile(path) else []


rule tmdb_fetch:
    """Cast and crew names from TMDB (cached, retried, circuit-broken), a hand-written
    config/metadata/<job>.json, or an empty list with one warning. TMDB_API_KEY comes from the environment.
    """
    input:
        hand_written=tmdb_metadata_file,
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
        title=job_field("title"),
        year=job_field("year"),
        tmdb=tmdb_settings,
    script:
        "../scripts/tmdb_fetch.py"
