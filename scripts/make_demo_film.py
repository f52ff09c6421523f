from cinesub import runner, synth

# The stage runner's pattern: logging, warnings and ffmpeg's stderr all go to the rule's log.
log = runner.configure_logging(snakemake.log[0])  # noqa: F821
with runner.capture_stderr(snakemake.log[0]):  # noqa: F821
    truth = synth.make_demo(
        snakemake.input.script,  # noqa: F821
        snakemake.output.film,  # noqa: F821
        snakemake.output.truth,  # noqa: F821
        audio_language=snakemake.params.audio_language,  # noqa: F821
    )
log.info("demo film with %d sentences", len(truth))
