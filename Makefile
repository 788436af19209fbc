# flowtap — see README.md. `make help` lists the targets.
MULTIARCH  := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
BUILD      := build
VERSION    := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

DEBIAN_PKGS := clang llvm libbpf-dev libxdp-dev xdp-tools libpcap-dev libelf-dev zlib1g-dev \
	libnl-3-dev libnl-route-3-dev libjson-c-dev libmicrohttpd-dev libfixbuf-dev bpftool \
	linux-libc-dev libncurses-dev clang-format libclang-rt-14-dev valgrind tmux \
	iproute2 iputils-ping ethtool nftables tcpdump tshark curl netcat-openbsd jq \
	python3 python3-scapy python3-yaml prometheus nfdump gnuplot-nox podman runc busybox-static

BPF_CFLAGS := -O2 -g -target bpf -Wall -Wextra -Werror -I/usr/include/$(MULTIARCH) -Iinclude -MD
CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Werror -Wno-missing-field-initializers -std=gnu11 -D_GNU_SOURCE -MD -Iinclude -Iuserspace -Ipcap -I/usr/include/libnl3 \
	-I$(BUILD) -DFLOWTAP_VERSION='"$(VERSION)"'
FIXBUF     := $(shell pkg-config --silence-errors --cflags --libs libfixbuf)
CFLAGS     += $(filter -I%,$(FIXBUF))
LDLIBS     += -lxdp -lbpf -lelf -lz -lpcap -lnl-route-3 -lnl-3 -ljson-c -lmicrohttpd -lm -lpthread \
	$(filter-out -I%,$(FIXBUF)) $(shell pkg-config --silence-errors --libs ncursesw)
# ASan+UBSan, every report fatal. Built with clang (as the fuzzers are):
# its UBSan writes to ASAN_OPTIONS/UBSAN_OPTIONS log_path like ASan does,
# so tests/run collects the reports of processes whose stderr a test does
# not keep; GCC's aborting UBSan handlers only ever write to stderr.
ifeq ($(SANITIZE),1)
CC         := $(CLANG)
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=address,undefined
endif
# Objects depend on the compiler and the sanitizer switch: changing either
# rebuilds them rather than linking a mix. The stamp is rewritten only when
# they differ, and only when objects are built.
FLAVOUR    := $(BUILD)/.flavour

# One BPF object (and skeleton) per entry file; pcap/*.bpf.c are capture programs.
BPF_SRCS   := xdp/flowtap.bpf.c tc/flowtap.bpf.c $(wildcard trace/*.bpf.c) $(wildcard pcap/*.bpf.c) $(wildcard bench/*.bpf.c)
bpf_name    = $(if $(filter xdp/% tc/%,$(1)),flowtap_$(patsubst %/,%,$(dir $(1))),$(basename $(basename $(notdir $(1)))))
BPF_OBJS   := $(foreach s,$(BPF_SRCS),$(BUILD)/$(call bpf_name,$(s)).bpf.o)
SKELS      := $(BPF_OBJS:.bpf.o=.skel.h)

LIB_SRCS   := $(filter-out userspace/main.c,$(wildcard userspace/*.c)) \
	$(filter-out %.bpf.c,$(wildcard pcap/*.c))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/libflowtap.a

TEST_SRCS  := $(wildcard tests/unit/*.c)
TEST_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all deps run test bench fuzz format format-check clean help
all: flowtap $(TEST_BINS) $(BENCH_BINS)

help:
	@echo "make deps          install the Debian packages flowtap needs (root)"
	@echo "make               build ./flowtap, the tests and the benchmarks"
	@echo "sudo make run      attach to the default-route interface (or lo) and print flows"
	@echo "sudo make test     run the whole test suite"
	@echo "make bench         run the benchmarks, write docs/benchmarks.md"
	@echo "make SANITIZE=1    build with ASan+UBSan"

deps:
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_PKGS)

define bpf_rule
$(BUILD)/$(call bpf_name,$(1)).bpf.o: $(1) | $(BUILD)
	$$(CLANG) $$(BPF_CFLAGS) -MF $$(@:.o=.d) -c $$< -o $$@
endef
$(foreach s,$(BPF_SRCS),$(eval $(call bpf_rule,$(s))))

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c $(FLAVOUR) | $(SKELS) $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

flowtap: $(BUILD)/userspace/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	mkdir -p $(BUILD)

$(FLAVOUR): FORCE | $(BUILD)
	@echo "$(CC) SANITIZE=$(SANITIZE)" | cmp -s - $@ || echo "$(CC) SANITIZE=$(SANITIZE)" >$@

.PHONY: FORCE
FORCE:

# The default job: attach where traffic is and print flow summaries.
run: flowtap
	./flowtap run --interval 5

test: all
	tests/run

bench: all
	bench/run

fuzz:
	$(MAKE) -C tests/fuzz run

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) flowtap

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
