# terok.lifecycle developer and CI tasks; `make help` lists them.
# Every test target bootstraps first (tools/bootstrap.sh: fast when nothing changed), so
# each one works on its own on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# ansible-test options; override on the command line, e.g. `make units UNITS_PYTHON=3.8`
# (UNITS_PYTHON=all: every Python 3.8-3.13 that .cache/pybin has)
SANITY_ARGS ?=
UNITS_PYTHON ?= 3.11
UNITS_ARGS ?=
INTEGRATION_PYTHON ?= 3.11
# cells of sanity-matrix / units-matrix: full = every ansible-core x controller Python here,
# edges = each core's oldest and newest Python only, lean = edges with only compile, import
# and pylint on the oldest (see tools/ansible-test.sh --matrix). A sanity cell costs 2-5 min on
# a fresh clone (its venvs) and about a minute after; a units cell 20-30 s.
SANITY_MATRIX ?= lean
UNITS_MATRIX ?= full
# targets with the alias "destructive" (they run containers) run too: test hosts are disposable
INTEGRATION_ARGS ?= --allow-destructive
BOOTSTRAP_ARGS ?=
BENCH_ARGS ?=
# mypy's --python-version in make lint: the oldest and the newest Python of the targets
MYPY_PYTHONS ?= 3.8 3.13
IMAGE_ARGS ?=
PYTEST_ARGS ?= -q

