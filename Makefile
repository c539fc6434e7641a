# The two commands a new user needs: `make run` and `make test`. Everything installs itself
# into .venv inside the repo on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
ORG ?= default
SCOPES ?=

.PHONY: help install run key test unit integration e2e contract lint format cfn-lint bench bench-compare load fuzz openapi clean

help:
	@echo "make run        start the local stack on http://127.0.0.1:$(PORT) (PORT= overrides)"
	@echo "make test       install what is needed, lint, and run the whole suite"
	@echo "make key ORG=<name> [SCOPES=a,b] [PLACES=id,..] [THINGS=id,..]   issue an API key on the stack of PORT (STACK=<name>: the deployed one)"
	@echo "make bench      print performance figures next to their targets; fails if one misses (bench/results.json)"
	@echo "make bench-compare [BASE=<git ref>]   the change of each figure against the run before (or BASE's results)"
	@echo "make lint       ruff, mypy, cfn-lint, import-linter (layers), vulture (dead code), deptry (dependencies)"
	@echo "make openapi    regenerate shared/openapi.json from the handlers"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/telemetry-dev run --port $(PORT)

key: $(STAMP)
	$(BIN)/telemetry-dev key $(if $(STACK),--stack-name "$(STACK)",--port $(PORT)) --org "$(ORG)" $(if $(SCOPES),--scopes "$(SCOPES)",) \
		$(if $(PLACES),--places "$(PLACES)",) $(if $(THINGS),--things "$(THINGS)",)

test: $(STAMP) lint
	$(BIN)/pytest -q -n 2 --dist loadfile

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration tests/devstack

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e tests/contract

lint: $(STAMP) cfn-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --explicit-package-bases functions
	$(BIN)/lint-imports
	$(BIN)/vulture
	$(BIN)/deptry .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules

# every bench runs (the figures of all are written), then the target fails if any figure missed
bench: $(STAMP)
	@failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "figures MISS their target in:$$failed"; exit 1; fi

bench-compare: $(STAMP)
	@$(BIN)/python bench/compare.py $(BASE)

load: $(STAMP)
	$(BIN)/pytest -q -m slow tests

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/pytest -q tests/integration/test_fuzz_platform.py tests/integration/test_invariant_stored.py

openapi: $(STAMP)
	$(BIN)/telemetry-dev openapi --out shared/openapi.json

clean:
	rm -rf $(VENV) .devstack .mypy_cache .ruff_cache
