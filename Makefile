# Developer shortcuts. `make demo` runs the end-to-end demo against the local emulator.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help demo test e2e lint typecheck docs clean-demo

help:
	@echo "make demo        run example_lakeformation_discovery end to end against the emulator (.demo/)"
	@echo "make test        ruff + mypy + the whole pytest suite (scripts/test.sh, venv in $(VENV))"
	@echo "make e2e         only the Airflow end-to-end tests (tests/e2e)"
	@echo "make lint        ruff check"
	@echo "make typecheck   mypy (strict)"
	@echo "make docs        the documentation site (scripts/docs.sh, mkdocs build --strict into site/)"
	@echo "make clean-demo  remove .demo/"

demo:
	PYTHON=$(PYTHON) bash scripts/demo.sh

test:
	PYTHON=$(PYTHON) LF_VENV=$(VENV) bash scripts/test.sh

e2e:
	PYTHON=$(PYTHON) LF_VENV=$(VENV) bash scripts/test.sh tests/e2e

lint:
	$(BIN)/ruff check airflow_provider_lakeformation tests example_dags benchmarks scripts

typecheck:
	$(BIN)/mypy

docs:
	PYTHON=$(PYTHON) bash scripts/docs.sh

clean-demo:
	rm -rf .demo
