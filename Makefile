# hpc-jupyterhub-deploy: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
PYTEST_ARGS ?=
# The Docker tiers print their ten slowest tests (CI's log says where the minutes go).
DURATIONS   ?= --durations=10 --durations-min=5
# Site settings, handed to the scripts through the environment.
export CA_BUNDLE    ?= /etc/ssl/certs/ca-certificates.crt
export BASE_IMAGE   ?= debian:bookworm-slim
export IMAGE_PREFIX ?= hpc-jupyterhub-deploy
export IMAGE_TAG    ?= $(shell cat VERSION)
export DEBIAN_MIRROR ?=
# The local test cluster's number of compute nodes; empty: the inventory's test_cluster_compute_nodes.
NODES ?=
BENCH_USERS ?= 0
ANSIBLE_PLAYBOOK := $(PY) tools/interruptible.py $(VENV)/bin/ansible-playbook
INVENTORY ?= inventories/local
# More ansible-playbook arguments for make up/cluster/down, e.g. ANSIBLE_ARGS="-e @my-overrides.yml".
ANSIBLE_ARGS ?=

DOCKERFILES := $(wildcard images/*/Dockerfile slurm-test-cluster/*/Dockerfile tests/images/*/Dockerfile tests/production/*/Dockerfile)
YAML_FILES  := $(shell git ls-files --cached --others --exclude-standard '*.yml' '*.yaml' 2>/dev/null)

.PHONY: help venv prerequisites images lock lint lint-every-linter docs bench test test-unit test-images test-infra test-e2e test-faults test-production test-release cluster up down status logs maintenance backup restore clean

help: ## list the targets ([Docker]: installs and starts a Docker engine where none answers)
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

venv: ## only the pinned tooling in .venv (tools/requirements.txt, hpchub editable): no Docker, no daemon
	@bash tools/prerequisites.sh venv

prerequisites: ## [Docker] install what is missing (Docker engine, debootstrap, chromium, .venv) and start dockerd
	@bash tools/prerequisites.sh

images: prerequisites ## [Docker] build the notebook, hub and proxy images (base image made locally if no pull)
	@$(PY) tools/build_images.py

lock: venv ## refresh the lock files of every image and of the tooling (UPGRADE=1: newest versions)
	@bash tools/lock.sh

# Python scripts without a .py name (installed as commands in the images).
PY_SCRIPTS := images/hub/hpchub-home-quota images/notebook/hpchub-singleuser images/notebook/own-packages-sha256 \
	images/proxy/install-from-lock

# lint and test-unit run once per tree (tools/once.sh): .ci/run's `make lint test-unit` then `make test` runs them
# once; any change to any file runs them again; FORCE=1 always does.
lint: venv ## ruff, mypy, yamllint, hadolint and ansible-lint (production profile) on everything
	@bash tools/once.sh lint $(MAKE) --no-print-directory lint-every-linter

lint-every-linter:
	@echo "==> ruff"; $(VENV)/bin/ruff check . $(PY_SCRIPTS) && $(VENV)/bin/ruff format --check --quiet . $(PY_SCRIPTS)
	@echo "==> mypy"; $(VENV)/bin/mypy && for script in $(PY_SCRIPTS); do $(VENV)/bin/mypy --strict $$script || exit 1; done
	@echo "==> yamllint"; $(VENV)/bin/yamllint --strict $(YAML_FILES)
	@echo "==> hadolint"; $(VENV)/bin/hadolint $(DOCKERFILES)
	@echo "==> ansible-lint"; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/ansible-lint --profile production --nocolor -q roles deploy

docs: venv ## the documentation site (Sphinx + MyST) into .build/docs/html: warnings and broken links are errors (no Docker)
	@bash tools/once.sh docs $(VENV)/bin/sphinx-build -E -W --keep-going -q -b html docs .build/docs/html
	@echo "docs: .build/docs/html/index.html"

bench: prerequisites ## [Docker] benchmarks of the local deployment (make up with 50 simulated users first); BENCH_ARGS=--quick or --cold
	@$(PY) -m bench.run $(BENCH_ARGS)

test-unit: venv ## unit tests, the spawner in-process against a fake Slurm; hpchub's and hpc_slurm's line coverage (no Docker)
	@bash tools/once.sh test-unit $(VENV)/bin/pytest tests/unit -p no:cacheprovider --cov=hpchub --cov=hpc_slurm --cov=hpchub_bench --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

