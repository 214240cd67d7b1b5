# Two commands on a fresh Debian machine: `make demo` runs the system, `make test` the tests.
# Both install what they need first (Debian packages via apt-get as root or with sudo, and
# a Python venv with the pinned dependencies): see scripts/bootstrap.sh. It runs again when
# pyproject.toml or the script change.
# nodejs + npm: the OPC UA interop check runs a second OPC UA stack (node-opcua).

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
DEBS    := influxdb mosquitto postgresql mbpoll chromium chromium-driver nodejs npm fonts-wqy-microhei

.PHONY: demo test faults soak check bench format install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh "$(VENV)" $(DEBS)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/facility demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# The whole system under faults (tests/faults, docs/faults.md): one row per fault, the table
# printed at the end and written to var/faults/report.md. Under 12 minutes on 2 cores.
faults: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -rA tests/faults

# A long soak: one hour on the three estates, simulators at 24x (24 h of simulated time),
# polling at four times the estates' rate (FAULTS_POLL_SCALE=0.25, ~440 readings/s),
# sampled every minute, a fault injected every 10 minutes (broker, database, parts killed);
# ends with 0 stalls and published = stored, memory/thread figures.
soak: $(STAMP)
	FAULTS_SITES=HT,JU,HY FAULTS_SPEED=24 FAULTS_SOAK_S=3600 FAULTS_SOAK_SAMPLE_S=60 \
		FAULTS_SOAK_FAULT_EVERY_S=600 FAULTS_POLL_SCALE=0.25 \
		$(PY) -m pytest -q -p no:cacheprovider -rA tests/faults/test_soak.py

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) tools/import_graph.py --check
	$(PY) tools/secret_scan.py

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf var build *.egg-info .mypy_cache .ruff_cache .pytest_cache
