# floq — build, test, bench.  See README.md for the two commands a fresh machine needs.
#
#   make            optimised build: build/floq, the test programs and build/floq-faults (the
#                   test build of floq with actor faults, used by tests/mpi_test.sh only)
#   make test       build and run every test (last line: "N passed, N failed")
#   make layers     check the include graph: no cycle, no module above its layer (make test
#                   runs it too: tests/layers_test.sh)
#   make bench      build and run the benchmarks (figures also go to build/bench.jsonl)
#   make asan       AddressSanitizer + UBSan build of the tests, and run them
#   make valgrind   run the unit tests under valgrind (memcheck)
#   make fuzz       build the libFuzzer targets (clang: proto decoder, npy/npz, checkpoints,
#                   flags/JSON, HDF5) and run each for FUZZ_SECONDS (default 10; make test runs
#                   this short pass), e.g. make fuzz FUZZ_SECONDS=600 for a longer campaign
#   make tsan       ThreadSanitizer (clang) build of the threaded update's tests, and run them
#   make setup      install the Debian packages the project needs (root, apt-get)
#   make run        the main job on the embedded single-node default
#   make clean
#
# Off Debian (clusters, Spack, environment modules): plain `make` needs no root. Override
#   CC=mpicc, PKG_CONFIG_PATH=..., MUJOCO_DIR=/prefix (include/ and lib/ under it),
#   CPPFLAGS=-I..., LDFLAGS=-L..., or PKGS= to skip pkg-config and give every flag yourself.

CC       ?= cc
PKGS     ?= mpi-c openblas msgpack libzip zlib hdf5
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
MUJOCO_DIR ?=
# evaluated on first use (after `make setup` has installed pkg-config and the libraries, so
# `make setup test` works on a fresh machine), then cached
PKG_CFLAGS = $(eval PKG_CFLAGS := $(if $(PKGS),$(shell pkg-config --cflags $(PKGS))))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(if $(PKGS),$(shell pkg-config --libs $(PKGS))))$(PKG_LIBS)
ifneq ($(MUJOCO_DIR),)
  MJ_CFLAGS := -I$(MUJOCO_DIR)/include
  MJ_LIBS   := -L$(MUJOCO_DIR)/lib -Wl,-rpath,$(MUJOCO_DIR)/lib
endif
BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -MMD -MP \
               -I. $(MJ_CFLAGS) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) $(MJ_LIBS) -lmujoco -lm -lpthread

BUILD    ?= build
LIB_SRCS := $(sort $(wildcard common/*.c learner/*.c actor/*.c envs/*.c))
LIB_SRCS := $(filter-out learner/main.c actor/fault.c,$(LIB_SRCS))
# compiled a second time with -DFLOQ_FAULT_INJECTION for build/floq-faults (actor/fault.h)
FAULT_SRCS := actor/fault.c actor/actor_rank.c learner/train_cfg.c learner/main.c learner/lgroup.c
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TOOL_SRCS := $(sort $(wildcard tests/tool_*.c))

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  = $(BUILD)/obj/learner/main.o
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TOOL_BINS = $(TOOL_SRCS:tests/%.c=$(BUILD)/tests/%)
FAULT_OBJS = $(FAULT_SRCS:%.c=$(BUILD)/obj-faults/%.o)

all: $(BUILD)/floq $(BUILD)/floq-faults $(TEST_BINS) $(TOOL_BINS)

$(BUILD)/floq: $(MAIN_OBJ) $(BUILD)/libfloq.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# the test build: the same program, with actor rank 1 able to misbehave on purpose
$(BUILD)/floq-faults: $(FAULT_OBJS) $(filter-out $(FAULT_SRCS:%.c=$(BUILD)/obj/%.o),$(LIB_OBJS))
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/libfloq.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libfloq.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj-faults/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -DFLOQ_FAULT_INJECTION $(CFLAGS) -c $< -o $@

# elementwise kernels: vectorised (no fast-math: NaN checks must keep working)
$(BUILD)/obj/common/kern.o: CFLAGS += -O3 -fno-math-errno

# ---- tests -----------------------------------------------------------------------------------
# Every test binary prints "<name>: N passed, M failed"; tests/run.sh sums them.
test: all
	@bash tests/run.sh $(BUILD)

# the include graph alone (no build needed)
layers:
	@bash tests/layers_test.sh

bench: all
	@OPENBLAS_NUM_THREADS=1 $(BUILD)/floq bench
	@bash tests/bench_mpi.sh $(BUILD)

run: all
	@BUILD=$(BUILD) bash hostfiles/run_local.sh

results: all
	@BUILD=$(BUILD) bash hostfiles/results.sh

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build/asan OPT=-O1 CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" all
	ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan-openmpi.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 FLOQ_SANITIZED=1 bash tests/run.sh build/asan

valgrind: all
	FLOQ_VALGRIND=1 bash tests/run.sh $(BUILD)

# ---- fuzzing (clang + libFuzzer): the library built with coverage and sanitizers in
# build/fuzz, one binary per tests/fuzz/fuzz_*.c, seed corpora in tests/fuzz/<target>/ ------------
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS     = $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
fuzz-build:
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
	  $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null || { echo "make fuzz: \
	$(FUZZ_CC) with libFuzzer (-fsanitize=fuzzer) is not installed; make setup (root) installs \
	clang and libclang-rt-14-dev, or give FUZZ_CC=clang-NN" >&2; exit 1; }
	$(MAKE) BUILD=build/fuzz CC=$(FUZZ_CC) OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_FLAGS)" build/fuzz/libfloq.a
	$(MAKE) $(FUZZ_BINS)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h build/fuzz/libfloq.a
	$(FUZZ_CC) $(CPPFLAGS) $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer $(FUZZ_FLAGS) $< \
	  build/fuzz/libfloq.a $(LDLIBS) -o $@
fuzz: fuzz-build
	@bash tests/fuzz.sh build/fuzz $(FUZZ_SECONDS)

# ThreadSanitizer (clang) over the tests of the threaded update: the pool, the agent, golden
TSAN_FLAGS := -fsanitize=thread
TSAN_TESTS := test_pool test_agent test_golden
tsan:
	$(MAKE) BUILD=build/tsan CC=clang OPT=-O1 CFLAGS="-O1 -g $(TSAN_FLAGS)" \
		LDFLAGS="$(TSAN_FLAGS)" $(TSAN_TESTS:%=build/tsan/tests/%)
	TSAN_OPTIONS=halt_on_error=1 FLOQ_TEST_FILTER='^($(subst $(eval) ,|,$(TSAN_TESTS)))$$' \
		bash tests/run.sh build/tsan

setup:
	@bash .ci/setup.sh

format:
	clang-format -i $(LIB_SRCS) learner/main.c actor/fault.c $(wildcard */*.h) $(TEST_SRCS) \
	  $(FUZZ_SRCS) tests/fuzz/fuzz.h

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/obj-faults -name '*.d' 2>/dev/null)
.PHONY: all test layers bench run results asan valgrind tsan fuzz fuzz-build setup format clean
.SECONDARY:
