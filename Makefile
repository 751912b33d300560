# embecode build. `make` builds build/embecode; `make test` builds and runs every test;
# `make SAN=1 test` runs them under ASan+UBSan (build-san/); `make CC=clang` works too.
# Debian packages and npm sources are fetched on demand by scripts/deps.sh and `npm ci`.

CC      ?= cc
SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     ?= -O1
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
OPT     ?= -O2
SANFLAGS =
endif

TS_VENDOR := node_modules/tree-sitter/vendor/tree-sitter/lib
TSBUILD   := build/ts
CPPFLAGS  += -D_GNU_SOURCE -Isrc -I$(TS_VENDOR)/include
CFLAGS    ?= -g $(OPT)
CFLAGS    += -std=c17 -Wall -Wextra -Werror -pthread -MMD -MP $(SANFLAGS)
LDLIBS    += -lsqlite3 -lcjson -lcurl -lm -lpthread
LDFLAGS   += $(SANFLAGS) -pthread

SRCS      := $(wildcard src/*.c)
# MODULES="util log walk" restricts the library to those sources (for working on one module
# while others are being edited); by default every src/*.c but main.c is built.
ifdef MODULES
LIB_SRCS  := $(MODULES:%=src/%.c)
else
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
endif
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS:= $(wildcard bench/*.c)
BENCH_BINS:= $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

# Grammars: name:source-dir (each dir holds parser.c and maybe scanner.c).
GRAMMARS := python:tree-sitter-python/src javascript:tree-sitter-javascript/src \
  typescript:tree-sitter-typescript/typescript/src tsx:tree-sitter-typescript/tsx/src \
  go:tree-sitter-go/src rust:tree-sitter-rust/src java:tree-sitter-java/src \
  c:tree-sitter-c/src cpp:tree-sitter-cpp/src c_sharp:tree-sitter-c-sharp/src \
  ruby:tree-sitter-ruby/src php:tree-sitter-php/php/src bash:tree-sitter-bash/src
gname = $(word 1,$(subst :, ,$1))
gdir  = node_modules/$(word 2,$(subst :, ,$1))
# Grammars with an external scanner (src/scanner.c). Listed, not globbed: on a fresh clone
# node_modules does not exist yet when make reads this file.
SCANNERS := python javascript typescript tsx rust cpp c_sharp ruby php bash
TS_OBJS := $(TSBUILD)/lib.o $(foreach g,$(GRAMMARS),$(TSBUILD)/$(call gname,$g)_parser.o) \
  $(SCANNERS:%=$(TSBUILD)/%_scanner.o)
TS_LIB  := $(TSBUILD)/libts.a
TS_CFLAGS := -std=gnu11 -O2 -g0 -w -fPIC

NPM_STAMP := node_modules/.package-lock.json
DEPS_STAMP := build/.deps-ok

.PHONY: all deps test unit e2e run bench clean distclean format
all: $(BUILD)/embecode

deps: $(DEPS_STAMP) $(NPM_STAMP)

# Re-checked whenever the script changes; the script itself is a no-op when all is present.
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(dir $@)
	bash scripts/deps.sh
	@touch $@

$(NPM_STAMP): package.json package-lock.json | $(DEPS_STAMP)
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

$(TSBUILD)/lib.o: $(NPM_STAMP)
	@mkdir -p $(TSBUILD)
	$(CC) $(TS_CFLAGS) -I$(TS_VENDOR)/src -I$(TS_VENDOR)/include -c $(TS_VENDOR)/src/lib.c -o $@

define grammar_rules
$(TSBUILD)/$(call gname,$1)_parser.o: $(NPM_STAMP)
	@mkdir -p $(TSBUILD)
	$$(CC) $$(TS_CFLAGS) -I$(call gdir,$1) -c $(call gdir,$1)/parser.c -o $$@
$(TSBUILD)/$(call gname,$1)_scanner.o: $(NPM_STAMP)
	@mkdir -p $(TSBUILD)
	$$(CC) $$(TS_CFLAGS) -I$(call gdir,$1) -c $(call gdir,$1)/scanner.c -o $$@
endef
$(foreach g,$(GRAMMARS),$(eval $(call grammar_rules,$g)))

$(TS_LIB): $(TS_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: src/%.c | $(DEPS_STAMP) $(NPM_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libembecode.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/embecode: $(BUILD)/obj/main.o $(BUILD)/libembecode.a $(TS_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%.o: tests/unit/%.c | $(DEPS_STAMP) $(NPM_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libembecode.a $(TS_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%.o: bench/%.c | $(DEPS_STAMP) $(NPM_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libembecode.a $(TS_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(TEST_BINS)
test: $(BUILD)/embecode $(TEST_BINS)
	BUILD=$(BUILD) bash tests/run.sh

bench: $(BUILD)/embecode $(BENCH_BINS)

# The main job: index DIR (default: the current directory) and answer a sample search.
DIR ?= $(CURDIR)
QUERY ?= parse configuration file
run: $(BUILD)/embecode
	$(BUILD)/embecode --path "$(DIR)" index
	$(BUILD)/embecode --path "$(DIR)" search "$(QUERY)" --top-k 5

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build/obj build/tests build/bench build/embecode build/libembecode.a build-san

distclean:
	rm -rf build build-san node_modules

.SECONDARY:
-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/main.d $(TEST_BINS:=.d)
