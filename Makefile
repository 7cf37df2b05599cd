# PortMux — plain GNU make.
#
#   make            build build/portmux and build/plugins/*.so
#   make run        install missing deps, build, run on etc/portmux/config.yaml
#                   (PORT=8080 to override the listening port)
#   make test       install missing deps, build, run every test
#   make test-asan  the same tests under AddressSanitizer + UBSan
#   make test-tsan  the integration tests under ThreadSanitizer
#   make install    PREFIX=/usr/local DESTDIR=
#   make uninstall  the same variables: removes what install installed
#
# Knobs: CC, CFLAGS (user additions), BUILD (output dir), SANITIZE=1, V=1.

.DEFAULT_GOAL := all

CC ?= cc
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
PLUGINDIR ?= $(LIBDIR)/portmux
INCLUDEDIR ?= $(PREFIX)/include
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
SYSUSERSDIR ?= /usr/lib/sysusers.d
DESTDIR ?=

BUILD ?= build
# Detectors enabled by default when PORTMUX.detectors is not set, in probe
# order, as plugin=SECTION: enabled when SECTION is in the config.
DEFAULT_DETECTORS ?= python=PYTHON,ssh=SSH,tls=HTTPS,rdp=RDP,socks=SOCKS,postgres=POSTGRES,openvpn=OPENVPN,quic=QUIC,wireguard=WIREGUARD,xmpp=XMPP,http=HTTP,pattern=PATTERN
PORT ?=
# Seconds each detector is fuzzed during make test (make fuzz: longer).
TEST_FUZZ_SECONDS ?= 5
CONFIG ?= etc/portmux/config.yaml

CFLAGS ?= -O2 -g
STD = -std=c11 -D_GNU_SOURCE
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
       -Wpointer-arith -Wcast-qual -Wvla
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
# override: test-asan passes CFLAGS on the command line, which would
# otherwise drop this and leave the core's objects uninstrumented.
override CFLAGS += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
PLUGIN_DEFS =
else
PLUGIN_DEFS = -Wl,-z,defs
endif

ALL_CFLAGS = $(STD) $(WARN) -Iinclude -MMD -MP $(CFLAGS)
CORE_DEFS = -DPMX_PLUGIN_DIR='"$(PLUGINDIR)"' \
            -DPMX_DEFAULT_DETECTORS='"$(DEFAULT_DETECTORS)"' \
            -DCONFIG_DEFAULT_PATH='"$(SYSCONFDIR)/portmux/config.yaml"'

ifeq ($(V),1)
Q =
else
Q = @
endif

