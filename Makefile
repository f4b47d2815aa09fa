# The two set-up commands of README.rst: `make demo` and `make test`.
# Both build .venv from scratch when it is missing or setup.py or pyproject.toml changed.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(abspath $(VENV))/bin
STAMP   := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: demo test test-fast test-slow coverage bench lint clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Runs the main job on the embedded default and prints where the archive and report are
# (its MixedRPython workflow needs R: scripts/install-r installs it once, as root).
demo: $(STAMP)
	bash scripts/install-r
	$(BIN)/pyats run job jobs/faasr_job.py --testbed-file testbeds/local.yaml \
		-C faasr_easypy/easypy/easypy_config.yaml --no-mail

# The browser test needs Debian's chromium, R actions Debian's R, the SLURM tests Debian's SLURM
# and munge; the scripts install them once (as root). The SLURM tests start and stop their cluster.
test: $(STAMP)
	bash scripts/install-browser
	bash scripts/install-r
	bash scripts/slurm-cluster install
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Only the slow end-to-end tests (pyATS jobs, browser).
test-slow: $(STAMP)
	bash scripts/install-browser
	$(BIN)/python -m pytest -m slow

coverage: $(STAMP)
	$(BIN)/python -m coverage run --source=faasr_easypy -m pytest -m "not slow"
	$(BIN)/python -m coverage report --skip-empty

lint: $(STAMP)
	$(BIN)/python -m ruff check faasr_easypy tests benchmarks jobs testscripts

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .coverage
