# mqcert: `make` builds build/mqadmin and build/mqcert.so; `make test` builds
# an AddressSanitizer/UBSan copy in build/asan and runs every test. Only
# `make deps` (which demo, test, bench and deb run first) installs Debian
# packages; plain `make` checks for them and stops, naming `make deps`.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
WERROR   ?=
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter -Wvla
# Debian's multiarch directory (x86_64-linux-gnu): the Debian package puts
# the plugin beside mosquitto's own plugins, /usr/lib/TRIPLET/mosquitto/.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DMQCERT_VERSION='"$(VERSION)"' \
            -DMQCERT_MULTIARCH='"$(MULTIARCH)"'
CFLAGS   += -std=c11 $(OPT) $(WARN) $(WERROR) -fPIC -fvisibility=hidden $(SAN)
LDFLAGS  += $(SAN)

ifeq ($(CI),true)
WERROR := -Werror
endif

CORE_SRC   := $(wildcard core/*.c)
ADMIN_SRC  := $(wildcard admin/*.c)
PLUGIN_SRC := $(wildcard plugin/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
# Reference implementations the tests, fuzz targets and bench check the
# product against; never linked into mqcert.so or mqadmin.
SUPPORT_SRC := $(wildcard tests/support/*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
ADMIN_OBJ  := $(ADMIN_SRC:%.c=$(BUILD)/obj/%.o)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
# core/ as a static library both binaries (and the tests) link: each takes
# only the members it uses.
CORE_LIB   := $(BUILD)/libmqcore.a
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DEPS_STAMP := build/.deps-ok

.PHONY: all deps test unit demo fleet-demo bench-fleet bench bench-run clean install uninstall deb fuzz fuzz-build fuzz-bins torture
all: $(BUILD)/mqadmin $(BUILD)/mqcert.so $(BUILD)/mqadmin.1 $(BUILD)/mqcert-renew

# `make deps` installs the Debian packages the build and the tests need (as
# root, apt-get). Every other build only checks for them (the stamp), so
# `make` never changes the system.
deps:
	@scripts/ensure-deps
	@mkdir -p $(dir $(DEPS_STAMP)) && touch $(DEPS_STAMP)
$(DEPS_STAMP): scripts/ensure-deps
	@scripts/ensure-deps --check
	@mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj/tests/support/%.o: CPPFLAGS += -Icore

$(BUILD)/mqadmin: $(ADMIN_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(ADMIN_OBJ) $(CORE_LIB) -lmosquitto -lssl -lcrypto -lcjson -llmdb -lcurl

# The reference device client of online renewal (examples/renew/): a
# program of its own, built with the project's flags but none of its code.
$(BUILD)/mqcert-renew: examples/renew/mqcert-renew.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lmosquitto -lssl -lcrypto -lcjson

# The man page comes from the same command table as --help.
$(BUILD)/mqadmin.1: $(BUILD)/mqadmin
	$(BUILD)/mqadmin --man >$@.tmp && mv $@.tmp $@

# Broker symbols (mosquitto_*) resolve against the running mosquitto; the
# version script exports only the three plugin entry points.
$(BUILD)/mqcert.so: $(PLUGIN_OBJ) $(CORE_LIB) plugin/mqcert.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=plugin/mqcert.map -o $@ \
		$(PLUGIN_OBJ) $(CORE_LIB) -lcrypto -lcjson -llmdb

$(BUILD)/tests/%: tests/unit/%.c $(SUPPORT_OBJ) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) -o $@ $< $(SUPPORT_OBJ) $(CORE_LIB) $(LDFLAGS) \
		-lcmocka -lssl -lcrypto -lcjson -llmdb

# bench/genstore (a synthetic fleet written straight into a store) is built
# with the unit tests: tests/cli/t0300-bench-smoke.sh runs it.
unit: $(UNIT_BIN) $(BUILD)/bench/genstore

$(BUILD)/bench/genstore: bench/genstore.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(CORE_LIB) $(LDFLAGS) -lssl -lcrypto -lcjson -llmdb

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

test: deps
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" WERROR=-Werror all unit
	$(MAKE) fuzz-build
	MQ_FUZZ_BUILD=$(CURDIR)/build/fuzz MQ_FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) tests/run build/asan

# The store's crash test in full: 1,000 kill -9 of mqadmin mid-command
# (make test runs 30). TORTURE_KILLS=N for another number.
TORTURE_KILLS ?= 1000
torture: deps
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" WERROR=-Werror all
	MQ_BUILD=$(CURDIR)/build/asan MQ_TORTURE_KILLS=$(TORTURE_KILLS) bash tests/cli/t0253-store-crash.sh

# libFuzzer targets (fuzz/fuzz_NAME.c, seeds in fuzz/corpus/NAME/), built by
# clang into build/fuzz with the project's sources instrumented for coverage.
# `make fuzz FUZZ_SECONDS=N` runs each for N seconds on a copy of the corpus
# in build/fuzz/corpus; `make test` runs each for FUZZ_TEST_SECONDS.
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 5
FUZZ_TARGETS      ?=
FUZZ_ARGS         ?=
FUZZ_SAN   := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/bin/%)
FUZZ_LIBOBJ := $(BUILD)/obj/fuzz/fuzzlib.o
ADMIN_LIB_OBJ := $(filter-out %/admin/main.o,$(ADMIN_OBJ))

fuzz-build: $(DEPS_STAMP)
	@scripts/ensure-deps clang libclang-rt-14-dev
	$(MAKE) BUILD=build/fuzz CC=clang OPT="-O1 -g" SAN="$(FUZZ_SAN)" WERROR=-Werror \
		CPPFLAGS_FUZZ='-Iadmin -DFUZZ_PKI_DIR=\"$(CURDIR)/fuzz/pki\"' fuzz-bins

fuzz-bins: $(FUZZ_BIN)
.SECONDARY: $(FUZZ_LIBOBJ)

$(BUILD)/obj/fuzz/%.o: CPPFLAGS += $(CPPFLAGS_FUZZ)
$(BUILD)/bin/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIBOBJ) $(SUPPORT_OBJ) $(CORE_LIB) $(ADMIN_LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CPPFLAGS_FUZZ) -Itests/support $(CFLAGS) -fsanitize=fuzzer -MMD -MP \
		-MF $(BUILD)/obj/fuzz/$(@F).d -o $@ $< $(FUZZ_LIBOBJ) $(SUPPORT_OBJ) $(ADMIN_LIB_OBJ) $(CORE_LIB) \
		$(LDFLAGS) -fsanitize=fuzzer -lmosquitto -lssl -lcrypto -lcjson -llmdb -lcurl

fuzz: fuzz-build
	FUZZ_ARGS="$(FUZZ_ARGS)" fuzz/run build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo: deps
	$(MAKE) all
	examples/demo.sh

# A fleet on loopback (docs/FLEET.md): 3 etcd members, 3 brokers with their
# syncs, HAProxy in front; narrated, everything stopped at the end.
fleet-demo: deps
	$(MAKE) all
	MQ_DEMO_BUILD=$(BUILD) scripts/fleet-demo

# Not part of `make test`. BENCH_QUICK=1 make bench: a smoke run of a few
# minutes. BENCH_DEVICES (bench/run's fleet sizes, default 10 100000 1000000)
# and BENCH_SIZES (the issue-15 goal table's, default 100000 1000000) choose
# the sizes; docs/BENCHMARKS.md says how long each part takes.
bench: deps
	@scripts/ensure-deps valgrind gnuplot-nox
	$(MAKE) bench-run
bench-run: all $(SUPPORT_OBJ) $(BUILD)/bench/genstore
	@mkdir -p $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/loadgen bench/loadgen.c $(LDFLAGS) \
		-lmosquitto -lssl -lcrypto -lpthread
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) -o $(BUILD)/bench/acl_bench bench/acl_bench.c \
		$(SUPPORT_OBJ) $(CORE_LIB) $(LDFLAGS) -lssl -lcrypto -lcjson -llmdb
	@echo "== ACL check cost (bench/acl_bench.c)"
	$(BUILD)/bench/acl_bench | tee $(BUILD)/bench/acl_bench.txt
	bench/run $(BUILD)
	@echo "== Issue 15 goals (bench/goals): the store at $${BENCH_SIZES:-100000 1000000} devices"
	bench/goals $(BUILD)
	@echo "== Issuance (bench/issuance): device batch --count 1000 vs the openssl recipe"
	bench/issuance $(BUILD) | tee $(BUILD)/bench/issuance.txt
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/renew_load bench/renew_load.c $(LDFLAGS) \
		-lmosquitto -lssl -lcrypto
	@echo "== Online renewal (bench/renew): 1,000 devices ask mqadmin serve at once"
	bench/renew $(BUILD)
	@if [ "$${BENCH_FLEET:-1}" != 0 ]; then \
		echo "== The fleet (bench/fleet/run): 3 etcd members, 3 brokers, 100,000 devices"; \
		bench/fleet/run $(BUILD); \
	fi

# The fleet's figures (docs/FLEET.md): 100,000 devices in etcd, 3 brokers;
# revoke and issue latency across the fleet, a 1,000-change burst. `make
# bench` runs it last (BENCH_FLEET=0 skips it); this target runs it alone.
bench-fleet: deps
	$(MAKE) all
	bench/fleet/run $(BUILD)

# Installs mqadmin and the plugin where mqadmin's broker-config finds it
# (PREFIX/lib/mqcert/mqcert.so; the Debian package sets PLUGINDIR); the
# plugin is world-readable so the broker can load it after dropping to user
# mosquitto. `make uninstall` with the same PREFIX, DESTDIR and PLUGINDIR
# removes exactly these files and PREFIX/lib/mqcert; the shared directories
# (bin, share/man/man1, ...) stay, as /usr/local's do on Debian, except in a
# DESTDIR staging tree, where the ones left empty are removed up to DESTDIR.
PREFIX    ?= /usr/local
DESTDIR   ?=
PLUGINDIR ?= $(PREFIX)/lib/mqcert
INSTALLED := $(PREFIX)/bin/mqadmin $(PLUGINDIR)/mqcert.so \
             $(PREFIX)/share/man/man1/mqadmin.1 $(PREFIX)/share/man/man5/mqcert.5 \
             $(PREFIX)/share/bash-completion/completions/mqadmin
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/mqadmin $(DESTDIR)$(PREFIX)/bin/mqadmin
	install -m 0644 $(BUILD)/mqcert.so $(DESTDIR)$(PLUGINDIR)/mqcert.so
	install -m 0644 $(BUILD)/mqadmin.1 $(DESTDIR)$(PREFIX)/share/man/man1/mqadmin.1
	install -m 0644 docs/mqcert.5 $(DESTDIR)$(PREFIX)/share/man/man5/mqcert.5
	install -m 0644 examples/bash-completion/mqadmin \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/mqadmin

# Never builds anything; rmdir leaves every directory that holds anything else.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/lib/mqcert 2>/dev/null
	@if [ -n "$(DESTDIR)" ]; then \
		for f in $(INSTALLED); do \
			d=$${f%/*}; \
			while [ -n "$$d" ]; do \
				[ ! -d "$(DESTDIR)$$d" ] || rmdir "$(DESTDIR)$$d" 2>/dev/null || break; \
				d=$${d%/*}; \
			done; \
		done; \
	fi

# mqcert_VERSION_ARCH.deb in build/ (debian/rules builds afresh in build/deb
# and cleans up after), then lintian on it, which must report no error. The
# version in debian/changelog must be $(VERSION).
deb: deps
	@scripts/ensure-deps debhelper lintian fakeroot dpkg-dev
	@v=$$(dpkg-parsechangelog -SVersion); [ "$$v" = "$(VERSION)" ] || { \
		echo "make deb: debian/changelog says $$v but the Makefile says $(VERSION):" \
			"add a changelog entry (dch -v $(VERSION))" >&2; exit 1; }
	dpkg-checkbuilddeps
	debian/rules clean
	debian/rules build
	fakeroot debian/rules binary
	lintian --fail-on error build/mqcert_$(VERSION)_$$(dpkg-architecture -qDEB_HOST_ARCH).deb
	debian/rules clean
	@echo "built build/mqcert_$(VERSION)_$$(dpkg-architecture -qDEB_HOST_ARCH).deb"

clean:
	rm -rf build debian/mqcert debian/.debhelper debian/files debian/*.substvars \
		debian/debhelper-build-stamp debian/*.debhelper.log

-include $(shell find build -name '*.d' 2>/dev/null)