CORE_SRC = $(filter-out core/main.c,$(wildcard core/*.c))
# The kernel relay's eBPF program (relay: kernel), compiled with clang's
# bpf target and embedded in the core as a C array (scripts/embed.sh).
BPF_CLANG ?= clang
BPF_OBJ = $(BUILD)/core/bpf/relay.bpf.o
BPF_EMBED = $(BUILD)/core/relay_bpf_obj.c
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o) $(BPF_EMBED:%.c=%.o)
MAIN_OBJ = $(BUILD)/core/main.o
CORE_LIB = $(BUILD)/libportmux-core.a
BIN = $(BUILD)/portmux
CORE_LIBS = -lev -lyaml -lbpf -ldl -lpthread -lm

# One .so per detector: plugins/NAME/*.c -> $(BUILD)/plugins/NAME.so.
# A detector may add flags in plugins/NAME/flags.mk (NAME_CFLAGS, NAME_LIBS,
# and NAME_SRC: another plugin's sources it is built with too, e.g. quic's
# ClientHello parser from plugins/tls).
PLUGINS = $(filter-out example,$(notdir $(wildcard plugins/*)))
PLUGIN_SO = $(PLUGINS:%=$(BUILD)/plugins/%.so)
# Programs a detector runs (flags.mk adds them), installed next to it.
PLUGIN_PROGRAMS =
# Libraries the unit tests need beyond the core's (flags.mk may add).
UNIT_LIBS =
-include $(wildcard plugins/*/flags.mk)

UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_OBJ = $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(BUILD)/tests/check_portmux
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
# Deliberately broken plugins for the loader's refusal tests.
BAD_PLUGINS = $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

.PHONY: bench deps-bench
deps-bench:
	@scripts/deps.sh bench

# Benchmarks against the peers: tables, not tests (~15 min; BENCH="throughput
# silent" runs some). Results in bench/results/.
bench: deps-bench
	$(MAKE) all
	PORTMUX_BIN=$(CURDIR)/$(BIN) PORTMUX_PLUGIN_DIR=$(CURDIR)/$(BUILD)/plugins \
		bench/run.sh $(BENCH)

.PHONY: all check-deps checksrc run test check unit integration test-asan test-tsan test-systemd test-packages clang-check deps \
        deps-test install uninstall clean

all: $(BIN) $(PLUGIN_SO) $(PLUGIN_PROGRAMS)

# A missing library gets one clear message rather than a compiler error.
check-deps:
	@scripts/deps.sh check

# Settings compiled into the core: objects are rebuilt when they change
# (make install PREFIX=/usr after a plain make must not ship /usr/local).
CORE_SETTINGS = $(BUILD)/core-settings
$(CORE_SETTINGS): FORCE
	@mkdir -p $(dir $@)
	@echo "$(PLUGINDIR) $(DEFAULT_DETECTORS) $(SYSCONFDIR)" | \
		cmp -s - $@ 2>/dev/null || \
		echo "$(PLUGINDIR) $(DEFAULT_DETECTORS) $(SYSCONFDIR)" >$@

.PHONY: FORCE
FORCE:

$(BUILD)/core/%.o: core/%.c $(CORE_SETTINGS) | check-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CORE_DEFS) -c $< -o $@

$(BPF_OBJ): core/bpf/relay.bpf.c | check-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -O2 -g -target bpf -Wall -Werror \
		-I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null) \
		-c $< -o $@

$(BPF_EMBED): $(BPF_OBJ) scripts/embed.sh
	$(Q)scripts/embed.sh pmx_relay_bpf_obj $< >$@

$(BPF_EMBED:%.c=%.o): $(BPF_EMBED)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(STD) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(CORE_LIBS) -o $@

