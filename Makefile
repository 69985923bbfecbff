# EVCharging — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test e2e lint format run bench kafka-start kafka-stop pg-start pg-stop clean

setup: $(STAMP)
	@scripts/setup-system
	@scripts/kafka-local bootstrap

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# Only the end-to-end and resilience suite (real processes, real broker); `make test` runs it too.
e2e: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m e2e $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: setup
	$(PY) scripts/run_network.py $(RUN_ARGS)

# The fleet benchmark (docs/performance.md): 1,000 / 3,000 / 10,000 CPs, the 10,000 restart
# storm and registration, against a real Central and broker; prints one table.
bench: setup
	$(VENV)/bin/evc-fleet bench $(BENCH_ARGS)

kafka-start: setup
	scripts/kafka-local start

kafka-stop:
	scripts/kafka-local stop

# A local PostgreSQL (docs/deploy.md, "The database"): data in .run/postgres.
pg-start: setup
	scripts/pg-local start

pg-stop:
	scripts/pg-local stop

clean:
	rm -rf .run .pytest_cache .ruff_cache
