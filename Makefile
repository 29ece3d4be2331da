# Two entry points: `make serve` (the app on http://127.0.0.1:7860) and `make test` (the whole suite).
# Both create .venv on first use; torch is installed first so that accelerate/trl don't pull a CUDA build.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: serve test test-fast lint venv clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the project's dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test,data]"
	touch $@

venv: $(VENV)/.installed

serve: venv
	$(BIN)/labkit serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .

# Two workers (pytest-xdist): a file's tests stay on one worker, the browser files share one, longest first
# (tests/conftest.py).
# TEST_WORKERS=0 runs the suite in this process, serially.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

# The quick tier: everything not marked slow (~800 tests: 114 s wall on 2 cores under a load average of 12;
# the per-test durations sum to 75 s). A test that needs the tiny model, the app or a job is slow by fixture.
test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) build *.egg-info
