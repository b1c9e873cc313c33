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

# Packages without the end-to-end suite.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /e2e)
# How long each fuzz target runs in `make test`.
FUZZTIME ?= 10s

.PHONY: all build test unit e2e fuzz testenv deps lint demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ferry

## test: everything CI runs: unit tests, bounded fuzzing, end-to-end tests.
test: deps testenv unit fuzz e2e

deps:
	hack/install-deps.sh

## testenv: build (or find cached) etcd, kube-apiserver, controller-manager, scheduler, kwok.
testenv:
	@hack/build-testenv.sh >/dev/null

unit: testenv
	FERRY_TESTENV_BIN="$$(hack/build-testenv.sh)" $(GO) test -count=1 -timeout 20m $(UNIT_PKGS)

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

## image: build the container image without a docker daemon (hack/image) for
## linux/$(GOARCH) (IMAGE_ARCH=arm64 for another), and push it to $(IMAGE) —
## any registry, e.g. IMAGE=127.0.0.1:5000/ferry:dev — or, with IMAGE unset,
## write it to dist/image as an OCI image layout.
IMAGE ?=
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
.PHONY: image
image:
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/ferry_linux_$(IMAGE_ARCH) ./cmd/ferry
	rm -rf dist/image
	$(GO) run ./hack/image -binary linux/$(IMAGE_ARCH)=dist/ferry_linux_$(IMAGE_ARCH) -version $(VERSION) \
		$(if $(IMAGE),-tag $(IMAGE),-oci-layout dist/image)

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
