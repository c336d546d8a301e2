# kbdesk: `make run` sets up and starts the app; `make test` sets up and runs the test suite.
# Both are idempotent: a second run reuses the venv and the cached llama-cpp-python wheel.
PYTHON ?= python3.11
VENV   := .venv
STAMP  := $(VENV)/.kbdesk-setup
BIN    := $(VENV)/bin

.PHONY: setup run test lint lock package package-test bench bench-quick clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock build/setup.sh build/llama_wheel.sh build/pgvector_portable.sh src/kbdesk/core/generate/cpu_floor.py
	PYTHON=$(PYTHON) bash build/setup.sh
	touch $(STAMP)

run: setup
	$(BIN)/python build/assemble_models.py --large
	$(BIN)/kbdesk

test: setup
	$(BIN)/ruff check src tests bench build packaging
	$(BIN)/lint-imports
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# The installer packages (build/out/packages/*.deb): the program, the default model, training.
package: setup
	bash packaging/build.sh

# Installs those packages into a fresh root and runs the installed program with a scrubbed
# environment: import, search, answer, window, a one-step training (packaging/test_installed.py).
package-test: package
	$(BIN)/python packaging/test_installed.py

# Rewrites requirements.lock after a change to pyproject.toml (UPGRADE=1: newest allowed releases).
lock:
	PYTHON=$(PYTHON) bash build/lock.sh

lint: setup
	$(BIN)/ruff check src tests bench build packaging
	$(BIN)/ruff format --check src tests bench build packaging

# Every benchmark, one after the other, at the sizes bench/RESULTS.md reports (long).
bench: setup
	$(BIN)/python bench/run_all.py

# Smaller sizes, without the portable-build comparison.
bench-quick: setup
	$(BIN)/python bench/run_all.py --quick

clean-venv:
	rm -rf $(VENV)
