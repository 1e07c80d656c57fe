# hiload — every target installs what it needs itself (virtualenv, Docker engine, images).
# Start with `make help`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
STATE := .state
UV_VERSION := 0.13.8
UV := $(STATE)/uv/bin/uv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0

MOLECULE_SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help demo test lint docs test-service test-bundle test-lab test-molecule wheelhouse lab down engine images venv bench-service bench release

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: lab ## Deploy the local lab with site.yml and answer a request through nginx
	@scripts/demo.sh

# The lab stage keeps about one core busy for most of its minutes; the lints, the service's and
# the bundle's tests and the scenarios' wheelhouse run beside it on the other (each stage's output
# shown whole once it ends), then the Molecule scenarios take both.
test: ## Every test: lints, the service, the bundle's scripts, make demo as a newcomer, every Molecule scenario
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-lab lint test-service test-bundle wheelhouse
	@$(MAKE) --no-print-directory test-molecule
	@echo "==> make test: every check passed"

lint: venv ## yamllint, ansible-lint (production profile), ruff, mypy --strict, role READMEs in step with their specs, one version and a well-formed changelog
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	mypy
	python scripts/role_docs.py --check
	python scripts/release.py check

docs: venv ## Regenerate the role READMEs' variables tables from meta/argument_specs.yml
	python scripts/role_docs.py

test-service: venv ## The service's tests against a real PostgreSQL and Redis
	scripts/test-service.sh

test-bundle: venv engine ## The make targets' own checks and messages, the preflight's variables, the wheelhouse build
	pytest -p no:cacheprovider tests/bundle

test-lab: venv images ## make demo from a fresh clone with the home hidden, checked through 127.0.0.1, then make down
	scripts/test-lab.sh

wheelhouse: venv ## Build the bundled service's wheelhouse for Debian 12 and 13 into build/wheelhouse
	scripts/build-wheelhouse.sh

test-molecule: venv images ## Every Molecule scenario, MOLECULE_JOBS (2) at a time; logs in .state/molecule/
	scripts/test-molecule.sh $(MOLECULE_SCENARIOS)

lab: venv images ## Boot the lab's four containers (hiload-lb1, -app1, -app2, -db1)
	ansible-playbook playbooks/lab.yml

down: venv engine ## Remove the lab's containers and network, nothing else
	ansible-playbook playbooks/lab_down.yml

release: venv ## Build the collection tarball and the service wheel into dist/, at galaxy.yml's version (a changelog release first)
	UV=$(UV) python scripts/release.py build

bench-service: venv ## Benchmark the service alone on loopback (table of ratios)
	scripts/bench-service.sh

bench: lab ## Benchmark the lab: tuned against naive, direct and the ceiling (reports/bench.md)
	scripts/bench.sh

engine: ## Start a Docker engine if none answers (installs docker.io on Debian)
	@scripts/ensure-engine.sh

images: engine ## Build the systemd Debian 12/13 images (debootstrap when no registry answers)
	@scripts/build-images.sh bookworm trixie

venv: $(VENV)/.synced ## The virtualenv with the locked deploy and test tools

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@echo "==> Installing the locked toolchain into $(VENV) (uv sync --locked)"
	$(UV) sync --locked --all-groups --quiet
	@touch $@

$(UV):
	@scripts/ensure-python.sh
	@echo "==> Bootstrapping uv $(UV_VERSION) into $(STATE)/uv"
	python3 -m venv $(STATE)/uv
	$(STATE)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
