# ActionBook: setup · test · book · lab · clean
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# How OpenMP's threads wait, for every command below, before torch loads: 1,000 spins, then sleep (lib/actionbook/
# openmp.py; importing actionbook sets the same). A wait the user sets (OMP_WAIT_POLICY or GOMP_SPINCOUNT) wins.
ifeq ($(origin OMP_WAIT_POLICY)$(origin GOMP_SPINCOUNT),undefinedundefined)
export GOMP_SPINCOUNT := 1000
endif

.PHONY: setup test test-slow gpu-check book book-html book-check lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,compare]'
	$(BIN)/python -m ipykernel install --sys-prefix --name actionbook --display-name "ActionBook (.venv)" >/dev/null
	touch $(STAMP)

test: setup
	$(BIN)/ruff check lib tests
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest -m slow

# the CUDA paths end to end on synthetic data and the speed benchmark's seed rows (minutes, on this machine's GPUs);
# records under book/records/gpu-check/ and book/records/speed/. GPU_CHECK_FLAGS=--dry-run prints and validates the plan without a GPU.
GPU_CHECK_FLAGS ?=

gpu-check: setup
	$(BIN)/actionbook gpu-check $(GPU_CHECK_FLAGS)

# ---- the book ------------------------------------------------------------------------------------------------
# `make book`: run what is missing of the default proxy profile (`actionbook proxy run`: it generates the proxy
# datasets, pretrains the ImageNet stand-in, then runs each params file through the runner in one process, which
# skips every run whose record is complete and whose params and code are unchanged, drops finished runs'
# checkpoints and records the time),
# then builds the HTML offline, warnings as errors. The full-scale rows (params/ibm, params/mmaction) need GPUs and
# the datasets: run them with `actionbook run` where those are, and commit their run folders.
PROFILE     ?= default
JB_FLAGS    ?= -W -n --keep-going
JB_BUILD     = $(BIN)/jupyter-book build . $(JB_FLAGS)
BOOK_SHOTS  ?= /tmp/book-shots

book: setup
	@status=0; \
	$(BIN)/actionbook proxy run $(PROFILE) || status=$$?; \
	$(JB_BUILD) || exit $$?; \
	if [ $$status -ne 0 ]; then echo "book: built, but some runs failed (the book shows them as failed)"; fi; \
	exit $$status

# only the HTML, from the records on disk (chapters re-executed only where their text, records or library changed)
book-html: setup
	$(JB_BUILD)

# the built pages in headless Chromium: every page loads, tables render, figures decode; screenshots of the chapters
book-check:
	$(BIN)/python book/check_pages.py _build/html --shots $(BOOK_SHOTS)

# JupyterLab with the project's kernel ("actionbook", installed by setup); installs the `lab` extra on first use.
# LAB_FLAGS passes options on, e.g. `make lab LAB_FLAGS="--no-browser --port 8899"`.
LAB_FLAGS ?=

lab: setup
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install -q -e '.[lab]'
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FLAGS)

clean:
	rm -rf _build .pytest_cache
