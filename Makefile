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

.PHONY: help install run key test unit integration e2e contract lint format cfn-lint bench bench-compare load fuzz openapi clean build build-native build-test build-python rehearse pull

# `make build`: `sam build` for Lambda's python3.12 on arm64, on any x86_64 or arm64 machine, without Docker.
# SAM needs a python3.12: BUILD_PYTHON if given, else python3.12 on PATH, else the newest 3.12 under pyenv.
# The SAM CLI lives in its own venv (.venv-build), never in the project's .venv.
BUILD_PYTHON ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
BUILD_VENV := .venv-build
BUILD_STAMP := $(BUILD_VENV)/.installed
SAM_CLI_VERSION ?= 1.170.0
# BUILD_PLATFORM=aarch64 (default, what Lambda runs) or x86_64 (a native copy for `make bench`); the layers'
# makefiles read it. The native build goes to its own folder so the deployable build is never overwritten.
BUILD_PLATFORM ?= aarch64
BUILD_DIR := $(if $(filter aarch64,$(BUILD_PLATFORM)),.aws-sam/build,.aws-sam/build-$(BUILD_PLATFORM))

help:
	@echo "make run        start the local stack on http://127.0.0.1:$(PORT) (PORT= overrides)"
	@echo "make test       install what is needed, lint, and run the whole suite"
	@echo "make key ORG=<name> [SCOPES=a,b] [PLACES=id,..] [THINGS=id,..]   issue an API key on the stack of PORT (STACK=<name>: the deployed one)"
	@echo "make pull INTEGRATION=intg_...   run one pull step of an integration now, on the stack of PORT"
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

pull: $(STAMP)
	@test -n "$(INTEGRATION)" || { echo "usage: make pull INTEGRATION=intg_... [PORT=3000]" >&2; exit 2; }
	$(BIN)/telemetry-dev pull "$(INTEGRATION)" --port $(PORT)

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

# The cold-start bench (bench/bench_cold_start.py) times the built layers for this machine's own
# architecture, with boto3 + botocore standing in for the python3.12 runtime's own (/var/runtime).
BENCH_RUNTIME := .aws-sam/lambda-runtime-$(shell uname -m)
$(BENCH_RUNTIME)/.installed: $(BUILD_STAMP)
	$(BUILD_VENV)/bin/python -m pip install --quiet --no-warn-conflicts --target $(BENCH_RUNTIME) boto3
	$(BUILD_VENV)/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash $(BENCH_RUNTIME)
	@touch $@

# every bench runs (the figures of all are written), then the target fails if any figure missed
bench: $(STAMP) $(BENCH_RUNTIME)/.installed
	$(if $(filter aarch64,$(shell uname -m)),$(MAKE) build,$(MAKE) build-native)
	@failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "figures MISS their target in:$$failed"; exit 1; fi

bench-compare: $(STAMP)
	@$(BIN)/python bench/compare.py $(BASE)

load: $(STAMP)
	$(BIN)/pytest -q -m slow tests

# FUZZ_EXAMPLES: examples per test (per operation for schemathesis, which then also runs its
# coverage phase and draws a random seed; SCHEMATHESIS_SEED=<n> replays one)
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/pytest -q tests/integration/test_fuzz_platform.py tests/integration/test_invariant_stored.py \
		tests/contract/test_schemathesis.py

openapi: $(STAMP)
	$(BIN)/telemetry-dev openapi --out shared/openapi.json

$(BUILD_STAMP):
	@test -n "$(BUILD_PYTHON)" || { echo "make build needs a python3.12: put one on PATH, install one with pyenv (pyenv install 3.12), or pass BUILD_PYTHON=/path/to/python3.12" >&2; exit 1; }
	@echo "build python: $(BUILD_PYTHON)"
	@test -x $(BUILD_VENV)/bin/python || $(BUILD_PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BUILD_VENV)/bin/python -m pip install --quiet "aws-sam-cli==$(SAM_CLI_VERSION)"
	@touch $(BUILD_STAMP)

# The tool venv's bin/ goes first on PATH: its python3.12 is the one SAM and the layers' makefiles run.
# --no-cached: SAM's cache keys a layer by its own folder only, so a change to layers/layer.mk or to
# BUILD_PLATFORM would reuse a stale layer (the uncached build takes ~20 s with pip's cache warm).
# Functions have no third-party code of their own (SAM copies app.py); the step after `sam build`
# precompiles them, as the layers' makefiles precompile theirs: Lambda's /var/task and /opt are read-only,
# so without .pyc every cold start compiles every module again.
build: $(BUILD_STAMP)
	PATH="$(CURDIR)/$(BUILD_VENV)/bin:$$PATH" BUILD_PLATFORM=$(BUILD_PLATFORM) SAM_CLI_TELEMETRY=0 \
		$(BUILD_VENV)/bin/sam build --build-dir $(BUILD_DIR) --no-cached --parallel
	$(BUILD_VENV)/bin/python -m compileall -q --invalidation-mode unchecked-hash $(BUILD_DIR)/*Function

# The python3.12 `make build` would use (empty when there is none): .ci/run asks before building.
build-python:
	@echo "$(BUILD_PYTHON)"

build-native:
	$(MAKE) build BUILD_PLATFORM=$(shell uname -m)

# The checks on the deployable build (architecture, glibc, sizes, .pyc): `make build` first; CI runs both.
build-test: $(STAMP)
	$(BIN)/pytest -q -n0 -m build tests/build

# Deploy rehearsal without AWS: the build, packaged, transformed by the SAM translator, created in moto.
rehearse: $(STAMP) build
	PYTHONPATH=shared:layers/domain $(BIN)/python -m devstack.rehearsal

clean:
	rm -rf $(VENV) $(BUILD_VENV) .aws-sam .devstack .mypy_cache .ruff_cache
