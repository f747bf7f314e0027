# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
# Works on a fresh clone: the virtual environment is created and filled on first use, and
# refilled only when pyproject.toml changes (stamp files inside .venv).

SHELL := /bin/bash
.DEFAULT_GOAL := help

BOOTSTRAP_PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: help run test lint pytest bench demo clean-venv

help:
	@echo "make run    start Temporal dev server + UI, worker and API (Ctrl-C stops all three)"
	@echo "make test   install test dependencies, lint, run the whole test suite"
	@echo "make lint   ruff on everything, mypy strict on pricing/ and models/"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make demo   provision the InfraX deal (2024-2027) against the running stack and tour it"

$(PY):
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

# The test extras are a superset, so a test install also satisfies `make run`.
$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(RUN_STAMP)

# Compiled up front: the workflow sandbox imports the workflow module afresh for every contract
# it runs, and bytecode spares it compiling the source each time (PYTHONDONTWRITEBYTECODE only
# stops Python writing .pyc files, not reading them).
run: $(RUN_STAMP)
	$(PY) -m compileall -q workflows pricing models activities core store
	$(PY) scripts/devstack.py

lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy pricing models

pytest: $(TEST_STAMP)
	$(PY) -m pytest

# Both always run, so one report shows lint and test failures together; either fails the target.
test: $(TEST_STAMP)
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(PY) -m pytest || status=1; \
	exit $$status

# Every bench/*.py that is a program (has a __main__ block), run as a module from the root.
bench: $(RUN_STAMP)
	@for f in $$(grep -l "__main__" bench/*.py 2>/dev/null); do \
		m=$$(basename "$$f" .py); echo "== python -m bench.$$m"; $(PY) -m "bench.$$m" || exit 1; \
	done

# Against the stack `make run` started (DEMO_API_URL, API_KEYS or var/admin_api_key; see --help).
demo: $(RUN_STAMP)
	$(PY) scripts/demo.py $(DEMO_ARGS)

clean-venv:
	rm -rf $(VENV)
