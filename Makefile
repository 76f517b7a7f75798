# Two entry points: `make run` (install + the demo) and `make test` (install + the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the demo's environment: torch and ela's core dependencies only
CORE_STAMP := $(VENV)/.installed-core
# the tests': the core plus the test, audio and Ray extras
STAMP := $(VENV)/.installed

VIDEO_VENV ?= .venv-video
VIDEO_BIN := $(VIDEO_VENV)/bin
VIDEO_STAMP := $(VIDEO_VENV)/.installed

.PHONY: run test test-video lint install docs clean

$(CORE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $(CORE_STAMP)

$(STAMP): $(CORE_STAMP)
	$(BIN)/pip install -q -e ".[test,audio,ray]"
	touch $(STAMP)

# MediaPipe 0.10.21 needs numpy<2: the video extraction is tested in its own environment.
$(VIDEO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VIDEO_VENV)
	$(VIDEO_BIN)/pip install -q --upgrade pip
	$(VIDEO_BIN)/pip install -q torch==2.13.0
	$(VIDEO_BIN)/pip install -q -e ".[test,video]"
	touch $(VIDEO_STAMP)

install: $(STAMP)

run: $(CORE_STAMP)
	$(BIN)/ela demo --out out/demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

# The manual (docs/) as a site in site/: the CLI reference is generated from the parser and the
# API reference from the docstrings; --strict turns every warning (a broken link, a bad
# docstring) into a failure.
docs: $(CORE_STAMP)
	$(BIN)/pip install -q -e ".[docs]"
	$(BIN)/mkdocs build --strict --site-dir site

test-video: $(VIDEO_STAMP)
	$(VIDEO_BIN)/python -m pytest -q tests/test_video_post.py tests/test_video_mediapipe.py

clean:
	rm -rf $(VENV) $(VIDEO_VENV) out site
