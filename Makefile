# agentconsole — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit interop clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## demo: set up and start the console against the built-in demo switch
demo: $(STAMP)
	$(VENV)/bin/agentconsole demo

## test: set up and run every check: lint, types, unit, transport and interop tests
test: $(STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check agentconsole tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy agentconsole

unit: $(STAMP)
	$(PY) -m pytest -m "not interop" $(PYTEST_ARGS)

interop: $(STAMP)
	$(PY) -m pytest -m interop $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
