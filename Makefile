# The two commands that do everything on a fresh Debian machine with the Swift toolchain:
#   make bench   installs what is missing, builds release, runs the benchmark suite
#   make test    installs what is missing, runs the test suite
SWIFT ?= swift
# Debian packages the build and tests need. Checked with dpkg; installed only when missing.
APT_PACKAGES := liburing-dev pkg-config
# The real hashicorp/yamux peer for interop tests and `bench --peer go` (Debian's 2019 snapshot).
TEST_APT_PACKAGES := golang-go golang-github-hashicorp-yamux-dev
# go-plugin 1.0.1 for `bench launch --peer go` only (and its grpc, protobuf and x/net imports:
# Debian's package does not depend on them, but GOPATH mode compiles every file of the package).
BENCH_APT_PACKAGES := golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev golang-goprotobuf-dev \
	golang-golang-x-net-dev
GO_PEER := .build/go/goyamux-peer
GO_PLUGIN_PEER := .build/go/goplugin-launch
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_SCENARIOS ?= raw throughput rtt churn rpc streams launch fds isolation

.PHONY: all deps test-deps python-deps apt-install go-peer go-plugin-peer build lint format test bench clean \
	test-asan test-tsan sanitize
.PHONY: fuzz fuzz-ci fuzz-build fuzz-replay

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
SWIFT_FORMAT_PATHS := Sources Tests Benchmarks Examples Package.swift Fuzz/Sources Fuzz/Package.swift
lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_FORMAT_PATHS)

format:
	$(SWIFT) format format --in-place --recursive $(SWIFT_FORMAT_PATHS)

# Tests run on the real kernel (io_uring, sockets, child processes); see docs/architecture.md.
# --no-parallel: the leak tests count process-wide fds and children, which other tests would move.
test: test-deps go-peer
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

