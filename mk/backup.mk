# g448.devenv.backup: the backup benchmark. Included from the main Makefile,
# which defines BIN (on PATH), ANSIBLE_CONFIG and the `venv`,
# `collections-path`, `images` and `standin` targets.
#
#   make bench-backup             the backup role's job vs raw pg_dump | restic + restic backup (Molecule backup containers)

BENCH_BACKUP_REPORT ?= $(CURDIR)/.cache/bench-backup.md

.PHONY: bench-backup

bench-backup: venv collections-path images standin
	mkdir -p $(dir $(BENCH_BACKUP_REPORT))
	$(CURDIR)/tools/bench/backup/bench.sh --output $(BENCH_BACKUP_REPORT)
