# tresor: `make run` starts the appliance on a development data dir,
# `make test` runs everything CI runs.

SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
BIN        := bin/tresor
DEV_DIR    ?= $(CURDIR)/var
LISTEN     ?= 127.0.0.1:8443
GOFLAGS_TEST ?=

export CGO_ENABLED=0

.PHONY: all build run test test-short test-shipping lint fmt generate bench soak crash clean deps bench-tree

all: build

build: generate
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tresor

# generate keeps templ's generated Go in step with the .templ sources.
generate:
	@if find ui -name '*.templ' 2>/dev/null | grep -q .; then $(GO) tool templ generate -path ui >/dev/null; fi

# run starts the appliance on a development data dir under ./var with six
# plain directories standing in for disks. A fresh data dir prints the setup
# URL with its one-time token; `make dev-setup` does the setup headless.
run: build
	@mkdir -p $(DEV_DIR)/data $(DEV_DIR)/disks/{1,2,3,4,5,6}
	TRESOR_DEV_DISKS=$(DEV_DIR)/disks $(BIN) serve --data-dir $(DEV_DIR)/data --listen $(LISTEN)

# dev-setup sets up the development appliance headless (admin "admin",
# passphrase in var/admin.pass, recovery key in var/recovery.txt).
dev-setup: build
	@mkdir -p $(DEV_DIR)/data $(DEV_DIR)/disks/{1,2,3,4,5,6}
	@test -f $(DEV_DIR)/admin.pass || head -c 18 /dev/urandom | base64 > $(DEV_DIR)/admin.pass
	$(BIN) setup --data-dir $(DEV_DIR)/data $(foreach d,1 2 3 4 5 6,--disk $(DEV_DIR)/disks/$(d)) \
		--admin admin --admin-password-file $(DEV_DIR)/admin.pass --recovery-key-out $(DEV_DIR)/recovery.txt --auto-unlock

# test is what CI runs: Debian packages the tests need, lint, the race-enabled
# unit and integration tests (with the end-to-end tests of the real binary),
# then the shipping tests: the .deb/.rpm inspected and installed into a
# throwaway Debian root, and the disk image built and booted under qemu.
test: deps lint build
	CGO_ENABLED=1 $(GO) test -race -short -count=1 -timeout 25m $(GOFLAGS_TEST) ./...
	$(MAKE) test-shipping

# test-shipping needs root (mmdebstrap, chroot) and the Debian mirror.
test-shipping:
	$(MAKE) package-test
	$(MAKE) image
	$(MAKE) image-test

test-short:
	CGO_ENABLED=1 $(GO) test -short ./...

deps:
	@bash scripts/deps.sh
	@sh scripts/image/deps.sh

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@# The generated templ code is committed; it must match its sources.
	@$(GO) tool templ generate -path ui >/dev/null 2>&1
	@if ! git diff --quiet -- '*_templ.go' || [ -n "$$(git ls-files --others --exclude-standard -- '*_templ.go')" ]; then \
		echo "templ generate changed files: commit the generated code"; git status --short -- '*_templ.go'; exit 1; fi
	@$(GO) test -count=1 -run TestImportDirection ./cmd/tresor/ >/dev/null || { $(GO) test -count=1 -run TestImportDirection ./cmd/tresor/; exit 1; }

# bench measures the storage engine against the machine's own disk (dd).
bench: build
	bash scripts/bench.sh

# bench-tree builds a 1,000,000-file tenant tree on a real pool and times
# listings, a deep lookup, a folder rename, search and the tenant's cold
# open (scripts/bench-tree; BENCH_DIR chooses the file system).
bench-tree:
	$(GO) build -o bin/tresor-bench-tree ./scripts/bench-tree
	bin/tresor-bench-tree $(if $(BENCH_DIR),-dir $(BENCH_DIR))

# crash runs the storage engine's SIGKILL crash test with many rounds (make
# test runs a few), then the daemon's end-to-end crash tests (SIGKILL during
# WebDAV and upload traffic, tenant deletion, retention, disk replacement),
# which make test skips for time.
crash:
	CGO_ENABLED=1 $(GO) test -count=1 -timeout 60m -run TestCrash ./storage/pool/ -args -crash.rounds=100
	CGO_ENABLED=1 $(GO) test -count=1 -timeout 30m -run 'TestE2ECrash' ./cmd/tresor/

clean:
	rm -rf bin dist

-include packaging/packaging.mk
