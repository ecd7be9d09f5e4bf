# policy-search: one Makefile, explicit source lists.
#
#   make          build bin/policy-index, bin/policy-search, bin/policy-web
#   make test     install what is missing, build, run every test
#   make run      install what is missing, build, index fixtures, serve :8080
#   make bench    benchmarks on a generated corpus (needs ../shared)

CC  ?= cc
CXX ?= c++
BUILD ?= build
BIN   ?= bin
SAN   ?=

PKGS = xapian-core icu-uc icu-i18n libmicrohttpd jansson zlib
# The document readers (policy-extract only).
EXT_PKGS = libxml-2.0 libarchive poppler-glib cairo tesseract lept freexl

OPT ?= -O2
ASANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SANFLAGS = $(if $(SAN),$(ASANFLAGS))
# Messages are cut to fit their buffers on purpose.
CWARNS   = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format-truncation
CFLAGS   = -std=c11 $(OPT) -g $(CWARNS) $(SANFLAGS) -D_GNU_SOURCE \
           -DPS_DATA_DIR='"$(CURDIR)/data"' -I. -Ilib -I$(BUILD) \
           $(shell pkg-config --cflags icu-uc jansson libmicrohttpd 2>/dev/null)
CXXFLAGS = -std=c++17 $(OPT) -g -Wall -Wextra -Werror $(SANFLAGS) -Ilib \
           $(shell pkg-config --cflags xapian-core 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
# policy-search starts once per query, and loading ICU's and jansson's
# shared objects (relocations, page faults) was a fifth of a one-off
# query: it takes their static archives (libicu-dev, libjansson-dev ship
# them; the ICU data is then part of the program, read on demand), and
# only the shared objects it calls.  Without the archives, as the others.
STATIC_A = $(foreach l,icui18n icuuc icudata jansson,\
             $(wildcard $(shell pkg-config --variable=libdir icu-uc 2>/dev/null)/lib$(l).a))
SEARCH_STATIC = -Wl,--as-needed $(shell pkg-config --libs xapian-core zlib 2>/dev/null) \
                -Wl,-Bstatic -ljansson -licui18n -licuuc -licudata -Wl,-Bdynamic \
                -ldl -lpthread -lm
SEARCH_LDLIBS = $(if $(word 4,$(STATIC_A)),$(SEARCH_STATIC),$(LDLIBS))

LIB_C  = lib/util.c lib/strset.c lib/decode.c lib/normalize.c lib/passage.c lib/extract.c \
         lib/tokenize.c lib/numbers.c lib/regions.c lib/sectors.c lib/grams.c lib/dset.c lib/vrange.c \
         lib/analyze.c lib/query.c lib/snippet.c lib/search.c lib/ncache.c lib/index.c lib/pool.c lib/docmeta.c \
         lib/blockcheck.c lib/fdict.c lib/fcol.c lib/fcount.c
LIB_CXX = lib/xap.cc
LIB_OBJ = $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
EXT_C  = lib/extract_html.c lib/extract_zip.c lib/extract_pdf.c lib/extract_ole.c \
         lib/extract_mime.c
EXT_OBJ = $(EXT_C:%.c=$(BUILD)/%.o)
$(EXT_OBJ) $(BUILD)/indexer/policy-extract.o: CFLAGS += $(shell pkg-config --cflags $(EXT_PKGS) 2>/dev/null)

PROGS = $(BIN)/policy-index $(BIN)/policy-search $(BIN)/policy-web $(BIN)/policy-extract
UNIT_TESTS = $(BIN)/test-unit $(BIN)/test-xap

.PHONY: all setup test test-unit test-e2e test-asan test-browser run bench clean fuzz fuzz-build fuzz-replay soak stress

all: $(PROGS) $(UNIT_TESTS)

# Install the Debian and npm packages that are missing.  Idempotent and
# quiet when everything is there.
setup:
	@sh tools/setup.sh

$(BUILD)/t2s.inc: tools/gen-t2s.c
	@mkdir -p $(BUILD)
	$(CC) -O1 -o $(BUILD)/gen-t2s tools/gen-t2s.c $(shell pkg-config --cflags --libs icu-uc icu-i18n)
	$(BUILD)/gen-t2s > $@.tmp && mv $@.tmp $@

$(BUILD)/lib/normalize.o: $(BUILD)/t2s.inc

$(BUILD)/%.o: %.c lib/*.h
	@mkdir -p $(dir $@)
	@echo "  CC   $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cc lib/xap.h
	@mkdir -p $(dir $@)
	@echo "  CXX  $<"
	@$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BIN)/policy-index: $(BUILD)/indexer/policy-index.o $(BUILD)/indexer/deflate_level.o $(LIB_OBJ)
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/policy-extract: $(BUILD)/indexer/policy-extract.o $(EXT_OBJ) $(LIB_OBJ)
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(EXT_PKGS) 2>/dev/null)

$(BIN)/policy-search: $(BUILD)/searcher/policy-search.o $(LIB_OBJ)
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(SEARCH_LDLIBS)

$(BIN)/policy-web: $(BUILD)/web/policy-web.o $(BUILD)/web/gate.o $(BUILD)/web/rcache.o $(BUILD)/web/assets.o $(LIB_OBJ)
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(LDLIBS)

# The page's static files are embedded in the binary.
WEB_STATIC = web/static/index.html web/static/app.js web/static/style.css
$(BUILD)/web/assets.c: $(WEB_STATIC) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh $(WEB_STATIC) > $@.tmp && mv $@.tmp $@

$(BUILD)/web/assets.o: $(BUILD)/web/assets.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/test-unit: $(BUILD)/tests/unit.o $(LIB_OBJ)
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/test-xap: $(BUILD)/tests/xap_test.o $(BUILD)/lib/xap.o $(BUILD)/lib/util.o $(BUILD)/lib/blockcheck.o
	@mkdir -p $(BIN)
	@echo "  LINK $@"
	@$(CXX) $(SANFLAGS) -o $@ $^ $(LDLIBS)

test: setup
	$(MAKE) all
	$(MAKE) test-unit test-e2e
	$(MAKE) test-asan
	$(MAKE) test-browser

test-unit: $(UNIT_TESTS)
	$(BIN)/test-unit
	$(BIN)/test-xap

test-e2e: $(PROGS)
	BIN=$(CURDIR)/$(BIN) sh tests/run-e2e.sh

# The unit and end-to-end tests again, built with ASan + UBSan; and every
# fuzz target's seeds and crash reproducers.  (new_delete_type_mismatch is
# off: libxapian 1.4.22's own Database::check() deletes a table through a
# base of another size, which ASan reports from inside the library; and
# tests/asan.supp leaves the library's reads of damaged blocks to it.)
test-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:new_delete_type_mismatch=0:suppressions=$(CURDIR)/tests/asan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  $(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 test-unit test-e2e
	$(MAKE) fuzz-replay

test-browser: $(PROGS)
	BIN=$(CURDIR)/$(BIN) sh tests/browser/run.sh

run: setup
	$(MAKE) all
	rm -rf build/run-db
	$(BIN)/policy-index --db build/run-db fixtures tests/data/meta
	@echo "serving http://127.0.0.1:8080"
	$(BIN)/policy-web --db build/run-db --port 8080

# 25 rounds of changed documents with the indexer killed at random
# moments (or a second indexer started beside it); make test runs it too.
soak: $(PROGS)
	BIN=$(CURDIR)/$(BIN) python3 tests/soak.py --rounds $(or $(SOAK_ROUNDS),25)

# A minute of queries against an indexer committing as fast as it can,
# compactions included: every request must answer 200 (make test runs
# half a minute of it).
stress: $(PROGS)
	BIN=$(CURDIR)/$(BIN) python3 tests/stress.py --seconds $(or $(STRESS_SECONDS),60)

bench: setup
	$(MAKE) all
	BIN=$(CURDIR)/$(BIN) sh bench/run.sh

# ---- fuzzing: clang's libFuzzer with ASan + UBSan ----
#   make fuzz [FUZZ_SECONDS=600]   run every target for that long
#   make fuzz-replay               run the seeds and crash reproducers once
FUZZ_CC  = clang
FUZZ_CXX = clang++
FUZZ_DIR = $(BUILD)/fuzz
FUZZ_SAN = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=c11 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -D_GNU_SOURCE \
              -DPS_DATA_DIR='"$(CURDIR)/data"' -I. -Ilib -I$(BUILD) \
              $(shell pkg-config --cflags icu-uc jansson libmicrohttpd $(EXT_PKGS) 2>/dev/null)
FUZZ_TARGETS = text query params meta chunks html zip pdf rtf mht xls
# fuzz-xls runs FreeXL too, and finds its faults within minutes (1.0.6:
# a stack underflow in its iconv call while opening a crafted workbook);
# they are FreeXL's, contained by policy-extract's child per file, and
# not kept as reproducers here.
FUZZ_SECONDS ?= 60
FUZZ_OBJ = $(LIB_C:%.c=$(FUZZ_DIR)/%.o) $(EXT_C:%.c=$(FUZZ_DIR)/%.o) $(FUZZ_DIR)/lib/xap.o \
           $(FUZZ_DIR)/web/gate.o $(FUZZ_DIR)/web/rcache.o $(FUZZ_DIR)/web/assets.o
FUZZ_LIBS = $(LDLIBS) $(shell pkg-config --libs $(EXT_PKGS) 2>/dev/null)

$(FUZZ_DIR)/lib/%.o: lib/%.c lib/*.h $(BUILD)/t2s.inc
	@mkdir -p $(dir $@)
	@echo "  FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/lib/xap.o: lib/xap.cc lib/xap.h
	@mkdir -p $(dir $@)
	@$(FUZZ_CXX) -std=c++17 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Ilib \
	  $(shell pkg-config --cflags xapian-core 2>/dev/null) -c -o $@ $<
$(FUZZ_DIR)/web/gate.o: web/gate.c web/gate.h
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/web/rcache.o: web/rcache.c web/rcache.h
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/web/assets.o: $(BUILD)/web/assets.c
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/fuzz-text $(FUZZ_DIR)/fuzz-query $(FUZZ_DIR)/fuzz-params $(FUZZ_DIR)/fuzz-meta $(FUZZ_DIR)/fuzz-chunks: $(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) web/policy-web.c
	@echo "  LINK $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@.o $<
	@$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $@.o $(FUZZ_OBJ) $(FUZZ_LIBS)
$(FUZZ_DIR)/fuzz-html $(FUZZ_DIR)/fuzz-zip $(FUZZ_DIR)/fuzz-pdf $(FUZZ_DIR)/fuzz-rtf $(FUZZ_DIR)/fuzz-mht $(FUZZ_DIR)/fuzz-xls: $(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz_extract.c $(FUZZ_OBJ)
	@echo "  LINK $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_$(shell echo $* | tr a-z A-Z) -c -o $@.o $<
	@$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $@.o $(FUZZ_OBJ) $(FUZZ_LIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)

# Seeds in tests/fuzz/corpus/T; what a run finds goes to build/, crashes
# to build/fuzz/crashes/T (copy a reproducer to tests/fuzz/crashes/T once
# it is fixed: fuzz-replay runs it in every make test).
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/crashes/$$t; \
	  echo "fuzz-$$t: $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  $(FUZZ_DIR)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ \
	    $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
	    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)" || true; \
	done

fuzz-replay: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p tests/fuzz/crashes/$$t; \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  $(FUZZ_DIR)/fuzz-$$t -runs=0 \
	    tests/fuzz/corpus/$$t tests/fuzz/crashes/$$t > $(FUZZ_DIR)/replay-$$t.log 2>&1 || \
	    { tail -30 $(FUZZ_DIR)/replay-$$t.log; exit 1; }; \
	  echo "fuzz-$$t: $$(find tests/fuzz/corpus/$$t tests/fuzz/crashes/$$t -type f | wc -l) inputs replayed, no crash"; \
	done

clean:
	rm -rf build bin
