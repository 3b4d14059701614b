# lamina - plain GNU make; dependencies through pkg-config.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DESTDIR ?=
BUILD ?= build

PKGS := libarchive libcurl jansson libzstd libcrypto libdeflate zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS ?= -O2 -g
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wformat=2
ALL_CFLAGS = $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -I$(BUILD)/gen -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) -pthread
LIBS = $(PKG_LIBS) -pthread -lm

# src/<folder>/*.c: every folder is library code but cli/main.c (docs/architecture.md).
SRC := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
# the scripts that run inside images, embedded into the library
SCRIPTS := $(wildcard src/run/scripts/*.py src/run/scripts/*.js)
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/scripts.o
LIB := $(BUILD)/liblamina.a
BIN := $(BUILD)/lamina
UNIT_SRC := $(wildcard tests/unit/*/check_*.c)
# shared helpers of the suites (tests/unit/*.c but the runner's main.c)
UNIT_HELP := $(filter-out tests/unit/main.c,$(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%.o) $(UNIT_HELP:tests/unit/%.c=$(BUILD)/unit/%.o)
UNIT_BIN := $(BUILD)/unit/run-unit
SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c), built with clang into build/fuzz
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
# how long `make test` runs each harness
FUZZ_BRIEF ?= 30

.PHONY: all test check unit install uninstall clean format demo deps bench bench-incremental bench-bundle fuzz fuzz-bins man
all: $(BIN)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The digest of lamina's own sources: every action-cache key includes it, so a lamina
# built from other sources never takes another's cached results (image/acache.c).
$(BUILD)/gen/buildid.h: $(wildcard src/*/*.c src/*/*.h src/*/*/*) Makefile
	@mkdir -p $(@D)
	@id=$$(cat $(sort $^) | sha256sum | cut -c1-64); \
	 printf '#define LM_BUILD_ID "%s"\n' "$$id" > $@.tmp && \
	 if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/image/acache.o: $(BUILD)/gen/buildid.h

$(BUILD)/gen/scripts.c: $(SCRIPTS) scripts/embed.sh
	@mkdir -p $(@D)
	scripts/embed.sh $@ $(foreach f,$(SCRIPTS),lm_script_$(subst .,_,$(notdir $(f)))=$(f))

$(BUILD)/obj/gen/scripts.o: $(BUILD)/gen/scripts.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(BUILD)/obj/cli/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The unit runner: every tests/unit/<folder>/check_<name>.c defines Suite *suite_<name>(void).
$(BUILD)/unit/suites.h: $(UNIT_SRC)
	@mkdir -p $(@D)
	@{ for f in $(UNIT_SRC); do n=$$(basename $$f .c); n=$${n#check_}; \
	   echo "X($$n)"; done; } > $@.tmp && mv $@.tmp $@

$(BUILD)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/unit/main.o: tests/unit/main.c $(BUILD)/unit/suites.h
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/unit -c -o $@ $<

$(UNIT_BIN): $(BUILD)/unit/main.o $(UNIT_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -Itests/fuzz -o $@ $< $(LIB) $(LIBS)

fuzz-bins: $(FUZZ_BIN)

# Each harness for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/<name>); what it
# finds is kept in build/fuzz/corpus and build/fuzz/findings (docs/testing.md).
fuzz:
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" fuzz-bins
	@scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

deps:
	@scripts/deps.sh

# Every test: Check unit tests, then the end-to-end tests against real parts.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@LAMINA=$(abspath $(BIN)) UNIT_BIN=$(abspath $(UNIT_BIN)) tests/run.sh $(TESTS)
	@if [ -z "$(TESTS)" ] && [ "$(SKIP_FUZZ)" != 1 ]; then \
		$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_BRIEF); fi

# The same tests with AddressSanitizer + UndefinedBehaviorSanitizer.
check: deps
	@$(MAKE) --no-print-directory BUILD=build/san CFLAGS="$(SAN)" LDFLAGS="-fsanitize=address,undefined" SKIP_FUZZ=1 test

# Build the tool and run its main job on the shipped example (offline: fixture base).
demo:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@LAMINA=$(abspath $(BIN)) scripts/demo.sh

bench: all
	@LAMINA=$(abspath $(BIN)) scripts/bench-build.sh

bench-incremental: all
	@LAMINA=$(abspath $(BIN)) scripts/bench-incremental.sh

bench-bundle: all
	@LAMINA=$(abspath $(BIN)) scripts/bench-bundle.sh

# The manual pages come from the binary's own --help (scripts/gen-man.sh): they cannot drift.
$(BUILD)/man/lamina.1: $(BIN) scripts/gen-man.sh
	scripts/gen-man.sh $(BIN) $(BUILD)/man

man: $(BUILD)/man/lamina.1

install: $(BIN) $(BUILD)/man/lamina.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/lamina \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/lamina
	install -m 0644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 contrib/completion/lamina.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/lamina
	install -m 0644 contrib/completion/_lamina $(DESTDIR)$(DATADIR)/zsh/site-functions/_lamina
	install -m 0644 docs/manifest.schema.json $(DESTDIR)$(DATADIR)/lamina/manifest.schema.json

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lamina $(DESTDIR)$(MANDIR)/man1/lamina.1 $(DESTDIR)$(MANDIR)/man1/lamina-*.1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/lamina $(DESTDIR)$(DATADIR)/zsh/site-functions/_lamina \
		$(DESTDIR)$(DATADIR)/lamina/manifest.schema.json

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*/*.c

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(BUILD)/obj/cli/main.d $(UNIT_OBJ:.o=.d) $(FUZZ_BIN:=.d)
