# Keel: one idempotent install path and the project's entry points.
#
#   make demo     the main job: a market simulation on the embedded anvil chain (installs first)
#   make test     the whole test suite (installs first); KEEL_PROFILE=ci|local picks fuzzing depth
#   make bench    gas benchmark -> reports/gas.md and reports/gas.json
#   make report   headless reports (reference model, no chain) -> reports/report.html + .json
#   make slither  static analysis of contracts/ against tools/slither/triage.yaml (CI runs it)
#
# Everything comes from PyPI and npm by package name, pinned: requirements.lock and package-lock.json.
# The Solidity compiler is the npm package `solc` (solcjs); its version in package.json is the one
# place the Solidity version is pinned: the `solc-v<version>` shim below is named after it.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLCHAIN := .toolchain
SOLC_VERSION = $(shell node -p "require('./node_modules/solc/package.json').version")
ANVIL_BIN := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

export PATH := $(CURDIR)/$(TOOLCHAIN)/bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/$(TOOLCHAIN)/solcx
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo demo-vault test bench report lint fmt clean env slither

install: $(VENV)/.installed node_modules/.installed $(TOOLCHAIN)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	# `npm ci` rejects this lock (npm 11 and the optional per-platform anvil packages); `install
	# --no-save` installs exactly the locked versions without rewriting the lock.
	npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

# The compiler shim py-solc-x looks for, and anvil straight from its platform package (the npm
# launcher script only locates this same binary).
$(TOOLCHAIN)/.installed: node_modules/.installed tools/solc/solc.js
	mkdir -p $(TOOLCHAIN)/solcx $(TOOLCHAIN)/bin
	rm -f $(TOOLCHAIN)/solcx/solc-v*
	printf '#!/bin/sh\nexec node "%s/tools/solc/solc.js" "$$@"\n' "$(CURDIR)" > $(TOOLCHAIN)/solcx/solc-v$(SOLC_VERSION)
	chmod +x $(TOOLCHAIN)/solcx/solc-v$(SOLC_VERSION)
	ln -sf "$(CURDIR)/$(ANVIL_BIN)" $(TOOLCHAIN)/bin/anvil
	$(TOOLCHAIN)/solcx/solc-v$(SOLC_VERSION) --version | grep -q "Version: $(SOLC_VERSION)"
	$(TOOLCHAIN)/bin/anvil --version
	touch $@

# Prints the environment for running brownie by hand:  eval "$(make -s env)"
env:
	@echo 'export PATH="$(CURDIR)/$(TOOLCHAIN)/bin:$(CURDIR)/$(VENV)/bin:$$PATH"'
	@echo 'export SOLCX_BINARY_PATH="$(CURDIR)/$(TOOLCHAIN)/solcx"'

# The main job: a market on the embedded chain (relayer and keepers as processes, a crash,
# liquidations) and the report it leaves in reports/report.html. `ARGS="--help"` lists the options.
demo: install
	$(VENV)/bin/python -m keel.sim $(ARGS)

# The first stage's walkthrough: Vault + Oracle + relayer replay, deposits and withdrawals.
demo-vault: install
	$(VENV)/bin/python -m keel.demo $(ARGS)

TESTS ?= tests
test: install
	$(VENV)/bin/python -m pytest $(TESTS) $(ARGS)

bench: install
	$(VENV)/bin/python -m keel.bench.gas $(ARGS)

# Headless reports (no chain): capital efficiency, IM backtests, VaR/ES -> reports/report.html
report: install
	$(VENV)/bin/python -m keel.reports --prices data/btc_eth_daily_2016_2019.csv --out reports $(ARGS)

# Static analysis in its own pinned environment (slither's web3/eth-* pins conflict with brownie's).
# Fails on a High/Medium finding that tools/slither/triage.yaml does not explain;
# `ARGS=--write-template` prints the untriaged ones in the triage file's format.
SLITHER_VENV := $(TOOLCHAIN)/slither

$(SLITHER_VENV)/.installed: tools/slither/requirements.lock
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install -q -r tools/slither/requirements.lock
	touch $@

slither: node_modules/.installed $(TOOLCHAIN)/.installed $(SLITHER_VENV)/.installed
	$(SLITHER_VENV)/bin/python -m tools.slither $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf build .keel .pytest_cache .hypothesis
