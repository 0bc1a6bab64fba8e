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
PLUGIN    := $(BUILD)/out_sshenrich.so
HOST      := $(BUILD)/fbhost

.PHONY: all build plugin host test bench lint run catalog compare clean

all: build plugin host

build:
	$(GO) build -o $(BUILD)/sshenrich ./cmd/sshenrich

# The Fluent Bit output. Fluent Bit treats a file whose name starts with
# "flb-" as a C plugin, hence out_sshenrich.so.
plugin:
	$(GO) build -buildmode=c-shared -o $(PLUGIN) ./plugin

# The host program that drives the plugin as Fluent Bit's Go proxy does.
host: $(HOST)

$(HOST): test/host/fbhost.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -Wextra -o $@ $< -ldl -lpthread

test:
	$(GO) vet ./...
	$(GO) test ./...

# Core (parser+rules) and the naive regexp alternative, the matcher by
# message shape, the record writer, the plugin's flush path, and the host
# program end to end (sshenrich and a pass-through plugin, 1 and 2 threads).
bench:
	$(GO) test -run '^$$' -bench 'Core|Naive' -benchmem -benchtime $(BENCHTIME) ./test/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./rules/ ./plugin/ ./plugin/record/ ./plugin/chunk/
	$(GO) test -run '^$$' -bench HostForward -benchtime 3x ./test/

$(LINT):
	GOBIN=$(abspath $(BUILD)/bin) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VER)

lint: $(LINT)
	$(LINT) run ./...

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
