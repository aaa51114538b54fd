# Two entry points for a fresh machine with only Python installed:
#   make demo   create .venv, install, build a benchmark from the built-in synthetic source
#   make test   create .venv, install every extra, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_OUT ?= demo_out

.PHONY: demo test install install-all lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamp files re-run the install only when pyproject.toml changes.
$(VENV)/.core-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# torch is pinned to 2.13.0 inside the 'probes' extra: that pin takes the local CPU wheel.
$(VENV)/.all-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[probes,plots,train,consumers,dev]'
	touch $@

install: $(VENV)/.core-stamp
install-all: $(VENV)/.all-stamp

demo: install
	$(BIN)/mimicgen build --out $(DEMO_OUT) --overwrite

test: install-all
	-bash scripts/setup_test_deps.sh
	$(BIN)/python -m pytest -q

lint: install-all
	$(BIN)/ruff check mimicgen tests scripts

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
