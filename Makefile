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

# Core (parser+rules), the naive regexp alternative, and the record writer.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./test/ ./parser/ ./rules/ ./plugin/record/

$(LINT):
	GOBIN=$(abspath $(BUILD)/bin) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VER)

lint: $(LINT)
	$(LINT) run ./...

run: build
	$(BUILD)/sshenrich enrich $(SAMPLES)

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
