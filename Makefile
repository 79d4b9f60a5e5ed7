# Praxis: the two commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

SERVICE ?= intake
ROLE ?= admin
ORG ?= org-1
CLINIC ?= clinic-1

.PHONY: run test install unit integration e2e rebuild token dead-letters replay-dead-letters bench catalogue clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

## Run the four services on SQLite against the local RabbitMQ.
run: $(STAMP)
	$(BIN)/python -m shared.launcher

## The whole suite: unit, integration (RabbitMQ + SQLite + PostgreSQL), end-to-end.
test: $(STAMP)
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

## Drop and replay a service's read models: make rebuild SERVICE=billing
rebuild: $(STAMP)
	$(BIN)/python -m shared.cli rebuild $(SERVICE)

## A bearer token for local use: make -s token ROLE=clinician CLINIC=clinic-1
token: $(STAMP)
	@$(BIN)/python -m shared.cli token --role $(ROLE) --org $(ORG) --clinic '$(CLINIC)'

## Inspect or replay a service's dead-lettered events
dead-letters: $(STAMP)
	$(BIN)/python -m shared.cli dead-letters $(SERVICE)

replay-dead-letters: $(STAMP)
	$(BIN)/python -m shared.cli dead-letters $(SERVICE) --replay

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .pytest_cache

## Rewrite the README's event catalogue from the schemas
catalogue: $(STAMP)
	$(BIN)/python -m shared.catalogue_doc --write README.md

## Offline checks of deploy/: manifests, CRDs, image definition, alerts, dashboards, live Prometheus
deploy-check: $(STAMP)
	$(BIN)/python -m pytest tests/deploy
