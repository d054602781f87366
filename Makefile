# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE ?= examples/post-acdf-radiculopathy.yaml
CODE := $(wildcard src tests bench tools)

.PHONY: run example bench-service bench-extract bench-batch test check lint type unit venv install dev acceptance bench kb-check clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## run: install, check the knowledge base and serve http://127.0.0.1:8000 (SQLite under var/)
run: install
	$(BIN)/spinecds kb check
	$(BIN)/spinecds serve

## example: assess the bundled sample case in the terminal (clinician report)
example: install
	$(BIN)/spinecds assess $(SAMPLE)

## test: install dev tools, then lint, type-check and run the test suite
test: dev lint type unit

check: test

lint: dev
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

type: dev
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest --cov=spinecds --cov-report=term:skip-covered -q

acceptance: install
	$(PY) ../shared/acceptance/check_cases.py ../shared/cases --cli $(BIN)/spinecds

kb-check: install
	$(BIN)/spinecds kb check

bench: install
	$(BIN)/python bench/assess_throughput.py

bench-service: install
	$(BIN)/python bench/service_load.py

bench-extract: install
	$(BIN)/python bench/extract_throughput.py

bench-batch: install
	$(BIN)/python bench/batch_throughput.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
