# SPDX-License-Identifier: GPL-2.0-only
# fogprobe: the one entry point. `make` builds build/fogprobe; see `make help`.

.DELETE_ON_ERROR:
.SUFFIXES:

ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_ARCH ?= $(shell uname -m)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

# Install layout, GNU style: `make install PREFIX=... DESTDIR=...`. The unit goes where
# systemd looks for units of locally built software: $(PREFIX)/lib/systemd/system is on
# its search path for PREFIX=/usr/local and /usr (`systemd-analyze unit-paths`); for any
# other PREFIX set UNITDIR=/etc/systemd/system. The config lives under /etc whatever the
# prefix, as the unit and the Kubernetes manifest expect.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
CONFIG := $(SYSCONFDIR)/fogprobe/fogprobe.json
INSTALL ?= install

CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
BUILD := build
V ?= 0
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(BUILD) -Iinclude -Ivmlinux/$(VMLINUX_ARCH) -MMD -MP
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-Iinclude -Iuser -I$(BUILD) -MMD -MP -DFOGPROBE_VERSION='"$(VERSION)"' -pthread
LDLIBS := -lbpf -lelf -lz -lmicrohttpd -ljansson -lcurl -lm -pthread

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

USER_SRCS := $(shell find user -name '*.c' | sort)
USER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFTEST_SRCS))

.PHONY: all deps run test unit-test bpf-test integration-test test-kernels bench fuzz vmlinux clean \
	help check-env install uninstall

all: $(BUILD)/fogprobe

help:
	@echo "make            build build/fogprobe"
	@echo "make deps       install the Debian packages needed (idempotent)"
	@echo "make run        deps + build + run with the default config (root)"
	@echo "make install    build + install the binary, systemd unit and config (PREFIX=$(PREFIX), DESTDIR)"
	@echo "make uninstall  remove them again; an edited config stays"
	@echo "make test       deps + build + unit, BPF and integration tests (root)"
	@echo "make test-kernels  the suites inside Debian kernels under qemu (KERNELS=\"debian-6.1\")"
	@echo "make bench      overhead, with and without the probe and peers, side by side:"
	@echo "                build/bench/report.{txt,json,md}"
	@echo "make fuzz       run the libFuzzer targets for FUZZ_SECONDS (default 60) each"
	@echo "make vmlinux    regenerate vmlinux/$(VMLINUX_ARCH)/vmlinux.h from this kernel's BTF"

deps:
	$(Q)./tests/deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c Makefile | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Skeletons exist before the first compile; after it, each object's .d file names the
# skeletons it includes, so editing one BPF program rebuilds only what uses it.
$(USER_OBJS): | $(SKELS)

$(BUILD)/%.o: %.c Makefile
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/fogprobe: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# make bench's programs of the daemon's code alone: render, HTTP exchanges replayed
$(BUILD)/bench/bench_%: tests/bench/bench_%.c $(LIB_OBJS) Makefile
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) Makefile
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(LIB_OBJS) Makefile
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/bpf:
	$(Q)mkdir -p $@

run: deps all
	./$(BUILD)/fogprobe $(ARGS)

# The committed unit names the default paths. Installed elsewhere, its ExecStart is
# rewritten to the installed binary and config, so the two never disagree. An existing
# config is an operator's: a reinstall keeps it.
UNIT_EXEC := ExecStart=$(BINDIR)/fogprobe --config $(CONFIG)
install: $(BUILD)/fogprobe
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/fogprobe)
	$(Q)$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(UNITDIR)"
	$(Q)$(INSTALL) -m 0755 $(BUILD)/fogprobe "$(DESTDIR)$(BINDIR)/fogprobe"
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/fogprobe.service)
	$(Q)sed 's|^ExecStart=/usr/local/bin/fogprobe --config /etc/fogprobe/fogprobe.json$$|$(UNIT_EXEC)|' \
		deploy/systemd/fogprobe.service >$(BUILD)/fogprobe.service
	$(Q)grep -qxF '$(UNIT_EXEC)' $(BUILD)/fogprobe.service || \
		{ echo "deploy/systemd/fogprobe.service: no default ExecStart= line to rewrite" >&2; exit 1; }
	$(Q)$(INSTALL) -m 0644 $(BUILD)/fogprobe.service "$(DESTDIR)$(UNITDIR)/fogprobe.service"
	$(Q)if [ -e "$(DESTDIR)$(CONFIG)" ]; then \
		printf '  %-8s %s\n' KEEP "$(DESTDIR)$(CONFIG) (exists; the default is deploy/fogprobe.json)"; \
	else \
		printf '  %-8s %s\n' INSTALL "$(DESTDIR)$(CONFIG)"; \
		$(INSTALL) -D -m 0644 deploy/fogprobe.json "$(DESTDIR)$(CONFIG)"; \
	fi

# Stop and disable the service first (deploy/README.md). The config goes only while it
# is still the shipped default.
uninstall:
	$(call msg,RM,$(DESTDIR)$(BINDIR)/fogprobe)
	$(Q)rm -f "$(DESTDIR)$(BINDIR)/fogprobe"
	$(call msg,RM,$(DESTDIR)$(UNITDIR)/fogprobe.service)
	$(Q)rm -f "$(DESTDIR)$(UNITDIR)/fogprobe.service"
	$(Q)if cmp -s deploy/fogprobe.json "$(DESTDIR)$(CONFIG)"; then \
		printf '  %-8s %s\n' RM "$(DESTDIR)$(CONFIG)"; \
		rm -f "$(DESTDIR)$(CONFIG)"; \
		rmdir "$(DESTDIR)$(SYSCONFDIR)/fogprobe" 2>/dev/null || true; \
	elif [ -e "$(DESTDIR)$(CONFIG)" ]; then \
		printf '  %-8s %s\n' KEEP "$(DESTDIR)$(CONFIG) (edited)"; \
	fi

unit-test: $(UNIT_BINS)
	$(Q)./tests/run_unit.sh $(UNIT_BINS)

bpf-test: $(BPFTEST_BINS) $(BUILD)/fogprobe
	$(Q)./tests/run_unit.sh $(BPFTEST_BINS)

integration-test: $(BUILD)/fogprobe
	$(Q)./tests/integration/run.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPFTEST_BINS)
	$(Q)./tests/run_all.sh

# Boots each kernel of tests/kernels/matrix.sh under qemu and runs the suites inside it.
test-kernels: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPFTEST_BINS)
	$(Q)./tests/kernels/matrix.sh

bench:
	$(Q)./tests/deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tests/bench/bench.sh

FUZZ_SECONDS ?= 60
fuzz:
	$(Q)./tests/fuzz/run.sh $(FUZZ_SECONDS)

vmlinux:
	$(Q)mkdir -p vmlinux/$(VMLINUX_ARCH)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(VMLINUX_ARCH)/vmlinux.h

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
