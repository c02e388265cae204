# The two commands that do everything on a fresh Debian machine with the Swift toolchain:
#   make bench   installs what is missing, builds release, runs the benchmark suite
#   make test    installs what is missing, runs the test suite
SWIFT ?= swift
# Debian packages the build and tests need. Checked with dpkg; installed only when missing.
APT_PACKAGES := liburing-dev pkg-config
# The real hashicorp/yamux peer for interop tests and `bench --peer go` (Debian's 2019 snapshot).
TEST_APT_PACKAGES := golang-go golang-github-hashicorp-yamux-dev
GO_PEER := .build/go/goyamux-peer
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_SCENARIOS ?= raw throughput rtt churn rpc isolation fds

.PHONY: all deps test-deps python-deps apt-install go-peer build lint format test bench clean

all: build

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps: python-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES) $(TEST_APT_PACKAGES)"

# Python's msgpack, the reference implementation the MessagePack tests check Tether against.
# pip first (the python3 on PATH is the one the tests run); Debian's package if pip refuses
# (an externally managed system Python).
python-deps:
	@python3 -c 'import msgpack' 2>/dev/null || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet msgpack \
		|| $(MAKE) --no-print-directory apt-install PACKAGES="python3-msgpack"

apt-install:
	@missing=""; \
	for package in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make: installing$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# The committed .swift-format, checked (lint, warnings are errors) or applied (format).
SWIFT_FORMAT_PATHS := Sources Tests Benchmarks Examples Package.swift
lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_FORMAT_PATHS)

format:
	$(SWIFT) format format --in-place --recursive $(SWIFT_FORMAT_PATHS)

# Tests run on the real kernel (io_uring, sockets, child processes); see docs/architecture.md.
# --no-parallel: the leak tests count process-wide fds and children, which other tests would move.
test: test-deps go-peer
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

# Release build of the bench product only (it does not need the macro toolchain), then each
# scenario. BENCH_SCENARIOS picks scenarios (default: all); BENCH_ARGS adds options to each.
bench: deps
	$(SWIFT) build -c release --product bench
	@for scenario in $(BENCH_SCENARIOS); do \
		$$($(SWIFT) build -c release --show-bin-path)/bench $$scenario $(BENCH_ARGS) || exit 1; \
	done

# GOPATH mode against Debian's packaged library: no module download.
go-peer: test-deps
	@mkdir -p $(dir $(GO_PEER))
	cd Benchmarks/peers/goyamux && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$(CURDIR)/.build/go/cache \
		go build -o $(CURDIR)/$(GO_PEER) .

clean:
	rm -rf .build
