# Set-up and checks. Each target installs into .venv first if needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench bench-stores bench-logs bench-scrapers bench-integrations

$(BIN)/scrapeguard: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/scrapeguard

install: $(BIN)/scrapeguard

demo: install
	$(BIN)/scrapeguard demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/bench_guard.py

bench-stores: install
	$(BIN)/python bench/bench_stores.py

bench-logs: install
	$(BIN)/python bench/bench_logs.py

bench-scrapers: install
	$(BIN)/python bench/bench_scrapers.py

bench-integrations: install
	$(BIN)/python bench/bench_integrations.py
