# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps what it
# needs: uv (pinned) in .tools/, then the locked dependencies (uv.lock) in .venv/.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
# Bytecode caches: without them every process the tests start (hubs, agents, the CLI)
# compiles its imports again, about 3 s of CPU for a hub. Some machines set this.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint typecheck imports unit lock clean e2e-kind

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --compile-bytecode --quiet
	@touch $@

# The embedded fleet: a hub and 3 spokes as local processes, real work, live view, teardown.
demo: $(VENV)/.synced
	$(BIN)/kindfleet demo

lint: $(VENV)/.synced
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.synced
	$(BIN)/mypy

imports: $(VENV)/.synced
	$(BIN)/lint-imports

# In parallel: the real-kind fleets, the other Docker tests and the browser tests each keep
# to one worker (tests/conftest.py); 3 workers, as most tests wait on processes, not CPU.
# A worker that dies (killed, out of memory) ends the run, naming its test: xdist's
# replacement worker waited for tests `loadgroup` never gave it, and the run hung.
unit: $(VENV)/.synced
	$(BIN)/pytest -n 3 --dist loadgroup --max-worker-restart 0

# mypy (about 25 s of one core) runs beside pytest, whose start (collection, workers,
# the first fleets) leaves a core free; a failure of either fails the target.
test: lint imports $(VENV)/.synced
	$(MAKE) --no-print-directory -j2 typecheck unit

e2e-kind: $(VENV)/.synced
	$(BIN)/pytest -m kind tests/e2e_kind

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) $(TOOLS) .demo .pytest_cache .mypy_cache .ruff_cache