# A plugin's sources and the headers they may include.
plugin_src = $(wildcard plugins/$(1)/*.c) $($(1)_SRC)
plugin_hdr = $(wildcard plugins/$(1)/*.h) $(wildcard $($(1)_SRC:.c=.h))

define plugin_rule
$(BUILD)/plugins/$(1).so: $(call plugin_src,$(1)) $(call plugin_hdr,$(1)) include/portmux/detector.h
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  PLUGIN  $$@")
	$$(Q)$$(CC) $$(STD) $$(WARN) -Iinclude $$(CFLAGS) $$($(1)_CFLAGS) -fPIC \
		-fvisibility=hidden -shared $$(LDFLAGS) $$(PLUGIN_DEFS) \
		$(call plugin_src,$(1)) $$($(1)_LIBS) -o $$@
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rule,$(p))))

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c include/portmux/detector.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(STD) -Iinclude $(CFLAGS) -fPIC -shared $(LDFLAGS) $< -o $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Icore -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(CORE_LIBS) $(CHECK_LIBS) $(UNIT_LIBS) -o $@

# ---- running and testing ----

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

run: deps
	$(MAKE) all
	PORTMUX_PLUGIN_DIR=$(CURDIR)/$(BUILD)/plugins \
		$(BIN) -c $(CONFIG) $(if $(PORT),-p $(PORT))

unit: $(UNIT_BIN) $(PLUGIN_SO) $(PLUGIN_PROGRAMS) $(BAD_PLUGINS)
	PORTMUX_PLUGIN_DIR=$(CURDIR)/$(BUILD)/plugins \
	PORTMUX_TEST_PLUGINS=$(CURDIR)/$(BUILD)/tests/plugins \
	PORTMUX_SOURCE_DIR=$(CURDIR) \
		$(UNIT_BIN)

integration: $(BIN) $(PLUGIN_SO) $(PLUGIN_PROGRAMS) $(BAD_PLUGINS)
	PORTMUX_BIN=$(CURDIR)/$(BIN) \
	PORTMUX_PLUGIN_DIR=$(CURDIR)/$(BUILD)/plugins \
	PORTMUX_TEST_PLUGINS=$(CURDIR)/$(BUILD)/tests/plugins \
		tests/integration/run.sh $(TESTS)

# Both compilers must build cleanly with -Werror.
clang-check:
	$(MAKE) BUILD=build-clang CC=clang all build-clang/tests/check_portmux

# House rules of the C sources (scripts/checksrc.py).
checksrc:
	@/usr/bin/python3 scripts/checksrc.py

test: deps-test
	$(MAKE) checksrc
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) clang-check
	$(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

check: test

test-asan: deps-test
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	PORTMUX_NO_DLCLOSE=1 \
		$(MAKE) BUILD=build-asan SANITIZE=1 CFLAGS="-O1 -g" unit integration

# The threads (workers, probe pool, reload, resolver, Python's) under
# ThreadSanitizer: the integration tests, which drive them all.
test-tsan: deps-test
	TSAN_OPTIONS=halt_on_error=0 PORTMUX_NO_DLCLOSE=1 \
		$(MAKE) BUILD=build-tsan CFLAGS="-O1 -g -fsanitize=thread" \
		LDFLAGS="-fsanitize=thread" PLUGIN_DEFS= integration

# PortMux under a real systemd (PID 1 of a Debian 12 container booted with
# systemd-nspawn), installed with make install: enable --now, status,
# routing, dynamic user, reloads, journal priorities, Python in the
# sandbox, socket activation across restarts, graceful stop, watchdog.
# Needs root; outside make test (about two minutes, the first run also
# debootstraps build-systemd/rootfs.base).
test-systemd: all
	tests/systemd/run.sh

# The Debian package (dpkg-buildpackage, lintian) and the AUR PKGBUILD
# (Debian's makepkg, unprivileged), then the .deb installed with dpkg on a
# fresh Debian 12 under systemd (the container above). Needs root.
test-packages:
	tests/packages/run.sh

# ---- fuzzing (clang's libFuzzer) ----
# make fuzz [FUZZ_SECONDS=60] [FUZZERS="tls http"]: each detector's fuzzer
# for a bounded time, seeded with tests/corpus/<detector>/. A crash leaves
# its input in build-fuzz/<detector>/crash-*; turn it into a unit test.
FUZZ_SECONDS ?= 60
FUZZ_BUILD = build-fuzz
FUZZ_DETECTORS = $(filter-out python,$(PLUGINS))
# Core parsers that face untrusted input are fuzzed too.
FUZZ_CORE = config proxyproto
FUZZERS ?= $(FUZZ_DETECTORS) $(FUZZ_CORE)
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the usual name): a detector
# may skip what a fuzzer cannot get past, such as quic's AEAD tags.
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all \
             -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION

# A detector whose section configures it (pattern) is fuzzed with
# fuzz/NAME.yaml as that section.
fuzz_section = $(if $(wildcard fuzz/$(1).yaml),-Icore \
	-DDETECTOR_SECTION_FILE='"$(CURDIR)/fuzz/$(1).yaml"' core/yaml_tree.c -lyaml)
define fuzz_rule
$(FUZZ_BUILD)/fuzz_$(1): fuzz/fuzz_detector.c $(call plugin_src,$(1)) $(call plugin_hdr,$(1)) include/portmux/detector.h $(wildcard fuzz/$(1).yaml)
	@mkdir -p $$(dir $$@)
	$$(Q)clang $$(STD) -Wall -Wextra -Werror -Iinclude $$(FUZZ_FLAGS) \
		$$($(1)_CFLAGS) -DDETECTOR_NAME='"$(1)"' fuzz/fuzz_detector.c \
		$(call plugin_src,$(1)) $$(call fuzz_section,$(1)) $$($(1)_LIBS) -o $$@
endef
$(foreach d,$(FUZZ_DETECTORS),$(eval $(call fuzz_rule,$(d))))

$(FUZZ_BUILD)/fuzz_config: fuzz/fuzz_config.c core/yaml_tree.c core/config.c core/route.c core/backend.c core/bind_source.c core/cidr.c core/addr.c core/log.c core/suggest.c
	@mkdir -p $(dir $@)
	$(Q)clang $(STD) -Wall -Wextra -Werror -Iinclude -Icore $(FUZZ_FLAGS) $^ -lyaml -lpthread -lm -o $@

$(FUZZ_BUILD)/fuzz_proxyproto: fuzz/fuzz_proxyproto.c core/proxyproto.c
	@mkdir -p $(dir $@)
	$(Q)clang $(STD) -Wall -Wextra -Werror -Iinclude -Icore $(FUZZ_FLAGS) $^ -o $@

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZERS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: fuzz-build
	@set -e; for d in $(FUZZERS); do \
		mkdir -p $(FUZZ_BUILD)/$$d/corpus; \
		echo "fuzz $$d for $(FUZZ_SECONDS) s"; \
		(cd $(FUZZ_BUILD)/$$d && rc=0 && \
		 ../fuzz_$$d -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
			-print_final_stats=1 corpus $(CURDIR)/tests/corpus/$$d \
			>fuzz.log 2>&1 || rc=$$?; \
		 grep -E '^(Done|stat::(number_of_executed|new_units))' fuzz.log; \
		 [ $$rc -eq 0 ] || { tail -n 40 fuzz.log; exit $$rc; }); \
	done

# ---- installing ----

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(INCLUDEDIR)/portmux $(DESTDIR)$(SYSCONFDIR)/portmux \
		$(DESTDIR)$(UNITDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/portmux
	install -m 644 $(PLUGIN_SO) $(DESTDIR)$(PLUGINDIR)/
	install -m 755 $(PLUGIN_PROGRAMS) $(DESTDIR)$(PLUGINDIR)/
	install -m 644 include/portmux/detector.h $(DESTDIR)$(INCLUDEDIR)/portmux/
	test -e $(DESTDIR)$(SYSCONFDIR)/portmux/config.yaml || \
		install -m 644 etc/portmux/config.yaml $(DESTDIR)$(SYSCONFDIR)/portmux/
	test -e $(DESTDIR)$(SYSCONFDIR)/portmux/script.py || \
		install -m 644 etc/portmux/script.py $(DESTDIR)$(SYSCONFDIR)/portmux/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/portmux.service > \
		$(DESTDIR)$(UNITDIR)/portmux.service
	install -m 644 systemd/portmux.socket $(DESTDIR)$(UNITDIR)/
	install -d $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@PLUGINDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(PLUGINDIR))|' \
	    -e "s|@VERSION@|$$(sed -n 's/.*PORTMUX_VERSION \"\(.*\)\"/\1/p' core/version.h)|" \
	    portmux.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/portmux.pc
	install -m 644 systemd/sysusers.d/portmux.conf $(DESTDIR)$(SYSUSERSDIR)/
	install -m 644 man/portmux.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/portmux.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/portmux-detector.7 $(DESTDIR)$(MANDIR)/man7/

# Removes what install put there, file by file: third-party plugins in
# PLUGINDIR and the configuration in SYSCONFDIR stay (and so do their
# directories, which go only when empty).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/portmux \
		$(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%.so) \
		$(PLUGIN_PROGRAMS:$(BUILD)/plugins/%=$(DESTDIR)$(PLUGINDIR)/%) \
		$(DESTDIR)$(INCLUDEDIR)/portmux/detector.h \
		$(DESTDIR)$(UNITDIR)/portmux.service \
		$(DESTDIR)$(UNITDIR)/portmux.socket \
		$(DESTDIR)$(PKGCONFIGDIR)/portmux.pc \
		$(DESTDIR)$(SYSUSERSDIR)/portmux.conf \
		$(DESTDIR)$(MANDIR)/man8/portmux.8 \
		$(DESTDIR)$(MANDIR)/man5/portmux.yaml.5 \
		$(DESTDIR)$(MANDIR)/man7/portmux-detector.7
	@rmdir $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCLUDEDIR)/portmux \
		$(DESTDIR)$(SYSCONFDIR)/portmux 2>/dev/null || true

clean:
	rm -rf build build-asan build-tsan build-clang build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