SHELL_SCRIPTS := $(wildcard files/*.sh) $(wildcard tools/*.sh) \
	$(wildcard roles/*/molecule/*/*.sh) $(wildcard tests/stock_debian/*.sh) .ci/run

# the test environment: real interpreters, the podman wrapper and terok-test-env, .venv;
# podman's test-only settings; terok.lifecycle resolved to this tree for plain ansible
export PATH := $(CURDIR)/.cache/testbin:$(CURDIR)/.cache/pybin:$(CURDIR)/.venv/bin:$(PATH)
export CONTAINERS_CONF := $(CURDIR)/tools/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections

.PHONY: help bootstrap sanity units sanity-matrix units-matrix integration init-script-tests reliability molecule lint test bench demo demo-cleanup image docs docs-lint \
	clean distclean clean-image

help:
	@echo 'make bootstrap          apt packages, .venv, .venv-terok, interpreter links, get-pip stand-in'
	@echo 'make lint               ansible-lint (production profile) + shellcheck + reuse lint + mypy on Python $$MYPY_PYTHONS (3.8 and 3.13)'
	@echo 'make sanity             ansible-test sanity --venv (compile/import on Python 3.8-3.13)'
	@echo 'make units              ansible-test units --venv --python $$UNITS_PYTHON (3.11; all = 3.8-3.13)'
	@echo 'make sanity-matrix      sanity on ansible-core 2.17-2.22: all tests on its newest Python here, compile/import/pylint on its oldest (SANITY_MATRIX=edges|full)'
	@echo 'make units-matrix       units on every ansible-core 2.17-2.22 x its controller Pythons here (UNITS_MATRIX=edges)'
	@echo 'make image              build localhost/terok-task{,-dev}:latest when missing or stale, -dev for terok-test too'
	@echo 'make init-script-tests  pytest tests/init_script'
	@echo 'make reliability        concurrency, kill -9, full disk, hostile input, permissions, podman faults'
	@echo 'make molecule           molecule scenarios of roles terok_host and terok_tasks (tools/run-molecule.sh)'
	@echo 'make integration        ansible-test integration --venv --python $$INTEGRATION_PYTHON (3.11)'
	@echo 'make ee                 an execution environment with the collection (ansible-builder, localhost/terok-ee), ansible-runner jobs in it over SSH'
	@echo 'make test               all of the above in order, stopping at the first failure'
	@echo 'make bench              benchmarks: one table, written to bench/results/ (not a test)'
	@echo 'make bench-fleet        only the fleet rows of make bench (playbooks on 1-16 loopback SSH hosts)'
	@echo 'make docs-lint          antsibull-docs lint-collection-docs --plugin-docs (docs/docsite and every module/role doc); changelogs/ and CHANGELOG.rst'
	@echo 'make changelog          antsibull-changelog release of galaxy.yml'"'"'s version: fragments into changelogs/changelog.yaml, CHANGELOG.rst again'
	@echo 'make docs               HTML docs (modules, roles, guides) with antsibull-docs into .cache/docs/html'
	@echo 'make demo               the main job: prepare localhost, create and start tasks, show their status'
	@echo 'make demo-cleanup       archive the demo'"'"'s finished tasks (ARGS='"'"'--check --diff'"'"' to preview)'
	@echo 'make stock-debian       make demo (and again, and demo-cleanup) in a container of a plain Debian 12 with Debian'"'"'s Python only'
	@echo 'make clean              test results and caches (make distclean: also the venvs)'

bootstrap:
	tools/bootstrap.sh $(BOOTSTRAP_ARGS)

sanity: bootstrap
	tools/ansible-test.sh sanity --venv $(SANITY_ARGS)

units: bootstrap
	tools/ansible-test.sh units --venv $(if $(filter all,$(UNITS_PYTHON)),,--python $(UNITS_PYTHON)) $(UNITS_ARGS)

# the ansible-core x Python matrix (tools/lib.sh MATRIX_CORES; .venv-core-2.X from bootstrap),
# --python per cell; its 2.19 x 3.11 cell is `make sanity` / `make units`
sanity-matrix: bootstrap
	TEROK_MATRIX=$(SANITY_MATRIX) tools/ansible-test.sh --matrix sanity --venv $(SANITY_ARGS)

units-matrix: bootstrap
	TEROK_MATRIX=$(UNITS_MATRIX) tools/ansible-test.sh --matrix units --venv $(UNITS_ARGS)

integration: bootstrap image
	tools/ansible-test.sh integration --venv --python $(INTEGRATION_PYTHON) $(INTEGRATION_ARGS)

init-script-tests: bootstrap image
	tools/pytest.sh $(PYTEST_ARGS) tests/init_script

reliability: bootstrap image
	tools/pytest.sh $(PYTEST_ARGS) tests/reliability

lint: bootstrap
	@rc=0; \
	echo '--- ansible-lint'; env -u ANSIBLE_COLLECTIONS_PATH ANSIBLE_HOME=$(CURDIR)/.cache/ansible-lint-home \
		ansible-lint $$([ -t 1 ] || echo --nocolor) || rc=1; \
	echo '--- shellcheck $(SHELL_SCRIPTS)'; shellcheck -x $(SHELL_SCRIPTS) || rc=1; \
	echo '--- reuse lint (REUSE.toml)'; reuse lint || rc=1; \
	tools/mypy.sh $(MYPY_PYTHONS) || rc=1; \
	exit $$rc

molecule: bootstrap image
	tools/run-molecule.sh

# the collection in an Ansible execution environment, as AWX runs it (tools/ee-test.sh, tests/ee);
# caches in .cache/ee and the images localhost/terok-ee-base and localhost/terok-ee
.PHONY: ee
ee: bootstrap
	tools/ee-test.sh $(EE_ARGS)

image: bootstrap
	tools/build-image.sh $(IMAGE_ARGS)
	tools/rootless-image.sh

test:
	tools/test-all.sh

bench: bootstrap image
	.venv/bin/python bench/run.py $(BENCH_ARGS)

# rows 9 of make bench alone (bench/fleet.py), into bench/results/bench-fleet.md
.PHONY: bench-fleet
bench-fleet: bootstrap image
	.venv/bin/python bench/run.py --parts fleet $(BENCH_ARGS)

docs: bootstrap
	tools/build-docs.sh

docs-lint: bootstrap
	tools/docs-lint.sh

# antsibull-changelog release of galaxy.yml's version (today's date, unless that release is in
# changelogs/changelog.yaml already: an unpublished release takes in the new fragments and keeps
# its date); removes the fragments it took (keep_fragments: false) and writes CHANGELOG.rst
.PHONY: changelog
changelog: bootstrap
	antsibull-changelog release

demo:
	tools/demo.sh

demo-cleanup:
	tools/demo.sh cleanup $(ARGS)

# make demo on a stock Debian 12 (debootstrap minbase, no Python but Debian's) in a podman
# container; caches in .cache/stock-debian (tools/stock-debian-test.sh, tests/stock_debian)
.PHONY: stock-debian
stock-debian: bootstrap
	tools/stock-debian-test.sh $(STOCK_DEBIAN_ARGS)

clean:
	. tools/lib.sh && rm -rf tests/output .pytest_cache "$$ANSIBLE_TEST_ROOT"
	find . \( -path ./.venv -o -path ./.venv-terok -o -path ./.git \) -prune -o \
		-name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv .venv-core-* .venv-terok .venv-demo .venv*.skipped .cache .ansible

clean-image:
	-podman rmi -f localhost/terok-task:latest localhost/terok-task-dev:latest localhost/terok-task-base:latest
