#!/bin/sh
# run.sh - build the libFuzzer targets and run each for a set time (make fuzz).
#
#   tests/fuzz/run.sh [BUILD_DIR [SECONDS [TARGET...]]]
#
# BUILD_DIR (default build-fuzz) is a build of its own, configured with
# CC=clang and -DBATON_FUZZ=ON; SECONDS (default 60) is each target's
# -max_total_time; the targets default to all of them. Targets run two at a
# time (FUZZ_JOBS), each on a copy of its seed corpus in
# BUILD_DIR/fuzz/<target>/corpus, which keeps what earlier runs found; the
# source tree is never written. Each target's log, and any crash, leak,
# timeout or out-of-memory input, is left in BUILD_DIR/fuzz/<target>/.
#
# Prints one line per target (executions, coverage, corpus) and exits 1 if
# any target found something. Installs clang and libFuzzer with
# tools/install-deps.sh when they are missing.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ="$ROOT/tests/fuzz"
ALL="msg bus config routes calendar agency"

# One target, in the background of the main run: `run.sh --one ...`.
if [ "${1:-}" = "--one" ]; then
	t=$2 build=$3 secs=$4
	w="$build/fuzz/$t"
	dict=""
	[ -f "$FUZZ/$t.dict" ] && dict="-dict=$FUZZ/$t.dict"
	rm -rf "$w/artifacts" "$w/log" "$w/rc"
	mkdir -p "$w/corpus" "$w/artifacts"
	cp -R "$FUZZ/corpus/$t/." "$w/corpus/"
	rc=0
	# shellcheck disable=SC2086
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
		-timeout="${FUZZ_TIMEOUT:-20}" -rss_limit_mb=2048 \
		-print_final_stats=1 $dict -artifact_prefix="$w/artifacts/" \
		"$w/corpus" >"$w/log" 2>&1 || rc=$?
	echo "$rc" >"$w/rc"
	exit 0
fi

BUILD=${1:-build-fuzz}
SECS=${2:-60}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
TARGETS=${*:-$ALL}
case $BUILD in
/*) ;;
*) BUILD="$ROOT/$BUILD" ;;
esac

# clang and libFuzzer's runtime: link a target that does nothing.
toolchain_ok() {
	d=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' >"$d/t.c"
	ok=0
	clang -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/t" \
		>/dev/null 2>&1 || ok=1
	rm -rf "$d"
	return $ok
}
if ! command -v clang >/dev/null 2>&1 || ! toolchain_ok; then
	"$ROOT/tools/install-deps.sh"
fi

mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DBATON_FUZZ=ON \
	-DBATON_TESTS=OFF -DBATON_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$BUILD/configure.log" 2>&1 || {
	cat "$BUILD/configure.log"
	exit 1
}
cmake --build "$BUILD" -j "${JOBS:-$(nproc 2>/dev/null || echo 2)}" \
	--target fuzzers

# Readable stacks, and every sanitizer's report fatal.
if ! command -v llvm-symbolizer >/dev/null 2>&1; then
	for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
		[ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s"
	done
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "fuzz: $(echo "$TARGETS" | wc -w) targets, ${SECS}s each," \
	"${FUZZ_JOBS:-2} at a time, in $BUILD/fuzz"
for t in $TARGETS; do
	echo "$t"
done | xargs -P "${FUZZ_JOBS:-2}" -I{} sh "$0" --one {} "$BUILD" "$SECS"

# The last value of a final statistic, or of a field of the status lines.
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}
status() {
	grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([^ ]*\).*/\1/p"
}

# Where a report starts: ours, a sanitizer's, libFuzzer's.
REPORT='fuzz: finding|runtime error|==[0-9]+==ERROR|ERROR: libFuzzer'
failed=0
for t in $TARGETS; do
	w="$BUILD/fuzz/$t"
	rc=$(cat "$w/rc" 2>/dev/null || echo "?")
	if [ "$rc" = 0 ]; then
		verdict=ok
	else
		verdict="FAILED (exit $rc)"
		failed=1
	fi
	printf '%-14s %-16s %10s execs %7s/s  cov %5s  ft %6s  corpus %5s (+%s)  rss %sMB\n' \
		"fuzz_$t" "$verdict" "$(stat number_of_executed_units "$w/log")" \
		"$(stat average_exec_per_sec "$w/log")" "$(status cov "$w/log")" \
		"$(status ft "$w/log")" "$(status corp "$w/log" | cut -d/ -f1)" \
		"$(stat new_units_added "$w/log")" "$(stat peak_rss_mb "$w/log")"
done
if [ $failed -ne 0 ]; then
	for t in $TARGETS; do
		w="$BUILD/fuzz/$t"
		[ "$(cat "$w/rc" 2>/dev/null)" = 0 ] && continue
		echo
		echo "==== fuzz_$t: $w/log"
		if grep -q -E "$REPORT" "$w/log"; then
			sed -n -E "/$REPORT/,\$p" "$w/log" | head -n 60
		else
			tail -n 30 "$w/log"
		fi
		for a in "$w"/artifacts/*; do
			[ -f "$a" ] || continue
			echo "reproduce: $BUILD/tests/fuzz/fuzz_$t $a"
		done
	done
	exit 1
fi
