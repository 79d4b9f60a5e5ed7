# Praxis: the two commands are `make run` and `make test`.
# Supported: Python 3.11 (the default, CI's) and 3.12 (`make test PYTHON=python3.12`).
# Each interpreter gets its own virtualenv: .venv for python3.11, .venv-3.12 for python3.12.
PYTHON ?= python3.11
VENV := $(if $(filter python3.11,$(PYTHON)),.venv,.venv-$(patsubst python%,%,$(notdir $(PYTHON))))
# pyenv's shims answer only for its selected version; let python3.12 find an installed 3.12
# too (the selected version first, so python3 stays what it was).
PYENV_ALL := $(shell (pyenv version-name; pyenv versions --bare --skip-aliases) 2>/dev/null | tr '\n' ':')
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The OpenID provider the integration tests run (node); npm ci empties node_modules first.
OIDC_STAMP := tests/oidc/node_modules/.installed-$(shell cat tests/oidc/package-lock.json | cksum | cut -d' ' -f1)
# The official AsyncAPI CLI, which validates docs/events/asyncapi.json in the unit tests.
ASYNCAPI_STAMP := tests/asyncapi/node_modules/.installed-$(shell cat tests/asyncapi/package-lock.json | cksum | cut -d' ' -f1)

SERVICE ?= intake
ROLE ?= admin
ORG ?= org-1
CLINIC ?= clinic-1
# USER only from the command line: the shell's USER is the login name.
TOKEN_USER := $(if $(filter command line,$(origin USER)),--user '$(USER)')

.PHONY: subscribe run test test-serial install test-provider asyncapi-cli unit integration e2e rebuild rotate-keys backup restore token dead-letters replay-dead-letters bench catalogue openapi access-table clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || PYENV_VERSION="$${PYENV_VERSION:-$(PYENV_ALL)}" $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@touch $@

## The test OpenID Connect provider (npm's oidc-provider) in tests/oidc/node_modules
test-provider: $(OIDC_STAMP)

$(ASYNCAPI_STAMP): tests/asyncapi/package.json tests/asyncapi/package-lock.json
	npm ci --prefix tests/asyncapi --no-audit --no-fund --loglevel=error
	@touch $@

## The AsyncAPI CLI (npm's @asyncapi/cli) in tests/asyncapi/node_modules
asyncapi-cli: $(ASYNCAPI_STAMP)

## Run the four services on SQLite against the local RabbitMQ.
run: $(STAMP)
	PRAXIS_ENV=development $(BIN)/python -m shared.launcher

## The whole suite: unit, integration (RabbitMQ + SQLite + PostgreSQL), end-to-end,
## as two pytest processes side by side (tests/shards.py); `make test-serial` as one.
test: $(STAMP) $(OIDC_STAMP) $(ASYNCAPI_STAMP)
	$(BIN)/python -m tests.shards

test-serial: $(STAMP) $(OIDC_STAMP) $(ASYNCAPI_STAMP)
	$(BIN)/python -m pytest

unit: $(STAMP) $(ASYNCAPI_STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) $(OIDC_STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

## Drop and replay a service's read models: make rebuild SERVICE=billing
rebuild: $(STAMP)
	$(BIN)/python -m shared.cli rebuild $(SERVICE)

## Re-wrap every client's data key under the first of PRAXIS_KEY_ENCRYPTION_KEYS (all services, or SERVICE=billing)
rotate-keys: $(STAMP)
	$(BIN)/python -m shared.cli rotate-keys $(if $(filter command line,$(origin SERVICE)),$(SERVICE))

## A service's PostgreSQL store to a file (pg_dump -Fc): make backup SERVICE=billing [FILE=billing.dump]
backup: $(STAMP)
	$(BIN)/python -m shared.cli backup $(SERVICE) --file $(or $(FILE),$(SERVICE).dump)

## Into a fresh database (PRAXIS_<SERVICE>_DATABASE_URL), then rebuild: make restore SERVICE=billing FILE=billing.dump
restore: $(STAMP)
	$(BIN)/python -m shared.cli restore $(SERVICE) --file $(FILE)

## A development token: make -s token ROLE=clinician CLINIC=clinic-1 USER=dr-lee; ROLE=client needs CLIENT_ID=
token: $(STAMP)
	@$(BIN)/python -m shared.cli token --role $(ROLE) --org $(ORG) --clinic '$(CLINIC)' $(TOKEN_USER) $(if $(CLIENT_ID),--client-id '$(CLIENT_ID)')

## Inspect or replay a service's dead-lettered events
dead-letters: $(STAMP)
	$(BIN)/python -m shared.cli dead-letters $(SERVICE)

replay-dead-letters: $(STAMP)
	$(BIN)/python -m shared.cli dead-letters $(SERVICE) --replay

## Follow a service's events as an integrator would (integrations/subscriber.py):
## make subscribe SERVICE=intake URL=http://127.0.0.1:8001 NAME=warehouse STATE=var/warehouse.db
## (token: $$PRAXIS_INTEGRATOR_TOKEN; broker: $$PRAXIS_AMQP_URI, else the local one)
subscribe: $(STAMP)
	@mkdir -p var
	PRAXIS_AMQP_URI="$${PRAXIS_AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}" \
	$(BIN)/python -m integrations.subscriber --service $(SERVICE) --url $(URL) \
	  --organisation $(ORG) --name $(NAME) --state $(STATE)

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .pytest_cache

## Rewrite the README's event catalogue and "who consumes what" (from the subscription
## tables), and the contract files in docs/events (AsyncAPI document, a JSON Schema per
## type and version) from the schemas
catalogue: $(STAMP)
	$(BIN)/python -m shared.catalogue_doc --write README.md
	$(BIN)/python -m shared.subscriptions --write README.md
	$(BIN)/python -m shared.asyncapi --write docs/events

## Each service's OpenAPI 3.1 document (also served at GET /openapi.json)
openapi: $(STAMP)
	$(BIN)/python -m shared.openapi --write docs/openapi

## Rewrite the README's access policy table from shared/access.py
access-table: $(STAMP)
	$(BIN)/python -m shared.access --write README.md

## Offline checks of deploy/: manifests, CRDs, image definition, alerts, dashboards, live Prometheus
deploy-check: $(STAMP)
	$(BIN)/python -m pytest tests/deploy

.PHONY: audit-verify audit-report
FORMAT ?= json

## Walk every service's audit trail hash chain; non-zero naming the first bad row
audit-verify: $(STAMP)
	$(BIN)/python -m shared.cli audit-verify

## Who looked at a client, or what a user looked at, across the four services:
## make -s audit-report CLIENT_ID=... (or AUDIT_USER=...) [FROM=... TO=...] [FORMAT=csv]
## (token: $$PRAXIS_TOKEN, else a local privacy_officer one)
audit-report: $(STAMP)
	@PRAXIS_TOKEN="$${PRAXIS_TOKEN:-$$($(BIN)/python -m shared.cli token --role privacy_officer --org $(ORG) --clinic '*')}" \
	$(BIN)/python -m shared.cli audit-report --format $(FORMAT) \
	  $(if $(CLIENT_ID),--client-id '$(CLIENT_ID)') $(if $(AUDIT_USER),--user-id '$(AUDIT_USER)') \
	  $(if $(FROM),--from '$(FROM)') $(if $(TO),--to '$(TO)')
