# DataLab Hub: `make run` starts the demo hub, `make test` runs the test suite.
# Both install what they need first (Debian packages, the Python venv, the Node proxy).

PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
export DATALAB_CONFIG ?= $(if $(wildcard datalab.yaml),datalab.yaml,datalab.example.yaml)

.PHONY: run test bench install system-deps image clean

# DATALAB_BACKEND=docker: labs in containers; the Docker engine is started when needed and
# the lab image built when missing or out of date.
run: install $(if $(filter docker,$(DATALAB_BACKEND)),image)
	@echo "DataLab Hub on http://127.0.0.1:$${DATALAB_PORT:-8000} (deployment: $(DATALAB_CONFIG))"
	exec $(BIN)/jupyterhub -f jupyterhub_config.py

test: install
	./scripts/system-deps.sh test
	$(BIN)/pytest -ra --durations=30

# Benchmarks (not part of `make test`): bench/, results in bench/results/, docs/benchmarks.md.
# BENCH_ARGS: options of `python -m bench` (e.g. --sizes 1,10 --skip-logins).
# The hub start-up part (--only hub-scale) also needs PostgreSQL and psycopg2 (the `postgres`
# extra; installed alone: reinstalling the project would bring back rfc3987-syntax).
bench: install image
	./scripts/system-deps.sh bench
	$(BIN)/python -c 'import psycopg2' 2>/dev/null || $(BIN)/pip install --quiet -c requirements.lock psycopg2-binary
	$(BIN)/python -m bench $(BENCH_ARGS)

install: system-deps $(VENV)/.installed node_modules/.installed

system-deps:
	./scripts/system-deps.sh run

# The lab image datalab-lab:<version> (images/lab), built without any registry.
image: system-deps
	./scripts/dockerd.sh start
	./scripts/build-image.sh

$(VENV)/.installed: pyproject.toml requirements.lock images/lab/overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	# Without rfc3987-syntax, as the lab image (images/lab/Dockerfile): its import costs each lab
	# started from this venv (local and Slurm backends) about 1.7 CPU-s (docs/benchmarks.md).
	$(BIN)/pip uninstall --yes --quiet rfc3987-syntax
	mkdir -p $(LAB_SETTINGS)
	cp images/lab/overrides.json $(LAB_SETTINGS)/overrides.json
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules var
