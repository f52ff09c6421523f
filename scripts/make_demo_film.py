import logging

from cinesub import synth

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
truth = synth.make_demo(snakemake.input.script, snakemake.output.film, snakemake.output.truth)  # noqa: F821
logging.info("demo film with %d sentences", len(truth))
