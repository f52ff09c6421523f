# cinesub: `make demo` runs the demo film end to end; `make test` runs the test suite.
# Both set everything up first (apt packages when root, the .venv with pinned packages).

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Models are never downloaded by the demo or the tests.
export HF_HUB_OFFLINE ?= 1

SYSTEM_TOOLS := ffmpeg ffprobe espeak-ng sox
SYSTEM_PACKAGES := ffmpeg espeak-ng sox
TEST_SYSTEM_PACKAGES := slurm-wlm munge chromium
TEST_SYSTEM_TOOLS := slurmctld munged chromium

.PHONY: setup system-deps test-system-deps demo test lint bench bench-full models report clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
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

demo: setup
	snakemake --cores 2 jobs/demo/10_mux/out.mkv jobs/demo/review/review.html

test: test-system-deps $(VENV)/.installed
	pytest

lint: $(VENV)/.installed
	ruff check scripts tests bench
	snakefmt --check Snakefile rules
	snakemake --lint

bench: setup
	python bench/run.py --quick

bench-full: setup
	python bench/run.py

# Fetch every model the config names into the cache (run on a machine with internet).
models: $(VENV)/.installed
	HF_HUB_OFFLINE=0 PYTHONPATH=scripts python -m cinesub.models fetch --config config/config.yaml

report: setup
	snakemake --cores 2 report_all
	snakemake --cores 2 --report report.html --report-metadata workflow/report/metadata.yaml report_all

clean:
	rm -rf jobs demo .snakemake report.html
