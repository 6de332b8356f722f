# Two commands: `make demo` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= sample-config.yaml
PYTEST_ARGS ?=

.PHONY: setup demo run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup  ## the demo upstream + the sidecar with sample-config.yaml; Ctrl-C stops both
	$(BIN)/mcp-sidecar demo -c $(CONFIG)

run: setup
	$(BIN)/mcp-sidecar run -c $(CONFIG)

lint: setup
	$(BIN)/ruff check proxy tests bench
	$(BIN)/ruff format --check proxy tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format proxy tests bench
	$(BIN)/ruff check --fix proxy tests bench

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
