rule ner_tag:
    """Names the ASR misspelled rewritten as the glossary lists them (each rewrite recorded in
    entities.json), then names found: a glossary gazetteer (Latin and Devanagari spellings) plus spaCy
    NER on Latin-script lines; entities go into the segments and entities.json."""
    input:
        segments=segments_input_for("05_ner"),
        glossary=optional_input("glossary", "jobs/{job}/03_glossary_load/glossary.json"),
    output:
        segments="jobs/{job}/05_ner/segments.json",
        entities="jobs/{job}/05_ner/entities.json",
        manifest="jobs/{job}/05_ner/manifest.json",
    log:
        "jobs/{job}/logs/05_ner.log",
    benchmark:
        "jobs/{job}/benchmarks/05_ner.tsv"
    conda:
        "../envs/nlp.yaml"
    params:
        **section_params("ner"),
    script:
        "../scripts/ner.py"
