# make run    install what is missing, start broker, database, service and simulators
# make test   the same set-up, then lint, type check and the whole test suite
# make check  ruff + mypy only;  make bench  benchmarks (figures in docs/benchmarks.md)
# make bench-peers  the benchmarks' peers (Node-RED + InfluxDB nodes, npm) in var/peers/
# make soak   the adversarial suite with bigger counts (figures in docs/reliability.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
NODE_RED_PEER := tests/benchmarks/peers/node-red
NODE_RED_DIR  := var/peers/node-red
NODE_RED_STAMP := $(NODE_RED_DIR)/.installed-$(shell cat $(NODE_RED_PEER)/package.json $(NODE_RED_PEER)/package-lock.json | cksum | cut -d' ' -f1)

.PHONY: run test check bench bench-peers soak setup system-packages clean

run: setup
	$(BIN)/ioc dev

test: setup check
	$(BIN)/python -m pytest -q

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup bench-peers
	$(BIN)/python -m tests.benchmarks

# Node-RED and node-red-contrib-influxdb, pinned by the committed package-lock.json, into
# var/peers/node-red (npm ci, local): the do-it-yourself peer of tests/benchmarks/bench_nodered.py.
# Skipped when that lock file is already installed.
bench-peers: $(NODE_RED_STAMP)

$(NODE_RED_STAMP): $(NODE_RED_PEER)/package.json $(NODE_RED_PEER)/package-lock.json
	@tests/benchmarks/peers/install-node-red.sh $(NODE_RED_DIR)
	@rm -f $(NODE_RED_DIR)/.installed-*
	@touch $@

soak: setup
	IOC_SOAK=1 IOC_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md \
		$(BIN)/python -m pytest -q -m adversarial

setup: system-packages $(STAMP)

system-packages:
	@WITH_BROWSER=1 scripts/install-system-packages.sh

$(STAMP): pyproject.toml
	@echo "[setup] creating $(VENV) and installing Python dependencies"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
