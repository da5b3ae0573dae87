# One entry point for people and CI. `make install` builds .venv/ from nothing; `make test` runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NCA_VENV := $(VENV)/nca
ACTIONLINT_VERSION := v1.7.12
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
PORT ?= 4000

.PHONY: install proxy login setup-token test test-unit test-integration lint format bench bench-soak bench-operator bench-idle
.PHONY: cluster cluster-down test-e2e crds demo demo-down constraints images test-images

install: $(BIN)/.installed $(NCA_VENV)/.installed

$(BIN)/.installed: provider/pyproject.toml operator/pyproject.toml devkit/pyproject.toml tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e './provider[proxy]' -e ./operator -e ./devkit -r tests/requirements.txt
	touch $@

# np-guard's NetworkPolicy analyzer (nothing enforces NetworkPolicy on the test cluster; the tests ask
# it which traffic the rendered policy admits). Its own venv: it pins PyYAML, lxml, networkx exactly.
$(NCA_VENV)/.installed: devkit/requirements-nca.txt
	$(PYTHON) -m venv $(NCA_VENV)
	$(NCA_VENV)/bin/pip install --quiet -r devkit/requirements-nca.txt
	touch $@

# Local use without Kubernetes: LiteLLM's proxy serving this machine's own Claude Code login on
# 127.0.0.1. Without LITELLM_MASTER_KEY it makes one (kept in .venv/, readable by its owner only) and prints it.
# It needs .venv/ only, not the test tools' NetworkPolicy analyzer.
proxy: $(BIN)/.installed
	@key="$${LITELLM_MASTER_KEY:-}"; \
	if [ -z "$$key" ]; then \
	  [ -s $(VENV)/litellm-master-key ] || (umask 077 && echo "sk-$$(openssl rand -hex 24)" > $(VENV)/litellm-master-key); \
	  chmod 600 $(VENV)/litellm-master-key; \
	  key=$$(cat $(VENV)/litellm-master-key); \
	  echo "OpenAI base URL http://127.0.0.1:$(PORT)/v1, API key $$key"; \
	fi; \
	LITELLM_MASTER_KEY="$$key" LITELLM_LOCAL_MODEL_COST_MAP=True \
	  exec $(BIN)/litellm --config examples/litellm-config.yaml --host 127.0.0.1 --port $(PORT)

# This machine's Claude Code login, with the CLI bundled in the provider (nothing else to install), in
# its config directory (CLAUDE_CONFIG_DIR, else ~/.claude): the one `make proxy` serves. `make setup-token`
# prints a one-year token instead (`export CLAUDE_CODE_OAUTH_TOKEN=...` before `make proxy`).
login: $(BIN)/.installed
	$(BIN)/claude auth login

setup-token: $(BIN)/.installed
	$(BIN)/claude setup-token

# The whole system on this machine: control plane, chart, operator, one provider, one completion.
# Offline (DEMO_OFFLINE=1, or no Claude Code login here) a fake Anthropic API on 127.0.0.1 answers. The
# provider pod's containers run from the images (`make images`; POD_IMAGES=0: from .venv/bin).
demo: install images
	@$(BIN)/python -m claude_code_devkit.demo up

# Stops everything `make demo` started (and the control plane, if it started it); safe to repeat.
demo-down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m claude_code_devkit.demo down; else echo "make demo-down: no .venv, nothing to stop"; fi

# Every tier, the images' included: `make images` first (its layer cache makes an unchanged rebuild
# about 30 s), so the image checks never look at an image older than the source. The e2e tier (mostly
# waiting) runs beside the others (mostly CPU): tests/tiers.sh.
test: install images
	@BIN=$(BIN) tests/tiers.sh

test-unit: install
	$(BIN)/pytest -m unit

test-integration: install
	$(BIN)/pytest -m integration

# actionlint (the release workflow's checker) is a Go module, built into .venv/bin at a pinned version
# (the stamp's name carries it: a bump rebuilds).
$(BIN)/.actionlint-$(ACTIONLINT_VERSION): $(BIN)/.installed
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch $@

lint: install $(BIN)/.actionlint-$(ACTIONLINT_VERSION)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint provider/Dockerfile
	$(BIN)/hadolint operator/Dockerfile
	$(BIN)/actionlint

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# A real Kubernetes control plane (kube-apiserver, controller manager, scheduler, etcd, kwok's fake
# kubelets) on 127.0.0.1, built from pinned Go modules into ${CLUSTER_CACHE:-$HOME/.cache/claude-code-operator}.
# The first run builds for about 9 minutes; later runs start in seconds, or do nothing when it is up.
cluster:
	@devkit/cluster/cluster.sh up

cluster-down:
	@devkit/cluster/cluster.sh down

# The e2e tier alone; it starts the cluster itself when none answers (E2E_KUBECONFIG=... uses another).
# It builds the images first (cached layers): tests/e2e/test_podrunner_images.py runs a pod from them.
test-e2e: install images
	$(BIN)/pytest -m e2e

# The chain's latency and throughput against a fake upstream on 127.0.0.1 (a Markdown report);
# `make bench-soak` adds 1,000 sequential and 200 concurrent requests.
bench: install
	$(BIN)/python -m tests.bench.chain

bench-soak: install
	$(BIN)/python -m tests.bench.chain --soak

# An idle provider pod's memory (both containers, every process) before and after the pool's idle release,
# and the first request's added latency after it (a Markdown report; about 3 minutes).
bench-idle: install
	$(BIN)/python -m tests.bench.idle

# The operator at scale on the local control plane: 200 resources at once, RSS at 1,000, steady-state
# writes, against a bare kopf operator measured the same way (a Markdown report; about 10 minutes).
bench-operator: install
	$(BIN)/python -m tests.bench.operator

# The CRD is generated from the operator's pydantic models, as a plain file and as the chart's template
# (Helm upgrades templates, never a chart's crds/ folder); tests/unit/test_operator_crd.py fails when they differ.
crds: install
	$(BIN)/python -m claude_code_operator.api.crd crds/claudecodeproviders.claudecode.dev.yaml \
	  --chart-template charts/claude-code-operator/templates/crd-claudecodeproviders.yaml

# The images' dependency pins (operator/Dockerfile, provider/Dockerfile): exactly the versions of .venv/,
# where the test suite passed. Re-run after changing a pyproject.toml and `make install`.
constraints: install
	@{ echo "# Generated by \`make constraints\` from .venv/ (pip freeze): the images install exactly these versions."; \
	  $(BIN)/pip freeze --exclude-editable | LC_ALL=C sort -f; } > constraints.txt

# Both images (operator/Dockerfile, provider/Dockerfile) with buildah: no daemon, no registry (installs
# buildah where missing; builds a debootstrap stand-in for the base image when it is absent). Tagged
# with the chart's appVersion; prints each image's build time and size. IMAGES_CACHE=0: a cold build.
images:
	@images/build.sh

# The images from the inside (tests/images/): uid 10001, no pip, nothing secret, the labels, the bundled
# CLI and the operator's CLI run, a completion through the provider pod's two containers; and the pinned
# claude-agent-sdk's arm64 wheel. Builds the images first (cached layers), as `make test` does.
test-images: install images
	$(BIN)/pytest tests/images
