# Postal Savings Customer Management Suite. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ROLE ?= staff
SUB ?=
BRANCH ?=
DB ?= sqlite
SUITE_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run migrate demo token test check-migrations check-deploy audit-verify lint fmt bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the suite with its dev tools

# openapi-typescript for the client-contract test (npm; without npm that one check skips, and fails in CI)
CLIENT_TOOLS := tests/client/node_modules/.installed
$(CLIENT_TOOLS): tests/client/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/client --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the TypeScript client check will be skipped"; fi

migrate: $(STAMP) ## apply every service's migrations (SQLite under data/; DB=postgres: a database per service)
	DB=$(DB) SUITE_POSTGRES_URL=$(SUITE_POSTGRES_URL) bash scripts/migrate.sh

run: $(STAMP) migrate ## install, migrate and start the whole suite (DB=postgres for PostgreSQL; Ctrl-C stops it)
	DB=$(DB) SUITE_POSTGRES_URL=$(SUITE_POSTGRES_URL) bash scripts/run.sh

demo: $(STAMP) ## load synthetic data through profile's API (suite running): make demo [N=10000] [SEED=1]
	$(BIN)/python -m services.profile.tools.demo --n $(or $(N),10000) --seed $(or $(SEED),1) --url http://127.0.0.1:$${PROFILE_PORT:-$$(( $${SUITE_PORT_BASE:-8000} + 1 ))}

token: $(STAMP) ## print a development token: make token ROLE=staff [SUB=...] [BRANCH=...] [SCOPE="events:read ..."] [TTL=600]
	@$(BIN)/python -m services.common.tokens --role $(ROLE) $(if $(SUB),--sub $(SUB)) $(if $(BRANCH),--branch $(BRANCH)) $(if $(SCOPE),--scope "$(SCOPE)") $(if $(TTL),--ttl $(TTL))

test: $(STAMP) $(CLIENT_TOOLS) ## run the whole test suite (SQLite and PostgreSQL when reachable; it must be in CI)
	$(BIN)/python -m pytest -n auto -q $(PYTEST_ARGS)

audit-verify: $(STAMP) migrate ## check each service's audit chain and the rows it mirrors (the databases make run uses); exit 1 naming the first broken record
	@DB=$(DB) SUITE_POSTGRES_URL=$(SUITE_POSTGRES_URL) bash scripts/audit-verify.sh

check-migrations: $(STAMP) ## alembic check, upgrade, downgrade to base, upgrade: each service, both databases
	$(BIN)/python -m pytest -q tests/migrations

check-deploy: $(STAMP) ## deploy/ checks: promtool rules tests, compose and Kubernetes schemas, hadolint, Prometheus e2e
	$(BIN)/python -m pytest -q tests/deploy tests/e2e/test_prometheus_e2e.py

lint: $(STAMP) ## ruff check, ruff format --check and mypy (strict for services/common and gateway); never writes
	$(BIN)/ruff check services gateway tests bench scripts
	$(BIN)/ruff format --check services gateway tests bench scripts
	$(BIN)/mypy services gateway

fmt: $(STAMP) ## ruff check --fix and ruff format (writes)
	$(BIN)/ruff check --fix services gateway tests bench scripts
	$(BIN)/ruff format services gateway tests bench scripts

bench: $(STAMP) ## load tests from a separate process; prints figures and ratios from one run
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.profile_bench
	$(BIN)/python -m bench.gateway_bench
	$(BIN)/python -m bench.feedback_bench
	$(BIN)/python -m bench.loyalty_bench
	$(BIN)/python -m bench.campaign_bench
	$(BIN)/python -m bench.segmentation_bench
	$(BIN)/python -m bench.idle_bench
	$(BIN)/python -m bench.memory_bench

clean: ## remove data/ and caches (keeps .venv)
	rm -rf data .pytest_cache .ruff_cache
