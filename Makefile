# hpc-jupyterhub-deploy: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
PYTEST_ARGS ?=
# Site settings, handed to the scripts through the environment.
export CA_BUNDLE    ?= /etc/ssl/certs/ca-certificates.crt
export BASE_IMAGE   ?= debian:bookworm-slim
export IMAGE_PREFIX ?= hpc-jupyterhub-deploy
export IMAGE_TAG    ?= $(shell cat VERSION)
export DEBIAN_MIRROR ?=

DOCKERFILES := $(wildcard images/*/Dockerfile)
YAML_FILES  := $(shell git ls-files --cached --others --exclude-standard '*.yml' '*.yaml' 2>/dev/null)

.PHONY: help prerequisites images lock lint test test-unit test-images up down clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

prerequisites: ## install what is missing (Docker engine, debootstrap, .venv) and start dockerd
	@bash tools/prerequisites.sh

images: prerequisites ## build the notebook, hub and proxy images (base image made locally if no pull)
	@$(PY) tools/build_images.py

lock: prerequisites ## refresh the lock files of every image and of the tooling (UPGRADE=1: newest versions)
	@bash tools/lock.sh

lint: prerequisites ## ruff, mypy, yamllint and hadolint on everything
	@echo "==> ruff"; $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check --quiet .
	@echo "==> mypy"; $(VENV)/bin/mypy
	@echo "==> yamllint"; $(VENV)/bin/yamllint --strict $(YAML_FILES)
	@echo "==> hadolint"; $(VENV)/bin/hadolint $(DOCKERFILES)

test-unit: prerequisites ## unit tests (seconds, no Docker)
	@$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

test-images: images ## image tests: throwaway containers checked with testinfra
	@$(VENV)/bin/pytest tests/images $(PYTEST_ARGS)

test: test-unit lint test-images ## everything: unit tests, lint, image tests

up: ## (not yet) the whole local cluster and hub: arrives with the Slurm and JupyterHub issues
	@echo "make up is not built yet: today \`make images\` and \`make test\` work (see README)" >&2; exit 2

down: ## (not yet) stop what make up started
	@echo "make down is not built yet: nothing is started by this version" >&2; exit 2

clean: ## remove the product's images and build scratch (not the base image, not .venv)
	@docker image rm -f $(foreach i,notebook hub proxy,$(IMAGE_PREFIX)/$(i):$(IMAGE_TAG)) 2>/dev/null || true
	@rm -rf .build
