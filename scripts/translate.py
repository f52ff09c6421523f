from cinesub import translation
from cinesub.runner import run_stage

run_stage(snakemake, "08_translation", translation.run,  # noqa: F821
          packages=("ctranslate2", "torch", "transformers", "IndicTransToolkit", "sentencepiece",
                    "huggingface-hub"))
