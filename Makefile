# ferry — see README.md. `make test` works on a fresh machine with Go, make
# and git: it builds the test control planes (once; cached outside the
# repository) and runs the unit and end-to-end tests.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/ferry

# Pinned tools, built from the Go module proxy into a cache keyed by version.
GOLANGCI_LINT_VERSION := v2.15.0
TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ferry/tools
GOLANGCI_LINT := $(TOOLS_CACHE)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS_CACHE)/actionlint-$(ACTIONLINT_VERSION)/actionlint

# Packages without the end-to-end suite and the release check.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -e /e2e -e /hack/release/check)
# How long each fuzz target runs in `make test`.
FUZZTIME ?= 10s

.PHONY: all build test unit e2e fuzz testenv deps lint demo clean release-check release-tools

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ferry

## test: everything CI runs: unit tests, bounded fuzzing, end-to-end tests,
## and the local proof of a release.
test: deps testenv unit fuzz e2e release-check

## deps: what the tests need beyond Go (git, shellcheck, GNU time, node and
## CircleCI's config parser for the orb checks).
deps:
	hack/install-deps.sh

## testenv: build (or find cached) etcd, kube-apiserver, controller-manager, scheduler, kwok,
## and Argo Rollouts' controller (hack/tools/argo-rollouts; the Rollout tests start it).
testenv:
	@hack/build-testenv.sh >/dev/null
	@hack/build-tool.sh argo-rollouts >/dev/null

unit: testenv
	FERRY_TESTENV_BIN="$$(hack/build-testenv.sh)" $(GO) test -count=1 -timeout 20m $(UNIT_PKGS)

# E2E_KILL_RUNS sets how many random kills each crash test makes (20 when unset).
e2e: testenv
	FERRY_TESTENV_BIN="$$(hack/build-testenv.sh)" $(GO) test -count=1 -timeout 40m -v ./e2e/... 2>&1 | hack/test-summary.sh

fuzz:
	hack/fuzz.sh $(FUZZTIME)

lint: $(GOLANGCI_LINT) $(ACTIONLINT)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	$(ACTIONLINT) -no-color

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(ACTIONLINT):
	GOBIN=$(dir $@) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

## release-tools: build (or find cached) the pinned release tools: goreleaser,
## ko, cosign, cyclonedx-gomod (hack/tools, hack/build-tool.sh).
RELEASE_TOOLS := goreleaser ko cosign cyclonedx-gomod
release-tools:
	@for t in $(RELEASE_TOOLS); do hack/build-tool.sh $$t >/dev/null || exit 1; done

## release-check: prove a release here, without GitHub, ghcr.io or a docker
## daemon (hack/release/check): goreleaser check and a snapshot release in
## dist/, the images built twice with ko into a registry on loopback and run
## from their layers, cosign signatures made with a throwaway key, verified,
## and refused when tampered with, the SBOMs held to go.mod, the release's
## action.yml and orb pinned by digest and linted.
release-check: release-tools $(ACTIONLINT)
	GORELEASER="$$(hack/build-tool.sh goreleaser)" KO="$$(hack/build-tool.sh ko)" \
	COSIGN="$$(hack/build-tool.sh cosign)" CYCLONEDX_GOMOD="$$(hack/build-tool.sh cyclonedx-gomod)" \
	ACTIONLINT=$(ACTIONLINT) $(GO) test -count=1 -timeout 40m -v ./hack/release/check/ 2>&1 | hack/test-summary.sh release-check

## image: build ferry's two images with ko (hack/release/images.sh; no docker
## daemon) and push them to $(IMAGE_REPO), e.g. IMAGE_REPO=127.0.0.1:5000/ferry:
## $(IMAGE_REPO):$(VERSION) (for the GitHub Action) and :$(VERSION)-shell (for
## the orb), both for linux/amd64 and linux/arm64. VERSION must be v1.2.3 or
## v1.2.3-rc.1 here.
IMAGE_REPO ?=
.PHONY: image
image:
	@test -n "$(IMAGE_REPO)" || { echo "make image: set IMAGE_REPO to a repository to push to, e.g. IMAGE_REPO=127.0.0.1:5000/ferry"; exit 2; }
	KO_DOCKER_REPO=$(IMAGE_REPO) hack/release/images.sh $(VERSION)

demo: build testenv
	FERRY_TESTENV_BIN="$$(hack/build-testenv.sh)" $(GO) run ./internal/testenv/cmd/demo -ferry $(BIN)

clean:
	rm -rf bin dist

## bench: measure ferry side by side with crane, skopeo and kubectl, on
## loopback, and write bench/results.md and bench/results.json (bench/run.sh
## installs what it compares with: Debian's docker-registry, skopeo and
## hyperfine, crane and kubectl from the Go module proxy). About 15 minutes;
## not part of `make test`. BENCH_ARGS passes flags to the harness, e.g.
## BENCH_ARGS='-layer-mib 8 -runs 2 -scenarios copy' for a quick look.
.PHONY: bench
bench: build testenv
	FERRY_TESTENV_BIN="$$(hack/build-testenv.sh)" bench/run.sh
