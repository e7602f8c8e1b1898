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

LIB_SRC   := $(wildcard src/util/*.c src/net/*.c src/tls/*.c src/imap/*.c src/report/*.c src/app/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/html_template.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN       := $(if $(filter build,$(BUILD)),imapscope,$(BUILD)/imapscope)

DEB_PKGS  := build-essential pkg-config libpcap-dev libssl-dev libjson-c-dev zlib1g-dev \
             libcmocka-dev tcpflow tshark time python3 python3-jsonschema

.PHONY: all test unit e2e sanitize deps demo install clean check-deps imap-standalone layers

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

# --html's page: src/report/html/ as real files, embedded at build time
# with the hashes its Content-Security-Policy names.
HTML_TMPL := $(wildcard src/report/html/*) scripts/gen_html_template.py
%/gen/html_template.c: $(HTML_TMPL)
	@mkdir -p $(dir $@)
	python3 scripts/gen_html_template.py src/report/html $@

$(BUILD)/gen/html_template.o: $(BUILD)/gen/html_template.c
	$(CC) $(CFLAGS) -c -o $@ $<

check-deps:
	@pkg-config --exists $(PKGS) $(TEST_PKGS) || { \
	  echo "imapscope: missing libraries; run 'make deps' (Debian) or install: $(DEB_PKGS)" >&2; exit 1; }

unit: check-deps $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; $$t || { echo "FAILED: $$t"; fail=1; }; done; exit $$fail

# imap/ on its own: src/imap and src/util compiled and linked with zlib and
# cmocka only (no OpenSSL, libpcap or json-c in the include path or the
# link), running the pipeline's test with a fake TLS layer.  A link error
# here means imap/ reached into another layer.
SOLO_BUILD  := $(BUILD)-standalone
SOLO_SRC    := $(wildcard src/util/*.c src/imap/*.c)
SOLO_OBJ    := $(SOLO_SRC:%.c=$(SOLO_BUILD)/%.o)
SOLO_CFLAGS := $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla \
               -Iinclude $(EXTRA_CFLAGS)

imap-standalone: $(SOLO_BUILD)/tests/test_imap_pipeline
	@echo "== $< (imap/ without OpenSSL)"; $<

$(SOLO_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SOLO_CFLAGS) -MMD -MP -c -o $@ $<

$(SOLO_BUILD)/tests/test_imap_pipeline: tests/unit/test_imap_pipeline.c $(SOLO_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SOLO_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $^ -lz $(TEST_LIBS)

-include $(SOLO_OBJ:.o=.d)

e2e: $(BIN)
	@IMAPSCOPE=$(abspath $(BIN)) tests/e2e/run.sh

# docs/ARCHITECTURE.md's rule of who may include and call whom.
layers: $(LIB_OBJ)
	@scripts/check-layers.sh $(BUILD)

test: check-deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory layers
	@$(MAKE) --no-print-directory imap-standalone
	@$(MAKE) --no-print-directory e2e

# The same suite on an ASan+UBSan build, in its own build tree.
sanitize:
	@$(MAKE) --no-print-directory BUILD=build-san OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test

deps:
	@if pkg-config --exists $(PKGS) $(TEST_PKGS) && command -v tcpflow >/dev/null && \
	    command -v tshark >/dev/null && [ -x /usr/bin/time ] && \
	    python3 -c 'import jsonschema' 2>/dev/null; then \
	  echo "dependencies present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS); fi

demo: deps
	@$(MAKE) --no-print-directory all
	./imapscope captures/demo.pcap

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/imapscope
	if [ -f docs/imapscope.1 ]; then install -m 0644 docs/imapscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

clean:
	rm -rf build build-san build-standalone build-san-standalone imapscope

# --- fuzzing (tests/fuzz/) ---------------------------------------------------
# libFuzzer targets, built with clang in their own tree (no gcc objects): the
# library with coverage, ASan and UBSan, each target linked with the fuzzer.
# `make fuzz` seeds from tests/fuzz/seeds, from stream extracts of captures/
# and of the capture files in FUZZ_CAPTURES (made at run time under
# build-fuzz/, never committed) and, for the pipeline, from those captures
# by path; it runs
# each target FUZZ_SECONDS and fails on any crash, leak or hang.  FUZZ_SAN
# may be overridden (e.g. add -fno-sanitize=pointer-overflow) to explore
# past a known finding; FUZZ_ARGS is passed to every target.  Crashes
# are kept as tests/fuzz/regress/<target>/ inputs, which `make fuzz` and
# `make fuzz-regress` replay first.  Debian: clang libclang-rt-14-dev.
FUZZ_CC       ?= clang
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 30
FUZZ_CAPTURES ?= ../shared/captures/public
FUZZ_ARGS     ?=
FUZZ_SAN      ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow -Wvla \
                 -Iinclude -Itests/fuzz $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_OBJ  := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/gen/html_template.o
FUZZ_LIB      := $(FUZZ_BUILD)/libimapscope.a
FUZZ_COMMON   := $(FUZZ_BUILD)/tests/fuzz/fuzz_common.o
FUZZ_TARGETS  := $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_common.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
# -max_len per target: a line with literals; a few TLS records; a key log;
# the largest public capture.
FUZZ_MAXLEN_imap_lexer := 16384
FUZZ_MAXLEN_session    := 16384
FUZZ_MAXLEN_tls_record := 32768
FUZZ_MAXLEN_keylog     := 8192
FUZZ_MAXLEN_pipeline   := 262144

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-regress fuzz-clean
# Keep the objects of the pattern chain, so a rebuild compiles only what changed.
.SECONDARY: $(FUZZ_COMMON) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)

fuzz-build: $(FUZZ_BINS) $(FUZZ_BUILD)/fuzz_mkseeds

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/gen/html_template.o: $(FUZZ_BUILD)/gen/html_template.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

# The seed extractor is a plain program (it has its own main()).
$(FUZZ_BUILD)/fuzz_mkseeds: $(FUZZ_BUILD)/tests/fuzz/mkseeds.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $^ $(PKG_LIBS) -lm

-include $(FUZZ_LIB_OBJ:.o=.d) $(wildcard $(FUZZ_BUILD)/tests/fuzz/*.d)

fuzz-seeds: $(FUZZ_BUILD)/fuzz_mkseeds
	@rm -rf $(FUZZ_BUILD)/seeds-gen && mkdir -p $(FUZZ_BUILD)/seeds-gen
	@[ -d "$(FUZZ_CAPTURES)" ] || echo "fuzz: no captures at $(FUZZ_CAPTURES); ours only"; \
	for f in captures/*.pcap* $(wildcard $(FUZZ_CAPTURES)/*.pcap*); do \
	  $(FUZZ_BUILD)/fuzz_mkseeds $(FUZZ_BUILD)/seeds-gen $$f 2>$(FUZZ_BUILD)/mkseeds.log || \
	    { grep -m1 -E 'runtime error|ERROR' $(FUZZ_BUILD)/mkseeds.log; \
	      echo "fuzz: $$f: seed extraction crashed (seeds of that capture lost)"; }; done

# Replay every kept crash once, without fuzzing.
fuzz-regress: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  set -- tests/fuzz/regress/$$t/*; [ -e "$$1" ] || continue; \
	  echo "== regress $$t ($$# inputs)"; \
	  $(FUZZ_BUILD)/fuzz_$$t -runs=1 "$$@" >$(FUZZ_BUILD)/regress-$$t.log 2>&1 || \
	    { tail -40 $(FUZZ_BUILD)/regress-$$t.log; echo "FAILED: regress $$t"; fail=1; }; \
	done; exit $$fail

# A failing replay fails the run, but every target is still fuzzed.
fuzz: fuzz-build fuzz-seeds
	@fail=0; $(MAKE) --no-print-directory fuzz-regress || fail=1; \
	for t in $(FUZZ_TARGETS); do \
	  corpus=$(FUZZ_BUILD)/corpus/$$t; crashes=$(FUZZ_BUILD)/crashes/$$t; \
	  mkdir -p $$corpus $$crashes; seeds=""; \
	  for d in tests/fuzz/seeds/$$t $(FUZZ_BUILD)/seeds-gen/$$t; do \
	    [ -d $$d ] && seeds="$$seeds $$d"; done; \
	  if [ $$t = pipeline ]; then seeds="$$seeds captures tests/data/tls"; \
	    [ -d "$(FUZZ_CAPTURES)" ] && seeds="$$seeds $(FUZZ_CAPTURES)"; fi; \
	  if [ $$t = keylog ] && [ -d "$(FUZZ_CAPTURES)" ]; then \
	    mkdir -p $(FUZZ_BUILD)/seeds-gen/keylog; \
	    for k in $(FUZZ_CAPTURES)/*.keylog; do [ -e "$$k" ] && ln -sf "$$(realpath $$k)" $(FUZZ_BUILD)/seeds-gen/keylog/; done; \
	  fi; \
	  case $$t in imap_lexer) len=$(FUZZ_MAXLEN_imap_lexer);; session) len=$(FUZZ_MAXLEN_session);; \
	    tls_record) len=$(FUZZ_MAXLEN_tls_record);; keylog) len=$(FUZZ_MAXLEN_keylog);; \
	    pipeline) len=$(FUZZ_MAXLEN_pipeline);; *) len=16384;; esac; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s (max_len $$len)"; \
	  cat captures/*.keylog tests/data/tls/*.keylog $$(ls $(FUZZ_CAPTURES)/*.keylog 2>/dev/null) \
	    >$(FUZZ_BUILD)/all.keylog; \
	  FUZZ_TLS_KEYLOG=$(FUZZ_BUILD)/all.keylog \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=$$len -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$$crashes/ $(FUZZ_ARGS) \
	    $$corpus $$seeds >$(FUZZ_BUILD)/fuzz-$$t.log 2>&1; rc=$$?; \
	  grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::new_units_added' $(FUZZ_BUILD)/fuzz-$$t.log | tr '\n' ' '; echo; \
	  if [ $$rc -ne 0 ]; then tail -60 $(FUZZ_BUILD)/fuzz-$$t.log; \
	    echo "FAILED: fuzz $$t (exit $$rc); inputs in $$crashes/"; fail=1; fi; \
	done; exit $$fail

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

# --- benchmark (bench/, scripts/bench.sh) -------------------------------------
# Tools for scripts/bench.sh only: a bare pcap_next_ex loop (the floor) and a
# generator of benchmark captures.  Built with -O2 whatever OPT says; CI
# never runs the benchmark.
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla $(PKG_CFLAGS)

.PHONY: bench

bench: $(BIN) $(BUILD)/bench/pcap_loop $(BUILD)/bench/gen_capture

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(PKG_LIBS)
