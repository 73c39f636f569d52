# agentconsole — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit interop clean venv system-packages screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) || { echo "cannot create $(VENV): install python3-venv" \
	  "(sudo apt-get install python3-venv), or run 'make test' as root"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## demo: set up and start the console against the built-in demo switch
demo: $(STAMP)
	$(VENV)/bin/agentconsole demo

## test: set up and run every check: system packages, lint, types, unit, transport and
## interop tests. Ends with the skipped tests by reason, and the command that installs
## any missing system package.
test: system-packages $(STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

## system-packages: install the Debian packages the tests need (root or passwordless sudo),
## or print the command that would (.ci/system-packages, list in .ci/system-packages.txt)
system-packages:
	@.ci/system-packages install

lint: $(STAMP)
	$(VENV)/bin/ruff check agentconsole tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy agentconsole

unit: $(STAMP)
	$(PY) -m pytest -m "not interop" $(PYTEST_ARGS)

interop: $(STAMP)
	$(PY) -m pytest -m interop $(PYTEST_ARGS)

## screenshot: the README's picture is the console's snapshot test (tests/test_readme.py checks)
screenshot:
	cp "tests/ui/__snapshots__/test_snapshots/test_talking_and_held[120x40].svg" docs/console.svg

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
