# Build and test ctr. Every target is one line that .ci/run can call too.
GO        ?= go
BUILDTAGS ?= exclude_graphdriver_btrfs,containers_image_openpgp
GOFLAGS_BUILD = -tags $(BUILDTAGS)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   = -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
TOOLS     = $(GO) tool -modfile=tools/go.mod
export CTR_BUILDTAGS = $(BUILDTAGS)

.PHONY: all build test test-unit test-integration test-e2e check lint docs verify demo bench clean

all: build

# ctr and, next to it, the container monitor it starts (ctr-monitor).
build:
	$(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o bin/ ./cmd/ctr ./cmd/ctr-monitor

# Unit tests: any machine, any user, no network.
test-unit:
	$(GO) test $(GOFLAGS_BUILD) -race -short -count=1 ./...

# Integration tests need user namespaces; as root they re-run as the test user.
test-integration:
	$(GO) test $(GOFLAGS_BUILD) -count=1 -run Integration ./pkg/... ./cmd/...

# End-to-end tests drive the built binary as the unprivileged test user.
test-e2e:
	$(GO) test $(GOFLAGS_BUILD) -count=1 -timeout 20m ./test/e2e/...

# The whole suite (what CI runs).
test: test-unit test-integration test-e2e

check: lint verify test

# Vetted with ctr's build tags and without: plain `go vet ./...` and
# `go build ./...` (editors, gopls, a newcomer) also build storage's btrfs
# driver, which needs libbtrfs-dev's headers.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(GOFLAGS_BUILD) ./...
	GOFLAGS= $(GO) vet ./...

docs:
	$(GO) test $(GOFLAGS_BUILD) -count=1 -run TestDocsUpToDate ./cmd/ctr -update

verify:
	$(GO) test $(GOFLAGS_BUILD) -count=1 -run TestDocsUpToDate ./cmd/ctr
	$(GO) mod tidy -diff

clean:
	rm -rf bin

# Build ctr and make a busybox image from busybox-static, offline.
demo:
	bash hack/demo.sh
