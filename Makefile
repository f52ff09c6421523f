# cinesub: `make demo` runs the demo film end to end (`make demo-hi`: the Hindi one); `make test` runs the test suite.
# Both set everything up first (apt packages when root, the .venv with pinned packages).

SHELL := /bin/bash
VENV ?= .venv
WHISPERX_VENV ?= .venv-whisperx
PYTHON ?= python3
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Models are never downloaded by the demo or the tests.
export HF_HUB_OFFLINE ?= 1

# festival + festvox-hi-nsk: the Hindi voice of the Hindi demo film and the Hindi end-to-end test
SYSTEM_TOOLS := ffmpeg ffprobe espeak-ng sox festival
SYSTEM_FILES := /usr/share/festival/voices/hindi/hindi_NSK_diphone
SYSTEM_PACKAGES := ffmpeg espeak-ng sox festival festvox-hi-nsk
TEST_SYSTEM_PACKAGES := slurm-wlm munge chromium
TEST_SYSTEM_TOOLS := slurmctld munged chromium

.PHONY: setup system-deps test-system-deps whisperx-venv demo demo-hi test lint bench bench-full bench-whisperx models filter-banks report clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	for path in $(SYSTEM_FILES); do test -e $$path || missing="$$missing $$path"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing -- install them with: sudo apt-get install -y $(SYSTEM_PACKAGES)"; exit 1; \
	  fi; \
	fi

# SLURM (for the cluster test) and Chromium (the review page is tested in a real browser) are installed
# when root; their tests skip with a reason otherwise.
test-system-deps: system-deps
	@missing=""; for tool in $(TEST_SYSTEM_TOOLS); do command -v $$tool >/dev/null || PATH=$$PATH:/usr/sbin command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -n "$$missing" ]; then \
	  echo "installing $(TEST_SYSTEM_PACKAGES) with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_SYSTEM_PACKAGES) >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_SYSTEM_PACKAGES) >/dev/null; }; \
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# WhisperX (asr.backend: whisperx) in a venv of its own: whisperx 3.8.6 with --no-deps over this repository's
# requirements plus what its code imports (requirements-whisperx.txt says why). tests/test_asr_whisperx.py
# runs it. About 2.5 min with a warm pip cache on 2 cores.
whisperx-venv: $(WHISPERX_VENV)/.installed

$(WHISPERX_VENV)/.installed: requirements.txt requirements-whisperx.txt requirements-whisperx-nodeps.txt
	test -x $(WHISPERX_VENV)/bin/python || $(PYTHON) -m venv $(WHISPERX_VENV)
	$(WHISPERX_VENV)/bin/python -m pip install -q --upgrade pip
	$(WHISPERX_VENV)/bin/python -m pip install -q -r requirements-whisperx.txt
	$(WHISPERX_VENV)/bin/python -m pip install -q --no-deps -r requirements-whisperx-nodeps.txt
	touch $@

# The transformers translation backend (torch): its tests run in `make test` and CI, the demo needs none.
$(VENV)/.installed-transformers: $(VENV)/.installed requirements-transformers.txt
	$(BIN)/python -m pip install -q -r requirements-transformers.txt
	touch $@

demo: setup
	snakemake --cores 2 jobs/demo/10_mux/out.mkv jobs/demo/review/review.html

# The Hindi demo: Festival's Hindi voice, transcribed by base-bundled (multilingual Whisper base), hin track.
demo-hi: setup
	snakemake --cores 2 --configfile config/demo_hi.yaml -- jobs/demo-hi/10_mux/out.mkv

test: test-system-deps $(VENV)/.installed $(WHISPERX_VENV)/.installed $(VENV)/.installed-transformers
	pytest

lint: $(VENV)/.installed
	ruff check scripts tests bench
	snakefmt --check Snakefile rules
	snakemake --lint

bench: setup
	python bench/run.py --quick

bench-full: setup
	python bench/run.py

# The demo film end to end with asr.backend whisperx (in .venv-whisperx) vs faster-whisper (bench/README.md, 6).
bench-whisperx: setup whisperx-venv
	python bench/whisperx_demo.py

# Fetch what the job sheet's jobs need (run on a machine with internet). Narrow it with
# JOB=<id> or DIRECTION=<en-indic|indic-en|indic-indic|generic>; every model is reported, failures too.
models: $(VENV)/.installed
	HF_HUB_OFFLINE=0 python -m cinesub.models fetch --config config/config.yaml \
	  $(if $(JOB),--job $(JOB)) $(if $(DIRECTION),--direction $(DIRECTION))

# 06's mel and chroma filter banks are librosa's, stored (resources/lyrics_detection); rebuild them
# after a librosa upgrade (tests/test_spectral.py fails when they differ).
filter-banks: $(VENV)/.installed
	PYTHONPATH=scripts python -c "from cinesub import spectral; spectral.build_filter_banks()"

report: setup
	snakemake --cores 2 report_all
	snakemake --cores 2 --report report.html --report-metadata workflow/report/metadata.yaml report_all

clean:
	rm -rf jobs demo .snakemake report.html
