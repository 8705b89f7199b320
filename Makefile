# g448.devenv developer and CI entry points.
#
#   make test                     everything CI runs: lint, unit, every Molecule scenario
#   make lint                     yamllint, ansible-lint (production profile), the changelog, then the built tarball:
#                                 ansible-test sanity (checkout and tarball), galaxy-importer, ansible-builder introspect
#   make unit                     Python unit and integration tests (plugins, templates) on ansible-core 2.19 and 2.17
#   make molecule SCENARIO=name   one Molecule scenario, on every distro it declares
#   make images                   the local systemd base images (debootstrap + docker import)
#   make standin                  the Coder STAND-IN test fixture (.deb packages and image; tests only)
#
# Every target bootstraps what it needs on a fresh Debian machine: the virtualenv
# from the pinned requirements, a Docker engine, the apt cache and the images.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Interpreter discovery for localhost can pick a broken pyenv shim here.
export G448_CONTROLLER_PYTHON := $(BIN)/python
COLLECTION_LINK := .cache/collections/ansible_collections/g448/devenv
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
BUILD_INSTALLED := .cache/build/installed/ansible_collections/g448/devenv
DISTROS ?= debian12 debian13
ALL_SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
# Longest first (seconds in a clean-clone `make test`, two at a time), so that
# the two slots finish together: a long scenario started last is a tail that
# runs alone. Scenarios not listed run after these, in name order.
LONG_SCENARIOS := backup production cluster workspace_host site coder coder_container postgres coder_upgrade caddy_proxy monitoring
SCENARIOS ?= $(foreach s,$(LONG_SCENARIOS),$(filter $(s),$(ALL_SCENARIOS))) $(filter-out $(LONG_SCENARIOS),$(ALL_SCENARIOS))
SCENARIO ?=

.PHONY: help venv collections-path docker images standin lint unit molecule molecule-all test build clean

help:
	@sed -n 's/^#   //p' Makefile mk/*.mk

$(VENV)/.stamp: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

collections-path: $(COLLECTION_LINK)

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

docker:
	tools/harness/ensure-docker.sh
	tools/harness/ensure-apt-cache.sh

images: docker
	for d in $(DISTROS); do tools/harness/build-image.sh $$d; done

# The Coder stand-in (tests only: no reachable registry carries Coder), built
# once before the scenarios so that parallel scenarios never race to build it.
standin: images
	molecule/shared/coder-standin/build.sh --image

# ansible-test sanity runs on a copy of the checkout's tracked files (molecule/
# aside) and on the collection installed from the tarball; galaxy-import.sh
# imports the tarball as Galaxy does and checks what it ships.
lint: venv collections-path
	yamllint --strict .
	ansible-lint --profile production
	antsibull-changelog lint
	$(MAKE) --no-print-directory build
	tools/harness/sanity.sh checkout $(BUILD_INSTALLED)
	tools/harness/galaxy-import.sh .cache/build/g448-devenv-$(VERSION).tar.gz

build: venv
	rm -rf .cache/build && mkdir -p .cache/build
	ansible-galaxy collection build --force --output-path .cache/build .
	ansible-galaxy collection install --force --offline -p .cache/build/installed .cache/build/g448-devenv-*.tar.gz >/dev/null
	test -f $(BUILD_INSTALLED)/MANIFEST.json

# The plugin tests run on the newest (.venv) and the oldest (.venv-core2.17)
# ansible-core we support; tests/integration starts a real OpenBao on loopback.
unit: venv collections-path
	pytest tests/unit tests/integration -q
	$(MAKE) --no-print-directory unit-core2.17

molecule: venv venv-core2.17 collections-path images standin
	@test -n "$(SCENARIO)" || { echo "usage: make molecule SCENARIO=<name>"; exit 2; }
	tools/harness/run-molecule.sh $(SCENARIO)

molecule-all: venv venv-core2.17 collections-path images standin
	tools/harness/run-molecule.sh $(SCENARIOS)

test: venv collections-path
	tools/harness/test-all.sh

clean:
	rm -rf .cache/build .cache/sanity

# Feature fragments (bench and extra test targets) live next to what they test.
-include mk/*.mk
