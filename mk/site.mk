# The whole deployment: the demo and the benchmark. Included from the main
# Makefile, which defines SHELL, BIN and the venv/collections-path targets.
#
#   make demo                     the whole deployment in a local container, secrets from a seeded OpenBao
#   make demo-down                remove everything `make demo` made
#   make bench-site               deploy/rerun/upgrade vs a floor over docker exec, over SSH (judged) and over
#                                 SSH with the mitogen_linear strategy (opt-in, beside SSH), the operator
#                                 playbooks, Vault requests, tasks per role vs tools/bench/site/budget.yml
#   make bench                    bench-site, bench-vault, bench-backup

BENCH_REPORT ?= $(CURDIR)/.cache/bench.md

.PHONY: demo demo-down bench bench-site

demo: venv collections-path
	tools/demo/demo.sh up

demo-down: venv
	tools/demo/demo.sh down

bench-site: venv collections-path
	tools/bench/site/bench.sh $(BENCH_REPORT)

bench: bench-site bench-vault bench-backup
	cat $(BENCH_REPORT)
	echo; cat $(BENCH_VAULT_REPORT)
	echo; cat $(BENCH_BACKUP_REPORT)
