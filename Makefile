# Quick start: `make demo` runs the main job on the built-in sample data, `make test` runs every test.
# Both create .venv when it is absent and install the package with the pinned constraints; the install is
# skipped while settings.ini, setup.py and constraints.txt are unchanged (a stamp inside .venv).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
QUICK_DATA ?= data/splits/scaled
export MPLBACKEND := Agg
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo walkforward lab test test-slow sync rules readme docs outputs nbtest pytest clean

# uv installs the same pinned set as pip, bytecode compiled as pip does (45-73 s against 117 s here); no pip.conf,
# so the find-links pip is configured with (a local torch CPU wheel, say) are handed to it
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
$(STAMP): settings.ini setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $$(grep '^uv==' constraints.txt)
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e ".[dev]" -c constraints.txt \
		$(addprefix --find-links ,$(FIND_LINKS))
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@test -f $(QUICK_DATA)/train_scaled.parquet || $(BIN)/er_data sample --out $(QUICK_DATA) --symbols 60
	$(BIN)/er_experiment quick
	@echo "next: the runs are in runs/ (one folder per experiment: executed notebooks, run directories, leaderboard);"
	@echo "      browse them with  $(BIN)/mlflow ui --backend-store-uri sqlite:///runs/mlflow.db"

INDEX_DATA ?= data/splits/indices
walkforward: install  # walk-forward verdicts on the S&P 500 and NASDAQ index history (1999-2018), yearly refits
	@test -f $(INDEX_DATA)/train_scaled.parquet || $(BIN)/er_data sample --source indices --out $(INDEX_DATA)
	$(BIN)/er_experiment walkforward --parallel 2

LAB_ROOT ?= .
LAB_ARGS ?=
lab: install  # JupyterLab on the repo, loopback only: the notebooks in nbs/, the executed experiment notebooks in runs/
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.open_browser=False $(LAB_ARGS)

sync: install
	$(BIN)/python tools/check_project.py sync
rules: install
	$(BIN)/python tools/check_project.py rules
	$(BIN)/python tools/check_project.py lint
	$(BIN)/python tools/check_project.py readme
readme: install
	$(BIN)/python tools/check_project.py readme --write
outputs: install  # execute the notebooks and save their outputs (what the docs show); commit the result
	$(BIN)/python tools/run_notebooks.py
docs: install  # the site in _docs/ (open _docs/index.html); with Quarto installed, nbdev_docs builds the Quarto site
	$(BIN)/python tools/check_project.py docs
nbtest: install
	$(NBTEST_ENV) $(BIN)/nbdev_test --path nbs $(NBFLAGS)
pytest: install
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_FLAGS)

# notebook tests and pytest side by side: alone, pytest keeps 1.7 of 2 cores busy (it waits on servers and
# subprocesses) and the notebooks 1.5; one math thread per notebook worker, as per pytest worker, so that they never
# oversubscribe. The site is rendered and opened in Chromium by tests/test_docs.py, in a temporary directory.
test: sync rules
	@$(MAKE) --no-print-directory -j2 nbtest pytest NBFLAGS='$(NBFLAGS)' PYTEST_FLAGS='$(PYTEST_FLAGS)' \
		NBTEST_ENV='OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1'

test-slow: NBFLAGS = --flags slow
test-slow: PYTEST_FLAGS = --runslow
test-slow: test

clean:
	rm -rf _proc _docs .pytest_cache
