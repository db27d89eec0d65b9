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
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run migrate token test check-migrations lint fmt bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the suite with its dev tools

migrate: $(STAMP) ## apply every service's migrations (SQLite files under data/ unless *_DATABASE_URL is set)
	bash scripts/migrate.sh

run: $(STAMP) migrate ## install, migrate and start the whole suite (Ctrl-C stops it all)
	bash scripts/run.sh

token: $(STAMP) ## print a development token: make token ROLE=staff [SUB=...] [BRANCH=...]
	@$(BIN)/python -m services.common.tokens --role $(ROLE) $(if $(SUB),--sub $(SUB)) $(if $(BRANCH),--branch $(BRANCH))

test: $(STAMP) ## run the whole test suite (SQLite and PostgreSQL when reachable; it must be in CI)
	$(BIN)/python -m pytest -n auto -q $(PYTEST_ARGS)

check-migrations: $(STAMP) ## alembic check, upgrade, downgrade to base, upgrade: each service, both databases
	$(BIN)/python -m pytest -q tests/migrations

lint: $(STAMP) ## ruff (never writes)
	$(BIN)/ruff check services gateway tests bench

fmt: $(STAMP) ## ruff fix and format (writes)
	$(BIN)/ruff check --fix services gateway tests bench

bench: $(STAMP) ## load tests from a separate process; prints figures and ratios from one run
	$(BIN)/python -m bench.run

clean: ## remove data/ and caches (keeps .venv)
	rm -rf data .pytest_cache .ruff_cache