test-images: images ## [Docker] image tests: throwaway containers checked with testinfra
	@$(VENV)/bin/pytest tests/images $(DURATIONS) $(PYTEST_ARGS)

test-infra: cluster ## [Docker] cluster tests: testinfra on every host, Slurm jobs as users, idempotence
	@$(VENV)/bin/pytest tests/infra $(DURATIONS) $(PYTEST_ARGS)

test-e2e: up ## [Docker] end-to-end: log in through the proxy, spawn as a Slurm job, run code in a kernel, bad input
	@$(VENV)/bin/pytest tests/e2e $(DURATIONS) $(PYTEST_ARGS)

test-faults: $(if $(NO_UP),venv,up) ## [Docker] faults and hostile input: hub, proxy, controller and node failures, hostile spawn requests, isolation, secrets, TLS (ends with make down + up)
	@$(VENV)/bin/pytest tests/faults $(DURATIONS) $(PYTEST_ARGS)

test-production: images ## [Docker] deploy/site.yml from bare Debian hosts over SSH, user checks, second run changes nothing (beside the local cluster)
	@$(PY) tools/build_images.py bare-host
	@$(VENV)/bin/pytest tests/production -p no:cacheprovider $(DURATIONS) $(PYTEST_ARGS)

test-release: venv ## [Docker] the last release (RELEASES) deployed, upgraded in place to this checkout; make backup, make clean, make up, make restore (replaces the local cluster)
	@$(VENV)/bin/pytest tests/release -p no:cacheprovider $(DURATIONS) $(PYTEST_ARGS)

test: test-unit lint docs test-images test-infra test-e2e ## [Docker] everything: unit, lint, docs, image, cluster and end-to-end tests

cluster: images ## [Docker] the Slurm test cluster (slurmctld, slurmdbd, compute nodes c1..cN, login) and the hub, configured by the roles
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/local.yml $(if $(NODES),-e test_cluster_compute_nodes=$(NODES)) -e bench_users=$(BENCH_USERS) $(ANSIBLE_ARGS)
	@$(MAKE) --no-print-directory status

up: cluster ## [Docker] everything: the Slurm cluster, JupyterHub and its proxy (https://127.0.0.1:8443 locally); ends with make status

down: prerequisites ## [Docker] remove the cluster's containers (homes and scratch volumes are kept)
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/down.yml $(ANSIBLE_ARGS)

status: ## [Docker] the hub and the proxy, the service's address and users, Slurm's view of the nodes and the queue
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/status.yml

logs: ## [Docker] the same, with the hub's, the proxy's and slurmctld's recent logs
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/status.yml -e status_logs=true

maintenance: ## [Docker] MESSAGE='...' [UNTIL='...']: maintenance mode on (logins and new servers refused), off without MESSAGE
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/notices.yml $(ANSIBLE_ARGS)

backup: prerequisites ## [Docker] one dated archive (0600, with its .sha256) of the hub's and Slurm's databases, slurmctld's state and the secrets, in $(INVENTORY)/backups
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/backup.yml $(ANSIBLE_ARGS)

restore: prerequisites ## [Docker] BACKUP=archive: put a backup back onto the running deployment (or a new one: make up first), then make up
	@if [ -z "$(BACKUP)" ]; then echo "make restore: name the archive, e.g. make restore BACKUP=$$(ls -t $(INVENTORY)/backups/*.tar.gz 2>/dev/null | head -1 || echo $(INVENTORY)/backups/....tar.gz)" >&2; exit 2; fi
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/restore.yml -e backup_archive=$(abspath $(BACKUP)) -e restore_deploy=false $(ANSIBLE_ARGS)
	@$(MAKE) --no-print-directory up ANSIBLE_ARGS="$(ANSIBLE_ARGS) -e slurm_restored=true"

clean: prerequisites ## [Docker] remove the cluster with its volumes (homes!), its secrets, the images (not with KEEP_IMAGES=1) and build scratch; backups are kept
	@$(ANSIBLE_PLAYBOOK) -i $(INVENTORY) deploy/down.yml -e test_cluster_remove_volumes=true
	@if [ -f $(INVENTORY)/nodes.docker.yml ]; then rm -rf $(INVENTORY)/secrets; fi
	@$(if $(KEEP_IMAGES),true,docker image rm -f $(foreach i,node notebook hub proxy,$(IMAGE_PREFIX)/$(i):$(IMAGE_TAG)) 2>/dev/null || true)
	@rm -rf .build
