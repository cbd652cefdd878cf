# The two commands of the README: `make run` and `make test`. Each makes .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect-home
# The embedded job service keeps its jobs here, so a rerun of a sweep finds them.
export PREFECT_IBMQ_DATA_DIR ?= $(CURDIR)/.prefect-ibmq
export PYTHONUNBUFFERED := 1

.PHONY: run test lint bench e2e clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) flows/ghz_bell_sweep.py

# Two pytest-xdist workers, each with its own session servers (Prefect's, the job server, PostgreSQL);
# a test file stays on one worker, so its module-scoped servers start once. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
test: $(STAMP) lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Style, imports, likely bugs and docstrings of public names (ruff), then types (mypy); config in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m benchmarks

# The whole stack in a real browser and a real worker (installs chromium and playwright when missing).
e2e: $(STAMP)
	PY=$(PY) bash e2e/run.sh

clean:
	rm -rf $(VENV) .prefect-home .prefect-ibmq out
