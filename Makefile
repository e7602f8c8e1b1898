# imapscope — build, test, sanitize, install.
# Sources are found by wildcard so that a new module needs no Makefile edit.

PKGS      := libpcap libcrypto json-c zlib
TEST_PKGS := cmocka
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CC        ?= cc

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla -Iinclude $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS   += $(EXTRA_LDFLAGS)
LDLIBS    += $(PKG_LIBS)

LIB_SRC   := $(wildcard src/util/*.c src/net/*.c src/tls/*.c src/imap/*.c src/report/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN       := $(if $(filter build,$(BUILD)),imapscope,$(BUILD)/imapscope)

DEB_PKGS  := build-essential pkg-config libpcap-dev libssl-dev libjson-c-dev zlib1g-dev \
             libcmocka-dev tcpflow python3 python3-jsonschema

.PHONY: all test unit e2e sanitize deps demo install clean check-deps

all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS) $(TEST_LIBS)

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/main.d

check-deps:
	@pkg-config --exists $(PKGS) $(TEST_PKGS) || { \
	  echo "imapscope: missing libraries; run 'make deps' (Debian) or install: $(DEB_PKGS)" >&2; exit 1; }

unit: check-deps $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; $$t || { echo "FAILED: $$t"; fail=1; }; done; exit $$fail

e2e: $(BIN)
	@IMAPSCOPE=$(abspath $(BIN)) tests/e2e/run.sh

test: check-deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

# The same suite on an ASan+UBSan build, in its own build tree.
sanitize:
	@$(MAKE) --no-print-directory BUILD=build-san OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test

deps:
	@if pkg-config --exists $(PKGS) $(TEST_PKGS) && command -v tcpflow >/dev/null; then \
	  echo "dependencies present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS); fi

demo: deps
	@$(MAKE) --no-print-directory all
	./imapscope captures/demo.pcap

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/imapscope
	if [ -f docs/imapscope.1 ]; then install -m 0644 docs/imapscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

clean:
	rm -rf build build-san imapscope
