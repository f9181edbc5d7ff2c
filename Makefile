# Every target is listed by `make help`. The two that matter most are in the
# README: `make dev` (the gateway on this machine) and `make test`.

SHELL := /bin/bash
GO ?= go
PORT ?= 8080
DYNAMODB_PORT ?= 8000
FUNCTIONS := authorizer proxy management detector
# Flags of the deployed Lambda binaries (see template.yaml).
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
INFRA_STAMP := infra/node_modules/.installed-from-lock
# The Anthropic and OpenAI Node SDKs the tests run against the local stack
# (internal/testing/nodesdk); only make test needs them, so make dev does not.
NODESDK_DIR := internal/testing/nodesdk
NODESDK_STAMP := $(NODESDK_DIR)/node_modules/.installed-from-lock

# The dashboard (web/): uPlot from npm, pinned by web/package-lock.json,
# bundled by esbuild's Go API (cmd/dashbuild) into the folder
# pkg/handler/dashboard embeds. Every target that builds or tests the
# management function makes it first; go build and go vet on a fresh clone
# still compile (the page then answers 503, "not built").
WEB_STAMP := web/node_modules/.installed-from-lock
DASHBOARD := pkg/handler/dashboard/dist/index.html
DASHBOARD_SOURCES := $(wildcard web/src/*) cmd/dashbuild/main.go

# The AWS SAM translator and cfn-lint check template.yaml as sam deploy
# would (make test, make lint). Our machine image has them; elsewhere they
# are installed, pinned by infra/requirements.txt, into infra/.venv.
PYTHON ?= python3
SAM_TOOLS ?= $(shell $(PYTHON) -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("samtranslator") and u.find_spec("cfnlint")))' 2>/dev/null && echo system || echo venv)
ifeq ($(SAM_TOOLS),venv)
PYTHON_STAMP := infra/.venv/.installed-from-requirements
export PATH := $(CURDIR)/infra/.venv/bin:$(PATH)
endif

.DEFAULT_GOAL := help

.PHONY: help
help: ## list every target with one line each
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_ -]+:.*?## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INFRA_STAMP): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(NODESDK_STAMP): $(NODESDK_DIR)/package.json $(NODESDK_DIR)/package-lock.json
	cd $(NODESDK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(DASHBOARD): $(WEB_STAMP) $(DASHBOARD_SOURCES)
	$(GO) run ./cmd/dashbuild

.PHONY: dashboard
dashboard: $(DASHBOARD) ## bundle the dashboard (web/) into pkg/handler/dashboard/dist, which the management function embeds

# The dashboard's browser tests drive Debian's chromium. Installed where
# missing (CI has only what the project installs); where there is no
# apt-get, the tests skip outside CI and fail in it (CI=true).
.PHONY: chromium
chromium: ## install Debian's chromium for the dashboard's browser tests, where missing
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
		{ $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	else echo "no chromium and no apt-get: the dashboard's browser tests will skip (and fail under CI=true)" >&2; fi

infra/.venv/.installed-from-requirements: infra/requirements.txt
	$(PYTHON) -m venv infra/.venv
	infra/.venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt || \
		{ echo "could not install the SAM translator and cfn-lint (infra/requirements.txt) into infra/.venv" >&2; exit 1; }
	touch $@

# The local stack needs only Go modules and dynalite. The SAM translator
# and cfn-lint check the template (make test, make lint) and are installed
# only for those, so make dev works on a machine without PyPI.
.PHONY: deps
deps: $(INFRA_STAMP) $(NODESDK_STAMP) $(PYTHON_STAMP) ## install every dependency: Go modules, dynalite and the Node SDKs under test (npm ci), SAM translator and cfn-lint where missing
	$(GO) mod download

.PHONY: dev-deps
dev-deps: $(INFRA_STAMP) ## install what make dev needs: Go modules and dynalite (npm ci)
	$(GO) mod download

.PHONY: dev
dev: dev-deps $(DASHBOARD) ## run the whole gateway locally on 127.0.0.1:PORT (Ctrl-C stops everything)
	$(GO) build -o bin/aistats ./cmd/aistats
	exec bin/aistats dev --port $(PORT) --dynamodb-port $(DYNAMODB_PORT)

.PHONY: test
test: deps $(DASHBOARD) chromium ## run unit and dynalite-backed integration tests, fuzz seed corpora included
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# The local stack and the CLI are used on macOS and Windows too; CI checks
# that everything, tests included, compiles there (go vet type-checks tests).
CROSS_TARGETS := darwin/arm64 windows/amd64

.PHONY: cross
cross: ## check that every package and test compiles for darwin/arm64 and windows/amd64
	@for t in $(CROSS_TARGETS); do \
		echo "vet for $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; \
	done

.PHONY: build
build: $(DASHBOARD) ## build the Lambda bootstrap binaries for arm64 under bin/<function>/
	@for f in $(FUNCTIONS); do \
		echo "build $$f"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	done

# sam build calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).
.PHONY: build-AuthorizerFunction build-ProxyFunction build-ManagementFunction build-DetectorFunction
build-AuthorizerFunction build-ProxyFunction build-ManagementFunction build-DetectorFunction: $(DASHBOARD) ## sam build: one function's arm64 bootstrap into ARTIFACTS_DIR
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap \
		./functions/$(shell echo $(patsubst build-%Function,%,$@) | tr A-Z a-z)

.PHONY: bench
bench: deps $(DASHBOARD) chromium ## measure docs/architecture.md §11 figures (table + bench.json) after every Go benchmark (bench.out)
	$(GO) test -run='^$$' -bench=. -benchmem -count=5 ./... | tee bench.out
	$(GO) run ./cmd/benchreport -json bench.json

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 60s)
	@for target in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for fn in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$target/*_test.go | sed 's/func //'); do \
			echo "fuzz $$target $$fn"; \
			$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$${FUZZTIME:-60s} $$target || exit 1; \
		done; \
	done

.PHONY: lint
lint: $(PYTHON_STAMP) ## gofmt, go vet, and cfn-lint on template.yaml
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml

.PHONY: clean
clean: ## remove build output, the local stack's data (.dev/) and infra/.venv
	rm -rf bin .dev bench.out bench.json infra/.venv
	find pkg/handler/dashboard/dist -type f ! -name .keep -delete
