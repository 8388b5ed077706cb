# Two commands on a fresh machine: `make run` (the local stack) and `make test` (the whole suite).
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: install run test test-unit lint bench bench-clearance bench-batch chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The whole local stack in the foreground: Kafka (fetched with Maven on first use) and the gateway.
run: install
	$(BIN)/tsw up --port $(PORT)

## Every test, against a real Kafka broker (started by the tests) and real SQLite and PostgreSQL.
test: install
	TSW_TEST_POSTGRES_URL="$$(bash deploy/postgres/test-server.sh)" $(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check gateway adapters simulators tests
	$(BIN)/ruff format --check gateway adapters simulators tests
	$(BIN)/mypy

## Throughput and latency of POST /v1/declarations against a gateway started for the purpose.
bench: install
	$(BIN)/tsw bench submit

## The response loop, 202 -> CLEARED as a trader sees it, at 200 customs-only declarations/s (needs
## the WCO reference pack in ../shared/reference/wco-dms, or pass BENCH_ARGS="--pack DIR").
bench-clearance: install
	$(BIN)/tsw bench clearance $(BENCH_ARGS)

bench-batch: install
	$(BIN)/tsw bench batch $(BENCH_ARGS)

## Fault scenarios on real processes (brokers, gateways, databases killed under load), each on its own
## broker(s) and gateway; exits 1 on any loss or duplicate. CHAOS_ARGS="gateway-kill --seconds 60".
chaos: install
	$(BIN)/tsw chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .cache var .pytest_cache .mypy_cache .ruff_cache
