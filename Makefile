# kubeask — see README.md. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

K8S_VERSION ?= v1.37.2
BIN         := $(CURDIR)/bin
K8S_BIN     := $(BIN)/k8s/$(K8S_VERSION)
CONTROLLER_GEN := $(BIN)/controller-gen
GOLANGCI_LINT  := $(BIN)/golangci-lint
HELM           := $(BIN)/helm
KUSTOMIZE      := $(BIN)/kustomize

# Tests and `make dev` use the control plane built by hack/build-controlplane.sh.
export KUBEBUILDER_ASSETS := $(K8S_BIN)
export KUBEASK_HELM := $(HELM)
export KUBEASK_KUSTOMIZE := $(KUSTOMIZE)

GO_TEST_FLAGS ?= -race -count=1 -timeout=30m

# The release's version (docs/releasing.md), stamped into both binaries at link time.
VERSION := $(shell cat $(CURDIR)/VERSION)
VERSION_LDFLAGS := -X github.com/kubeask/kubeask/internal/version.Version=$(VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate manifests
generate manifests: $(CONTROLLER_GEN) ## Generate deepcopy code, CRDs and RBAC from markers; copy them into the chart.
	CONTROLLER_GEN=$(CONTROLLER_GEN) hack/generate.sh

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with the linters listed in .golangci.yml, and check go.mod is tidy.
	$(GOLANGCI_LINT) run ./...
	go mod tidy -diff

# What the binaries are built from (embedded YAML and templates included), so that make
# rebuilds them only when one of these changed; Go's build cache then recompiles only
# the changed packages. go build leaves an up-to-date binary untouched, hence the touch.
GO_SOURCES  := go.mod go.sum VERSION $(shell find api cmd internal -type f -not -name '*_test.go' -not -path '*/testdata/*' 2>/dev/null)
DEV_SOURCES := $(GO_SOURCES) $(wildcard hack/dev/*) $(shell find config -type f 2>/dev/null)

.PHONY: build
build: $(BIN)/kubeask-manager $(BIN)/kubectl-ask ## Build kubeask-manager and kubectl-ask into bin/ (only when a source changed).

$(BIN)/kubeask-manager $(BIN)/kubectl-ask &: $(GO_SOURCES)
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/ ./cmd/kubeask-manager ./cmd/kubectl-ask
	touch $(BIN)/kubeask-manager $(BIN)/kubectl-ask

$(BIN)/kubeask-dev: $(DEV_SOURCES)
	go build -o $@ ./hack/dev
	touch $@

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver, kube-controller-manager and kube-scheduler (once).
	K8S_VERSION=$(K8S_VERSION) hack/build-controlplane.sh

.PHONY: test
test: controlplane $(CONTROLLER_GEN) $(HELM) $(KUSTOMIZE) ## Run all unit and integration tests against a real API server.
	go test $(GO_TEST_FLAGS) ./...

.PHONY: screenshots
screenshots: controlplane ## Save the web UI's main pages to docs/images/ (needs chromium).
	KUBEASK_SCREENSHOTS=$(CURDIR)/docs/images KUBEASK_REQUIRE_BROWSER=1 go test -count=1 -run 'TestBrowser' ./internal/webui/

.PHONY: bench
bench: controlplane ## Run the benchmarks (ratios are printed by each benchmark).
	go test -run='^$$' -bench=. -benchmem -count=1 ./...

.PHONY: dev
dev: controlplane build $(BIN)/kubeask-dev $(HELM) ## Run a local control plane, the chart (with helm), the operator and demo users.
	$(BIN)/kubeask-dev --state-dir $(CURDIR)/.dev --bin-dir $(K8S_BIN) --manager $(BIN)/kubeask-manager --helm $(HELM) $(if $(MODEL_CONFIG),--model-config $(MODEL_CONFIG))

##@ Releases (docs/releasing.md)

DIST := $(CURDIR)/dist
# Every archive entry gets this time: the last commit's (1980-01-01, the earliest a zip
# holds, outside git), so that two builds of one commit give the same checksums.
SOURCE_DATE_EPOCH ?= $(or $(shell git log -1 --format=%ct 2>/dev/null),315532800)

.PHONY: dist
dist: $(HELM) image ## Build a release into dist/: kubectl-ask archives for 6 platforms, SHA256SUMS, the krew manifest, the chart, the image archive.
	rm -rf $(DIST)
	go run ./hack/dist --version $(VERSION) --out $(DIST) --helm $(HELM) --mtime $(SOURCE_DATE_EPOCH) \
		--image $(BIN)/image/kubeask-manager.oci.tar --require-image

##@ Image (no Docker daemon: hack/tools/image builds it from Go modules)

IMAGE_REPOSITORY ?= ghcr.io/kubeask/kubeask-manager

.PHONY: image
image: ## Build the kubeask-manager image (linux/amd64, linux/arm64) into bin/image/kubeask-manager.oci.tar and bin/image/digest.
	K8S_VERSION=$(K8S_VERSION) IMAGE_REPOSITORY=$(IMAGE_REPOSITORY) hack/tools/image/build.sh

.PHONY: image-push
image-push: ## Build the image, then push it to REGISTRY=host/repo as :$(cat VERSION), with your docker/podman login.
	@test -n "$(REGISTRY)" || { echo "usage: make image-push REGISTRY=host/repo" >&2; exit 1; }
	$(MAKE) image
	cd hack/tools/image && go run . push --archive $(BIN)/image/kubeask-manager.oci.tar --repository $(REGISTRY) --tag $$(cat $(CURDIR)/VERSION)

.PHONY: test-image
test-image: ## Test the image builder (reproducible digest, contents, push to an in-process registry).
	cd hack/tools/image && go test -count=1 ./...

##@ End to end on a real node (Linux, root; Debian's runc and iptables: see docs/e2e.md)

.PHONY: node
node: ## Build the node's kubelet, kube-proxy, containerd, CNI plugins and pause binary into bin/node (once).
	K8S_VERSION=$(K8S_VERSION) hack/build-node.sh

E2E_FLAGS ?=

.PHONY: e2e
e2e: controlplane node image $(HELM) ## Add a real node to a local control plane, helm install the chart with the image and test the product through it.
	go build -o $(BIN)/kubeask-e2e ./hack/e2e
	$(BIN)/kubeask-e2e --image $(BIN)/image/kubeask-manager.oci.tar $(E2E_FLAGS)

##@ Tools (pinned in hack/tools/go.mod)

$(CONTROLLER_GEN): hack/tools/go.mod
	cd hack/tools && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen
	touch $@

$(GOLANGCI_LINT): hack/tools/go.mod
	cd hack/tools && go build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	touch $@

$(HELM): hack/tools/go.mod
	cd hack/tools && go build -o $@ helm.sh/helm/v3/cmd/helm
	touch $@

$(KUSTOMIZE): hack/tools/go.mod
	cd hack/tools && go build -o $@ sigs.k8s.io/kustomize/kustomize/v5
	touch $@

##@ MCP clients (needs npm; not part of `make test`)

.PHONY: test-clients
test-clients: controlplane ## Drive the MCP endpoint with real MCP clients from npm (Inspector CLI, mcp-remote, conformance suite).
	cd hack/mcp-clients && npm install --no-audit --no-fund --loglevel=error
	go run ./hack/mcp-clients/driver --clients-dir $(CURDIR)/hack/mcp-clients
