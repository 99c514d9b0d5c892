# mqcert: `make` builds build/mqadmin and build/mqcert.so; `make test` builds
# an AddressSanitizer/UBSan copy in build/asan and runs every test.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
WERROR   ?=
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter -Wvla
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DMQCERT_VERSION='"$(VERSION)"'
CFLAGS   += -std=c11 $(OPT) $(WARN) $(WERROR) -fPIC -fvisibility=hidden $(SAN)
LDFLAGS  += $(SAN)

ifeq ($(CI),true)
WERROR := -Werror
endif

CORE_SRC   := $(wildcard core/*.c)
ADMIN_SRC  := $(wildcard admin/*.c)
PLUGIN_SRC := $(wildcard plugin/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
ADMIN_OBJ  := $(ADMIN_SRC:%.c=$(BUILD)/obj/%.o)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DEPS_STAMP := build/.deps-ok

.PHONY: all deps test unit demo bench clean install
all: $(BUILD)/mqadmin $(BUILD)/mqcert.so $(BUILD)/mqadmin.1 $(BUILD)/mqcert-renew

# Every build first makes sure the Debian packages are there.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/ensure-deps
	@scripts/ensure-deps
	@mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/mqadmin: $(CORE_OBJ) $(ADMIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lmosquitto -lssl -lcrypto -lcjson

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
$(BUILD)/mqcert.so: $(CORE_OBJ) $(PLUGIN_OBJ) plugin/mqcert.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=plugin/mqcert.map -o $@ \
		$(CORE_OBJ) $(PLUGIN_OBJ) -lcrypto -lcjson -lpthread

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(LDFLAGS) -lcmocka -lssl -lcrypto -lcjson

unit: $(UNIT_BIN)

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

test: $(DEPS_STAMP)
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" WERROR=-Werror all unit
	tests/run build/asan

demo: all
	examples/demo.sh

# Not part of `make test`. BENCH_QUICK=1 make bench: a ~2-minute smoke run.
bench: all
	@scripts/ensure-deps valgrind gnuplot-nox
	@mkdir -p $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/loadgen bench/loadgen.c $(LDFLAGS) \
		-lmosquitto -lssl -lcrypto -lpthread
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/acl_bench bench/acl_bench.c $(CORE_OBJ) \
		$(LDFLAGS) -lssl -lcrypto -lcjson
	@echo "== ACL check cost (bench/acl_bench.c)"
	$(BUILD)/bench/acl_bench | tee $(BUILD)/bench/acl_bench.txt
	bench/run $(BUILD)
	@echo "== Issuance (bench/issuance): device batch --count 1000 vs the openssl recipe"
	bench/issuance $(BUILD) | tee $(BUILD)/bench/issuance.txt
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/renew_load bench/renew_load.c $(LDFLAGS) \
		-lmosquitto -lssl -lcrypto
	@echo "== Online renewal (bench/renew): 1,000 devices ask mqadmin serve at once"
	bench/renew $(BUILD)

# Installs mqadmin and the plugin where mqadmin's broker-config finds it
# (PREFIX/lib/mqcert/mqcert.so); the plugin is world-readable so the
# broker can load it after dropping to user mosquitto.
PREFIX  ?= /usr/local
DESTDIR ?=
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/mqcert
	install -m 0755 $(BUILD)/mqadmin $(DESTDIR)$(PREFIX)/bin/mqadmin
	install -m 0644 $(BUILD)/mqcert.so $(DESTDIR)$(PREFIX)/lib/mqcert/mqcert.so
	if [ -f $(BUILD)/mqadmin.1 ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man1 && \
		install -m 0644 $(BUILD)/mqadmin.1 $(DESTDIR)$(PREFIX)/share/man/man1/mqadmin.1; fi
	if [ -f examples/bash-completion/mqadmin ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions && \
		install -m 0644 examples/bash-completion/mqadmin \
			$(DESTDIR)$(PREFIX)/share/bash-completion/completions/mqadmin; fi

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
