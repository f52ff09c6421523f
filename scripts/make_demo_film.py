import logging

from cinesub import synth

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
truth = synth.make_demo(
    snakemake.input.script,  # noqa: F821
    snakemake.output.film,  # noqa: F821
    snakemake.output.truth,  # noqa: F821
    audio_language=snakemake.params.audio_language,  # noqa: F821
)
logging.info("demo film with %d sentences", len(truth))