# The reactor, mux and RPC suites built with AddressSanitizer (LeakSanitizer included) and with
# ThreadSanitizer, each in a scratch path of its own; the plugin processes those tests start come
# from the same build, so they run sanitized too. Every process writes its reports to
# SANITIZER_LOGS/<sanitizer>/report.<pid> rather than to a stderr a test may swallow, and a run that left
# any report fails, whatever the tests said. The suppressions and why each entry is not a bug of
# ours: .ci/lsan-suppressions.txt, .ci/tsan-suppressions.txt; docs/sanitizers.md.
SANITIZER_SUITES := TetherReactorTests|TetherMuxTests|TetherRPCTests
SANITIZER_LOGS := $(CURDIR)/.build/sanitizer-logs
SANITIZER_TEST_ARGS := --skip-build --no-parallel --disable-xctest --filter '^($(SANITIZER_SUITES))\.'
# Volume tests against a time limit, which a sanitizer's slowdown (2-15x) on a busy machine
# exceeds: 10 000 concurrent calls within 60 s, and 100 streams through the Go peer, which gives
# up after 60 s. `make test` runs them unsanitized.
SANITIZER_SKIP := --skip 'tenThousandConcurrentCallsOnOneSession|tetherClientHundredStreamsThroughGoEcho'
# Builds the tests with sanitizer $(1) in scratch path $(2) and runs the suites with the options
# variable $(3) set to $(4) (plus the log path), other environment $(5) and test arguments $(6).
define run-sanitized
	$(SWIFT) build --build-tests --sanitize=$(1) --scratch-path $(2)
	@rm -rf $(SANITIZER_LOGS)/$(1) && mkdir -p $(SANITIZER_LOGS)/$(1)
	@status=0; $(3)=$(strip $(4)):log_path=$(SANITIZER_LOGS)/$(1)/report $(5) \
		$(SWIFT) test --sanitize=$(1) --scratch-path $(2) $(SANITIZER_TEST_ARGS) $(6) || status=$$?; \
	if [ -n "$$(ls -A $(SANITIZER_LOGS)/$(1))" ]; then \
		for report in $(SANITIZER_LOGS)/$(1)/*; do echo "== $$report"; cat "$$report"; done; \
		echo "make: $(1) sanitizer reports above"; exit 1; \
	fi; \
	exit $$status
endef

# LeakSanitizer stays on: a leak of ours is a bug (one was found this way: a kept callback held
# its server in a cycle). The suppressions name leaks inside the toolchain's own libraries.
test-asan: test-deps go-peer
	$(call run-sanitized,address,.build-asan,ASAN_OPTIONS,detect_leaks=1,\
		LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan-suppressions.txt:print_suppressions=0,$(SANITIZER_SKIP))

test-tsan: test-deps go-peer
	$(call run-sanitized,thread,.build-tsan,TSAN_OPTIONS,\
		suppressions=$(CURDIR)/.ci/tsan-suppressions.txt:print_suppressions=0:halt_on_error=0,,$(SANITIZER_SKIP))

sanitize: test-asan test-tsan

# Release build of the bench product and the plugin `bench launch` starts (neither needs the macro
# toolchain), then each scenario with `--json BENCH_RESULTS/SCENARIO.json`, then `bench report`,
# which regenerates docs/benchmarks.md and docs/images/bench-*.svg from every result in
# BENCH_RESULTS. BENCH_SCENARIOS picks scenarios (default: all); BENCH_ARGS adds options to each;
# the scenarios that take --peer (launch among them) run with `--peer $(BENCH_PEER)`: by default
# go, so hashicorp/yamux, go-plugin's net/rpc and go-plugin's launch are measured in the same run
# (BENCH_PEER= leaves Go out and the Go peers unbuilt).
BENCH_PEER ?= go
BENCH_PEER_SCENARIOS := throughput rtt churn rpc streams launch
BENCH_RESULTS ?= .build/bench-results
BENCH_CHECK := .build/bench-report-check
.PHONY: bench-report bench-report-check soak

bench: deps $(if $(BENCH_PEER),go-peer go-plugin-peer)
	$(SWIFT) build -c release --product bench
	$(SWIFT) build -c release --product bench-plugin
	@mkdir -p $(BENCH_RESULTS)
	@bin=$$($(SWIFT) build -c release --show-bin-path)/bench; \
	for scenario in $(BENCH_SCENARIOS); do \
		peer=""; \
		case " $(BENCH_PEER_SCENARIOS) " in *" $$scenario "*) [ -z "$(BENCH_PEER)" ] || peer="--peer $(BENCH_PEER)";; esac; \
		echo "bench $$scenario $$peer $(BENCH_ARGS) --json $(BENCH_RESULTS)/$$scenario.json"; \
		$$bin $$scenario $$peer $(BENCH_ARGS) --json $(BENCH_RESULTS)/$$scenario.json || exit 1; \
	done; \
	$$bin report $(BENCH_RESULTS)

# docs/benchmarks.md and the charts again from the results already in BENCH_RESULTS (after
# editing Benchmarks/report/benchmarks.template.md, say), without running anything.
bench-report: deps
	$(SWIFT) build -c release --product bench
	$$($(SWIFT) build -c release --show-bin-path)/bench report $(BENCH_RESULTS)

# Self-check of the JSON and the report, in a debug build and within seconds: `bench report` on the
# committed fixtures (Benchmarks/report/fixtures, the figures of the tables docs/benchmarks.md had
# before it was generated), then two tiny scenario runs with --json and a report of them, each
# written under BENCH_CHECK and checked by scripts/check-bench-report.sh (a section and a chart
# that parses as XML per scenario, no marker left). docs/ is not touched.
bench-report-check: deps
	$(SWIFT) build --product bench
	@rm -rf $(BENCH_CHECK)
	@bin=$$($(SWIFT) build --show-bin-path)/bench; \
	$$bin report Benchmarks/report/fixtures --docs $(BENCH_CHECK)/fixtures/benchmarks.md \
		--images $(BENCH_CHECK)/fixtures/images \
	&& sh scripts/check-bench-report.sh $(BENCH_CHECK)/fixtures/benchmarks.md $(BENCH_CHECK)/fixtures/images \
		$$(basename -s .json Benchmarks/report/fixtures/*.json) \
	&& $$bin rtt --round-trips 100 --runs 2 --transports unix --json $(BENCH_CHECK)/results/rtt.json \
	&& $$bin churn --operations 32 --runs 2 --transports unix --json $(BENCH_CHECK)/results/churn.json \
	&& $$bin report $(BENCH_CHECK)/results --docs $(BENCH_CHECK)/run/benchmarks.md --images $(BENCH_CHECK)/run/images \
	&& sh scripts/check-bench-report.sh $(BENCH_CHECK)/run/benchmarks.md $(BENCH_CHECK)/run/images rtt churn

# Leak soak, not in CI (minutes): `bench soak` in a release build, 1,000 plugin launch → call → kill
# cycles and 1,000,000 stream open → echo → close cycles, with descriptors, children, threads and
# memory sampled; it fails when one is not flat within its bound. SOAK_ARGS adds options
# (`--launches`, `--streams`, the bounds; `bench soak --help`).
soak: deps
	$(SWIFT) build -c release --product bench
	$(SWIFT) build -c release --product bench-plugin
	$$($(SWIFT) build -c release --show-bin-path)/bench soak $(SOAK_ARGS)

# GOPATH mode against Debian's packaged libraries: no module download.
go-peer: test-deps
	@mkdir -p $(dir $(GO_PEER))
	cd Benchmarks/peers/goyamux && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$(CURDIR)/.build/go/cache \
		go build -o $(CURDIR)/$(GO_PEER) .

# go-plugin's own launch, the baseline of `bench launch --peer go` (no test uses it).
go-plugin-peer: test-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_APT_PACKAGES)"
	@mkdir -p $(dir $(GO_PLUGIN_PEER))
	cd Benchmarks/peers/goplugin && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$(CURDIR)/.build/go/cache \
		go build -o $(CURDIR)/$(GO_PLUGIN_PEER) .

# libFuzzer targets (Fuzz/, a package of its own; docs/fuzzing.md). Release with debug info,
# instrumented for libFuzzer and AddressSanitizer; -enable-testing for the internal API two targets
# use. `make fuzz` runs each target for FUZZ_SECONDS (FUZZ_TARGETS picks targets), its corpus in
# Fuzz/.build/corpus/TARGET grown from the committed seeds in Fuzz/Corpus/TARGET, crashes, hangs
# (-timeout) and allocations over the limits (-rss_limit_mb, -malloc_limit_mb) written to
# Fuzz/.build/artifacts/TARGET/ and printed as a hex dump (a CI run's workspace is gone afterwards).
# `make fuzz-ci` replays every committed input, then fuzzes each target for 30 s.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= frames session handshake msgpack envelope hclog
FUZZ_OPTIONS ?= -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=4096 -print_final_stats=1
# The coverage libFuzzer steers by is asked for explicitly (-sanitize-coverage): with
# `--sanitize fuzzer` alone, the driver hands the frontend of each library module only
# -sanitize=address, and the binary had 2 coverage counters instead of ~230,000, so libFuzzer
# mutated blind. Dead stripping is off so that no counter section is dropped at the link.
# fuzz-replay fails when the binary has fewer than FUZZ_MIN_COUNTERS.
FUZZ_SWIFT_FLAGS := --package-path Fuzz -c release --sanitize fuzzer --sanitize address \
	--disable-dead-strip -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
	-Xswiftc -enable-testing -Xswiftc -g
FUZZ_MIN_COUNTERS := 10000
FUZZ_BIN = $$($(SWIFT) build $(FUZZ_SWIFT_FLAGS) --show-bin-path)/tether-fuzz
# Swift's own crash backtracer takes minutes per crash under AddressSanitizer (it looked like a
# hang); libFuzzer prints the stack.
fuzz fuzz-replay fuzz-ci: export SWIFT_BACKTRACE = enable=no

fuzz-build: deps
	$(SWIFT) build $(FUZZ_SWIFT_FLAGS)

# Each committed seed and regression input, run once: any failure is a known bug come back.
fuzz-replay: fuzz-build
	@mkdir -p Fuzz/.build/replay
	@bin=$(FUZZ_BIN); for target in $(FUZZ_TARGETS); do \
		log=Fuzz/.build/replay/$$target.log; \
		if ! $$bin --target=$$target $(FUZZ_OPTIONS) Fuzz/Corpus/$$target/* >$$log 2>&1; then \
			cat $$log; echo "fuzz-replay: $$target fails on a committed input"; exit 1; \
		fi; \
		counters=$$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' $$log | head -1); \
		if [ "$${counters:-0}" -lt $(FUZZ_MIN_COUNTERS) ]; then \
			echo "fuzz-replay: tether-fuzz has $${counters:-no} coverage counters (fewer than" \
				"$(FUZZ_MIN_COUNTERS)): the build lost its instrumentation and would fuzz blind"; exit 1; \
		fi; \
		echo "fuzz-replay $$target: $$(grep -c '^Executed' $$log) inputs pass ($$counters coverage counters)"; \
	done

fuzz: fuzz-build
	@bin=$(FUZZ_BIN); for target in $(FUZZ_TARGETS); do \
		mkdir -p Fuzz/.build/corpus/$$target Fuzz/.build/artifacts/$$target; \
		echo "fuzz $$target for $(FUZZ_SECONDS) s"; \
		$$bin --target=$$target $(FUZZ_OPTIONS) -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=Fuzz/.build/artifacts/$$target/ Fuzz/.build/corpus/$$target Fuzz/Corpus/$$target \
			|| { for input in Fuzz/.build/artifacts/$$target/*; do \
				echo "== $$input (commit it to Fuzz/Corpus/$$target/ as a regression input):"; \
				od -A x -t x1z -v "$$input" | head -64; \
			done; exit 1; }; \
	done

fuzz-ci: fuzz-replay
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

clean:
	rm -rf .build .build-asan .build-tsan Fuzz/.build
