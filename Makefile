# keikolatam.gitops — developer and CI entry points.
#   make sandbox       the main job: start the sandbox and provision it with site.yml
#   make test          the whole test command (what CI runs)
#   make sandbox-up    start the OVH API emulator (and the local Kubernetes control plane)
#   make sandbox-down  stop everything sandbox-up started
#   make bench         the benchmarks (not part of make test): benchmarks/results/bench.{json,md}
#   make ee            the execution environment's build context, tests/output/ee/context (no image is built)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export KEIKO_CACHE_DIR ?= $(HOME)/.cache/keikolatam-gitops
export KEIKO_UPSTREAM_MIRROR ?= $(abspath ../shared/upstream)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

STAMP := $(VENV)/.installed-$(shell cat requirements.txt tests/requirements.txt sandbox/pyproject.toml | sha256sum | cut -c1-16)

.PHONY: help venv collection kube-binaries argocd-binaries actionlint-binary actionlint lint yamllint ansible-lint sanity \
        unit integration integration-targets quality test build sandbox sandbox-up sandbox-down bench ee

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

$(STAMP): requirements.txt tests/requirements.txt sandbox/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r tests/requirements.txt
	$(BIN)/pip install -q -e sandbox --config-settings editable_mode=compat
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The checkout as ansible_collections/keikolatam/gitops, for FQCNs from the checkout.
collection:
	@mkdir -p .collections/ansible_collections/keikolatam
	@test -L .collections/ansible_collections/keikolatam/gitops || \
	  ln -sfn $(CURDIR) .collections/ansible_collections/keikolatam/gitops

yamllint: venv
	$(BIN)/yamllint --strict .

ansible-lint: venv collection
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint --profile production --strict

# actionlint (the services' CI template, extensions/ci/github/): built from the Go module proxy into the cache,
# keyed by version (hack/actionlint.sh), when absent.
actionlint-binary:
	hack/actionlint.sh build

actionlint: actionlint-binary
	hack/actionlint.sh -no-color extensions/ci/github/*.yml

lint: yamllint ansible-lint actionlint

# The quality gates of make test: the linters and ansible-test sanity side by side (neither fills both cores), each
# one's output printed whole when it ends.
quality: venv collection actionlint-binary
	$(MAKE) --no-print-directory -j2 --output-sync=target lint sanity

sanity: venv
	hack/sanity.sh

build: venv
	rm -f keikolatam-gitops-*.tar.gz
	$(BIN)/ansible-galaxy collection build --force .

# The execution environment's build context (execution-environment.yml, with the tarball `build` made): a container
# engine builds the image from it (podman build tests/output/ee/context).
EE_CONTEXT ?= tests/output/ee/context
ee: build
	rm -rf $(EE_CONTEXT)
	$(BIN)/ansible-builder create --file execution-environment.yml --context $(EE_CONTEXT) --output-filename Containerfile

# The local Kubernetes binaries (cached outside the checkout; built from the Go module proxy when absent).
kube-binaries: venv
	$(BIN)/localkube build

# The Argo CD binaries (argocd, kustomize) of the sandbox: cached the same way, keyed by version.
argocd-binaries: venv
	$(BIN)/localargo build

unit: venv collection actionlint-binary
	$(BIN)/python -m pytest --rootdir=$(CURDIR) tests/unit sandbox/tests/emulator

integration: venv collection kube-binaries argocd-binaries
	$(BIN)/python -m pytest --rootdir=$(CURDIR) tests/integration tests/e2e sandbox/tests/controlplane sandbox/tests/localargo sandbox/tests/gitserver

# The integration targets under `ansible-test integration`, on one OVH API emulator (TARGETS="a b": some of them;
# make test runs each target with ansible-playbook instead, for the modules' coverage: tests/integration/test_targets.py).
TARGETS ?=
integration-targets: venv collection
	$(BIN)/python tests/integration/integration_targets.py $(TARGETS)

# The test command (README, .ci/run): quality gates first, then every test with branch coverage; each test's time in
# tests/output/junit.xml (where CI's minutes go).
COVERAGE_DIR := $(CURDIR)/tests/output/coverage
# Two workers (one per core); tests are spread one by one, but for the ordered or control-plane directories
# that tests/conftest.py (SERIAL_DIRS) keeps on one worker, in order.
PYTEST_WORKERS ?= 2
test: venv collection kube-binaries argocd-binaries actionlint-binary quality
	@rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)
	@set +e; \
	_ANSIBLE_ANSIBALLZ_COVERAGE_CONFIG='{"config": "$(CURDIR)/.coveragerc", "output": "$(COVERAGE_DIR)/modules"}' \
	COVERAGE_FILE=$(COVERAGE_DIR)/combined $(BIN)/python -m pytest --rootdir=$(CURDIR) -n $(PYTEST_WORKERS) --dist loadgroup --durations=40 \
	  --junitxml=$(CURDIR)/tests/output/junit.xml \
	  --cov --cov-config=.coveragerc --cov-report= tests sandbox/tests; rc=$$?; \
	COVERAGE_FILE=$(COVERAGE_DIR)/combined $(BIN)/coverage combine --append --rcfile=.coveragerc -q $(COVERAGE_DIR)/modules*; \
	COVERAGE_FILE=$(COVERAGE_DIR)/combined $(BIN)/coverage report --rcfile=.coveragerc; \
	exit $$rc

sandbox: venv collection kube-binaries argocd-binaries
	hack/sandbox-main.sh

# The benchmarks, each figure a ratio against a baseline of the same run (BENCH="--only growth --sizes 7,70": a part).
BENCH ?=
bench: venv collection kube-binaries argocd-binaries
	$(BIN)/python benchmarks/bench.py $(BENCH)

sandbox-up: venv
	$(BIN)/keiko-sandbox up --dir .sandbox

sandbox-down:
	@if [ -x $(BIN)/python ]; then $(BIN)/keiko-sandbox down --dir .sandbox; fi
