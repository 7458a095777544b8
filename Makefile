# make run    install what is missing, start broker, database, service and simulators
# make test   the same set-up, then lint, type check and the whole test suite
# make check  ruff + mypy only;  make bench  benchmarks (figures in docs/benchmarks.md)
# make soak   the adversarial suite with bigger counts (figures in docs/reliability.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test check bench soak setup system-packages clean

run: setup
	$(BIN)/ioc dev

test: setup check
	$(BIN)/python -m pytest -q

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m tests.benchmarks

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
