# Handover: `make run` starts it on embedded defaults; `make test` installs and runs every test.
# Everything a fresh machine lacks is installed here (venv, pip, Debian packages), nothing by hand.

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip --disable-pip-version-check -q
CONFIG  ?=
PYTEST_ARGS ?=

.PHONY: run test test-fast test-integration soak bench lint check system-deps postgres clean

$(VENV)/.run-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[test,bench,dev]'
	touch $@ $(VENV)/.run-installed

## run: install into .venv and start everything (embedded broker, gateway, sync, web) on 127.0.0.1:8080
run: $(VENV)/.run-installed
	$(VENV)/bin/handover run $(if $(CONFIG),--config $(CONFIG))

## check: validate a config (make check CONFIG=handover.toml)
check: $(VENV)/.run-installed
	$(VENV)/bin/handover check $(if $(CONFIG),--config $(CONFIG))

## system-deps: Debian chromium for the browser tests, promtool for the alert rules (root, apt)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

## postgres: make sure the local PostgreSQL (127.0.0.1:5432, database test) answers
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done; }

## test: the whole suite, slow and browser tests included (what CI runs)
test: $(VENV)/.test-installed system-deps postgres
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## test-fast: the inner loop (under a minute): every package's logic in this one process; no broker,
## PostgreSQL, browser or spawned process (those are `integration`), no slow suite
test-fast: $(VENV)/.test-installed
	$(VENV)/bin/pytest -m "not slow and not integration" $(PYTEST_ARGS)

## test-integration: what test-fast skips but the slow suites (the broker, PostgreSQL, Chromium, subprocesses)
test-integration: $(VENV)/.test-installed system-deps postgres
	$(VENV)/bin/pytest -m "integration and not slow" $(PYTEST_ARGS)

## soak: the full-size chaos run (10,000 webhooks, SIGKILLs, a target down 30 s); prints the summary table
soak: $(VENV)/.test-installed
	HANDOVER_SOAK=1 $(VENV)/bin/pytest -m slow -s tests/chaos $(PYTEST_ARGS)

## bench: every benchmark (gateway, its parts, the sources on vendor samples, sync engine, end to end); figures in docs/benchmarks.md
bench: $(VENV)/.test-installed
	$(PY) -m bench.gateway
	$(PY) -m bench.gateway_parts
	$(PY) -m bench.sources
	$(PY) -m bench.sync
	$(PY) -m bench.e2e

## lint: ruff
lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check services schemas calculator tests bench

clean:
	rm -rf $(VENV) var .pytest_cache
