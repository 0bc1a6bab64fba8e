# sshenrich: everything a fresh machine needs goes through these targets.
#   make run    enrich the bundled sample logs (the main job)
#   make test   vet and run every test

GO        ?= go
BUILD     := build
LINT_VER  := v2.15.0
LINT      := $(BUILD)/bin/golangci-lint
SAMPLES   := $(sort $(wildcard conf/samples/*.log))
BENCHTIME ?= 1s

CC        ?= cc
# The plugin's version, in sshenrich_build_info (metrics_listen).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
PLUGIN    := $(BUILD)/out_sshenrich.so
PASSTHRU  := $(BUILD)/out_passthrough.so
HOST      := $(BUILD)/fbhost
FBRUNS    ?= 3
DEPLOYTEST := conf/deploytest

.PHONY: all build plugin passthrough host test race fuzz soak bench bench-instructions bench-fluentbit faults-fluentbit lint run catalog compare clean

all: build plugin host

# The CLI, with its version from git describe (tag, or commit, and
# "-dirty" for local changes); "dev" without git or outside a checkout.
# make build VERSION=v1.2.3 sets it by hand.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o $(BUILD)/sshenrich ./cmd/sshenrich

# The Fluent Bit output. Fluent Bit treats a file whose name starts with
# "flb-" as a C plugin, hence out_sshenrich.so.
plugin:
	$(GO) build -buildmode=c-shared -ldflags "-X main.version=$(VERSION)" -o $(PLUGIN) ./plugin

# The pass-through Go output of test/passthrough (decode and re-emit
# unchanged), the yardstick of the benchmarks.
passthrough:
	$(GO) build -buildmode=c-shared -o $(PASSTHRU) ./test/passthrough

# The host program that drives the plugin as Fluent Bit's Go proxy does.
host: $(HOST)

$(HOST): test/host/fbhost.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -Wextra -o $@ $< -ldl -lpthread

# The end-to-end package runs verbosely into build/test-e2e.log, so that
# the no-loss tests' "noloss:" lines are printed; its failures are shown.
# conf/deploytest is a module of its own (the deployment files' checks,
# with Kubernetes and BuildKit dependencies the plugin does not need).
test:
	@mkdir -p $(BUILD)
	$(GO) vet ./...
	$(GO) test $$($(GO) list ./... | grep -v '/test$$')
	cd $(DEPLOYTEST) && $(GO) vet ./... && GO=$(GO) $(GO) test ./...
	@$(GO) test -v ./test/ > $(BUILD)/test-e2e.log 2>&1; rc=$$?; \
		grep -E '^(noloss:|ok|FAIL|--- FAIL)' $(BUILD)/test-e2e.log; \
		if [ $$rc -ne 0 ]; then grep -v -E '^(=== |--- PASS|    --- PASS)' $(BUILD)/test-e2e.log | tail -150; fi; \
		exit $$rc
	$(GO) test -race ./plugin/... ./rules/ ./parser/ ./correlate/

FUZZTIME ?= 15s
FUZZ_TARGETS := ./parser/:FuzzParse ./rules/:FuzzMatch ./rules/:FuzzCompile ./plugin/chunk/:FuzzDecoder ./plugin/:FuzzEnrichChunk ./correlate/:FuzzObserve ./correlate/:FuzzReadState ./cmd/sshenrich/:FuzzJSONInput

# Each fuzz target for a bounded time; the last line of each run gives
# its executions. Crashers are written to the package's testdata/fuzz.
# Minimising a new input is bounded by executions, not time: a long input
# against the whole catalog is slow under coverage instrumentation, and a
# minimisation still running when FUZZTIME ends fails the run.
fuzz:
	@GO=$(GO) bash test/fuzz.sh $(FUZZTIME) $(BUILD) $(FUZZ_TARGETS)

# 10 million records through the host program, with RSS and Go heap
# sampled every second (not part of CI: it takes about a minute).
# It uses the test-hooks build of the plugin, whose stats loop runs a GC
# before each sample, so that the heap figure is the retained heap.
soak: host
	$(GO) build -tags sshenrich_testhooks -buildmode=c-shared -o $(BUILD)/out_sshenrich_testhooks.so ./plugin
	$(GO) run ./test/soak -plugin $(BUILD)/out_sshenrich_testhooks.so -host $(HOST) -records 10000000

# Core (parser+rules) and the naive regexp alternative, the matcher by
# message shape, the correlation engine (its memory per source and heap
# with 1M sources included), the record writer, the plugin's flush path,
# and the host program end to end (sshenrich and a pass-through plugin, 1
# and 2 threads).
bench:
	$(GO) test -run '^$$' -bench 'Core|Naive' -benchmem -benchtime $(BENCHTIME) ./test/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./rules/ ./correlate/ ./plugin/ ./plugin/record/ ./plugin/chunk/ ./plugin/metrics/
	$(GO) test -run '^$$' -bench HostForward -benchtime 3x ./test/

# Instructions per line of the core benchmarks (valgrind's cachegrind),
# steady where ns/op drifts with a shared machine's load; skipped
# without valgrind (not part of CI; a few minutes).
bench-instructions:
	bash test/instructions.sh

# The plugin's CPU cost inside a real Fluent Bit (on PATH, or
# FLUENT_BIT=path): 200k sshd lines through tail -> file, the parser
# filter with sshd regexes, the pass-through plugin and sshenrich, FBRUNS
# runs each (not part of CI; a few minutes). Skipped without a Fluent Bit.
bench-fluentbit:
	@FB="$${FLUENT_BIT:-$$(command -v fluent-bit 2>/dev/null)}"; \
	if [ -z "$$FB" ]; then echo "bench-fluentbit: skipped: no fluent-bit on the PATH and FLUENT_BIT is not set"; exit 0; fi; \
	$(MAKE) --no-print-directory plugin passthrough && \
	$(GO) run ./test/fbbench -fluent-bit "$$FB" -runs $(FBRUNS) -plugin $(PLUGIN) -passthrough $(PASSTHRU)

# Faults replayed on a real Fluent Bit (on PATH, or FLUENT_BIT=path):
# kill -9, SIGTERM with pending chunks, hot reloads at 30/50/70%, one
# with Fluent Bit's reload defaults, a forward target paused 15s and a
# slow sink; a table of records in, unique out (by content and
# event.id), lost, duplicates, stop and reload times (not part of CI;
# some 3 minutes). FAULTS_LINES sets the lines per experiment. Skipped
# without a Fluent Bit.
FAULTS_LINES ?= 30000
faults-fluentbit:
	@FB="$${FLUENT_BIT:-$$(command -v fluent-bit 2>/dev/null)}"; \
	if [ -z "$$FB" ]; then echo "faults-fluentbit: skipped: no fluent-bit on the PATH and FLUENT_BIT is not set"; exit 0; fi; \
	$(MAKE) --no-print-directory plugin && \
	$(GO) run ./test/fbfaults -fluent-bit "$$FB" -plugin $(PLUGIN) -n $(FAULTS_LINES)

$(LINT):
	GOBIN=$(abspath $(BUILD)/bin) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VER)

lint: $(LINT)
	$(LINT) run ./...
	cd $(DEPLOYTEST) && $(abspath $(LINT)) run ./...

# The main job: the plugin on the sample logs with the shipped
# configuration. With a real Fluent Bit (on PATH, or FLUENT_BIT=path) the
# records go through the whole re-emit loop; without one, test/host runs
# the plugin exactly as Fluent Bit would, with emit stdout.
run: plugin host
	@FB="$${FLUENT_BIT:-$$(command -v fluent-bit 2>/dev/null)}"; \
	if [ -n "$$FB" ]; then \
		tmp=$$(mktemp -d); \
		echo "running $$FB with conf/run/fluent-bit.conf for 15s" >&2; \
		SSHENRICH_SAMPLES="$(abspath conf/samples)/*.log" SSHENRICH_SOCKET="$$tmp/enriched.sock" \
			timeout --foreground -s INT 15 "$$FB" -e $(abspath $(PLUGIN)) -c conf/run/fluent-bit.conf; \
		rm -rf "$$tmp"; \
	else \
		echo "fluent-bit not found: running the plugin in test/host with conf/fluent-bit.conf and emit stdout" >&2; \
		$(HOST) -s $(PLUGIN) -c conf/fluent-bit.conf -p emit=stdout -p time_zone=UTC -k message -q $(addprefix -f ,$(SAMPLES)); \
	fi

# Regenerate docs/catalog.md from rules/catalog/*.rules.
catalog:
	$(GO) run ./cmd/sshenrich catalog --format md > docs/catalog.md

# Side by side with sshguard's parser on a 200k-line sshd log
# (needs sshguard: apt-get install sshguard).
compare: build
	$(GO) run ./test/loggen/cmd/loggen -n 200000 -sshd > $(BUILD)/sshd-200k.log
	@echo "sshenrich enrich:"; time $(BUILD)/sshenrich enrich --tz UTC $(BUILD)/sshd-200k.log > /dev/null
	@echo "sshg-parser:"; time /usr/libexec/sshguard/sshg-parser < $(BUILD)/sshd-200k.log > /dev/null

clean:
	rm -rf $(BUILD)
