# Two commands on a fresh Debian machine: `make demo` runs the system, `make test` the tests.
# Both install what they need first (Debian packages via apt-get as root or with sudo, and
# a Python venv with the pinned dependencies): see scripts/bootstrap.sh. It runs again when
# pyproject.toml or the script change.
# nodejs + npm: the OPC UA interop check runs a second OPC UA stack (node-opcua).

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
DEBS    := influxdb mosquitto mbpoll chromium chromium-driver nodejs npm fonts-wqy-microhei

.PHONY: demo test check bench format install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh "$(VENV)" $(DEBS)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/facility demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) tools/import_graph.py --check

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf var build *.egg-info .mypy_cache .ruff_cache .pytest_cache
