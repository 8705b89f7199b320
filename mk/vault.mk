# g448.devenv.vault: the lookup's benchmark and its oldest-ansible-core test run.
# Included from the main Makefile, which defines SHELL, BIN, PYTHON and the
# `venv` and `collections-path` targets.
#
#   make bench-vault              g448.devenv.vault vs community.hashi_vault, counted by a real OpenBao
#   make unit-core2.17            the unit and integration tests on ansible-core 2.17 (.venv-core2.17)
#   make venv-core2.17            that controller alone (molecule/site deploys with it)

VENV_CORE217 := $(CURDIR)/.venv-core2.17
BENCH_VAULT_REPORT ?= $(CURDIR)/.cache/bench-vault.md

.PHONY: bench-vault unit-core2.17 venv-core2.17

bench-vault: venv collections-path
	mkdir -p $(dir $(BENCH_VAULT_REPORT))
	PYTHONPATH=$(CURDIR)/tools/harness $(BIN)/python $(CURDIR)/tools/bench/vault/bench.py --output $(BENCH_VAULT_REPORT)

$(VENV_CORE217)/.stamp: $(CURDIR)/tests/requirements-core2.17.txt $(CURDIR)/requirements-dev.txt
	$(PYTHON) -m venv $(VENV_CORE217)
	$(VENV_CORE217)/bin/pip install -q --upgrade pip
	$(VENV_CORE217)/bin/pip install -q -r $(CURDIR)/tests/requirements-core2.17.txt
	# The same collections as .venv (requirements-dev.txt's `ansible` pin), without
	# the ansible-core that package requires: molecule/site deploys with them.
	$(VENV_CORE217)/bin/pip install -q --no-deps "$$(grep -E '^ansible==' $(CURDIR)/requirements-dev.txt)"
	touch $@

venv-core2.17: $(VENV_CORE217)/.stamp

unit-core2.17: $(VENV_CORE217)/.stamp collections-path
	cd $(CURDIR) && $(VENV_CORE217)/bin/pytest tests/unit tests/integration -q
