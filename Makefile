# Thin front for CMake: the targets the README names.
#   make demo        install what is missing, build, run the system, show it
#   make check       install what is missing, build, run every test
#   make check-asan  the same tests under AddressSanitizer + UBSan
#   make bench       build and run the benchmarks (see docs/benchmarks.md)
#   make fuzz        build the libFuzzer targets with clang, run each for
#                    FUZZ_SECONDS (default 60; see tests/fuzz/README.md)
#   make install     install under PREFIX (default /usr/local), DESTDIR honoured

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

PKGS = libzmq msgpack lmdb libsystemd libsodium inih jansson cmocka libcurl
PY   = /usr/bin/python3

.PHONY: all deps build build-asan check check-asan demo bench fuzz install clean

all: build

# Install Debian packages only when something is missing.
deps:
	@if ! command -v cmake >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1 \
	   || ! pkg-config --exists $(PKGS) 2>/dev/null \
	   || ! command -v systemd-analyze >/dev/null 2>&1 \
	   || ! command -v redis-server >/dev/null 2>&1 \
	   || ! $(PY) -c 'import zmq, msgpack, lmdb, aiosmtpd' 2>/dev/null; then \
		./tools/install-deps.sh; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DBATON_SANITIZE=ON -DBATON_BENCH=OFF \
	      -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: build-asan
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

demo: build
	./tools/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

fuzz: deps
	JOBS=$(JOBS) ./tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# Configured again first: PREFIX may differ from the build's first run.
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
