# incident-pipeline: `make up` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) deploy/stack.py
PYTEST_ARGS ?=

.PHONY: help install up down status logs infra test test-unit test-integration test-e2e docs clean-state bench bench-quick demo chaos

help:
	@echo "make up | down | status | logs | test | test-unit | docs | install"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"' || exit 1
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

up: install
	@$(STACK) up

down:
	@if [ -x $(PY) ]; then $(STACK) down; fi

status: install
	@$(STACK) status

logs: install
	@$(STACK) logs $(NAME)

infra: install
	@$(STACK) infra

test: infra
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: infra
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: infra
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

docs: install
	$(PY) -m tools.asyncapi docs/asyncapi
	$(PY) -m tools.events_doc docs/events.md

clean-state: down
	rm -rf .state

bench: infra
	@command -v prometheus-alertmanager >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq prometheus-alertmanager >/dev/null; } || echo "no prometheus-alertmanager: scenario 7 will say 'not run'"
	$(PY) -m bench.run

bench-quick: infra
	BENCH_QUICK=1 $(PY) -m bench.run

demo: install
	@$(STACK) status >/dev/null || { echo "the stack is not (fully) up: run 'make up' first"; exit 1; }
	$(PY) -m tools.demo

chaos: infra
	CHAOS_FULL=1 $(PY) -m pytest tests/reliability $(PYTEST_ARGS)
