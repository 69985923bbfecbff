# EVCharging — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test check e2e lint format run bench gomon kafka-start kafka-stop pg-start pg-stop clean screenshots

setup: $(STAMP)
	@scripts/setup-system
	@scripts/kafka-local bootstrap
	@$(PY) -m fleet.go_generator build --if-go

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# pytest-xdist workers of `make test` and `make e2e`: one per core of the 2-core machines.
# Each worker starts its own brokers, PostgreSQL and MariaDB; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
# The unit tier of `make check`: no broker, no database server, no program started as a process.
UNIT_TIER := not kafka and not postgres and not mariadb and not process and not e2e and not slow
# It mostly waits (deadlines, shutdowns: 25 s of CPU in 3 min), so more workers than cores.
CHECK_WORKERS ?= 6
# Python's bytecode cache: without it every worker, and every program a test starts, compiles
# its modules anew (collecting the suite takes 8 s instead of 3).
unexport PYTHONDONTWRITEBYTECODE

# pyproject.toml adds --durations=15; tests/parallel.py keeps the heavy modules on one worker.
test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop, well under a minute: ruff, then the unit tier; says how long it took.
check: $(STAMP)
	@start=$$(date +%s%N); status=0; \
	{ $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	  QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n $(CHECK_WORKERS) -m "$(UNIT_TIER)" $(PYTEST_ARGS); } \
	  || status=$$?; \
	echo "check: lint + unit tier in $$(( ($$(date +%s%N) - start) / 1000000000 )) s"; \
	exit $$status

# Only the end-to-end and resilience suite (real processes, real broker); `make test` runs it too.
e2e: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n $(PYTEST_WORKERS) -m e2e $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: setup
	$(PY) scripts/run_network.py $(RUN_ARGS)

# Every screenshot in docs/img/ from the programs as they are now (scripts/screenshots.py;
# the guide's real-network shots need xvfb, xdotool and imagemagick).
screenshots: setup
	$(PY) scripts/screenshots.py $(SCREENSHOT_ARGS)

# The fleet benchmark (docs/performance.md): 1,000 / 3,000 / 10,000 CPs, the 10,000 restart
# storm and registration, against a real Central and broker; prints one table. The secured
# network (TLS, sealed values, SASL_SSL broker) unless BENCH_ARGS=--plain. The monitor
# side is the Go generator (fleet/gomon), built by `make gomon` with Debian's golang-go.
bench: setup gomon
	$(VENV)/bin/evc-fleet bench $(BENCH_ARGS)

# evc-fleet's Go monitor generator, into build/gomon/ (git-ignored); says what to install
# when no Go toolchain is there.
gomon: $(STAMP)
	@$(PY) -m fleet.go_generator build

kafka-start: setup
	scripts/kafka-local start

kafka-stop:
	scripts/kafka-local stop

# A local PostgreSQL (docs/deploy.md, "The database"): data in .run/postgres.
pg-start: setup
	scripts/pg-local start

pg-stop:
	scripts/pg-local stop

# A local MariaDB (the same section): data in .run/mariadb.
.PHONY: maria-start maria-stop
maria-start: setup
	scripts/maria-local start

maria-stop:
	scripts/maria-local stop

clean:
	rm -rf .run .pytest_cache .ruff_cache

# A seeded fault campaign against the HA network on its own ports and run dir (.run/chaos),
# then the books checked (docs/reliability.md); exit 1 on any violation. As root it also cuts
# the network (iptables) and fails brokers' disks. CHAOS_ARGS="--seed N --duration S" repeats one.
.PHONY: chaos
chaos: setup
	$(VENV)/bin/evc-chaos $(CHAOS_ARGS)
