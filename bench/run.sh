#!/usr/bin/env bash
# bench/run.sh - the benchmarks recorded in docs/benchmarks.md.
#
# usage: bench/run.sh [BUILD_DIR]        (`make bench` runs it on ./build)
#
# First the disk's own limits (bench-disk: fdatasync/s appending and into a
# write-ahead file like intake's, raw LMDB puts/s at 1, 100 and 1000 puts
# per transaction), then baton-intake under load
# (bench-intake) at 1, 8 and 32 clients x 1 and 16 reports in flight, each
# run against a FRESH intake with a new state directory and a free port, so
# that every run starts from an empty log. Ends with a markdown table and
# the aims of the issue, then runs bench/router.sh (baton-router),
# bench-deadline (baton-deadline), bench-notify (baton-notify, with all
# four daemons and bench-sinks) and last bench/compare.sh (baton-intake and
# a redis-server with appendfsync always under the same load, in turns).
#
# Everything happens in a temporary directory under BUILD_DIR, so the disk
# measured is the one the build is on (the ipc:// sockets, which need short
# paths, go under $TMPDIR). Nothing is left running or behind, whatever
# happens. Environment: BENCH_SECONDS (default 5) and BENCH_WARMUP (1) per
# intake run, BENCH_DISK_SECONDS (3) per disk figure, BENCH_IO_THREADS (1)
# for the client's ZeroMQ context; for bench-notify, BENCH_NOTIFY_BACKLOG
# (20000) alerts per delivery run and BENCH_NOTIFY_RATE (5000) reports/s
# for BENCH_NOTIFY_SECONDS (10) after BENCH_WARMUP in the latency run;
# BENCH_COMPARE_ROUNDS (1) for bench/compare.sh.
set -euo pipefail

# shellcheck source=../tools/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"

build=${1:-build}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-1}
disk_seconds=${BENCH_DISK_SECONDS:-3}
io_threads=${BENCH_IO_THREADS:-1}
clients_list=(1 8 32)
inflight_list=(1 16)

build=$(cd "$build" && pwd)
intake=$build/daemons/intake/baton-intake
bench_disk=$build/bench/bench-disk
bench_intake=$build/bench/bench-intake
need_built run.sh "$intake" "$bench_disk" "$bench_intake"

work=$(mktemp -d "$build/bench.XXXXXX")
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/baton-bench.XXXXXX")
intake_pid=
client_pid=

# shellcheck disable=SC2317  # called by the trap
cleanup() {
	# shellcheck disable=SC2086  # unset pids vanish, unquoted
	stop_pids $client_pid $intake_pid
	rm -rf "$work" "$sockdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Run a command in the background (so the traps act at once) and wait.
run_client() {
	"$@" &
	client_pid=$!
	local rc=0
	wait "$client_pid" || rc=$?
	client_pid=
	return "$rc"
}

echo "== bench-disk on $work (${disk_seconds}s per figure)"
run_client "$bench_disk" --dir "$work" --seconds "$disk_seconds" >"$work/disk.out"
disk_out=$(cat "$work/disk.out")
echo "$disk_out"
fsync_s=$(field "$(grep '^disk ' <<<"$disk_out")" fdatasync_per_s)
wal_s=$(field "$(grep '^wal ' <<<"$disk_out")" syncs_per_s)
declare -A lmdb
for n in 1 100 1000; do
	lmdb[$n]=$(field "$(grep "^lmdb puts_per_txn=$n " <<<"$disk_out")" puts_per_s)
done

# Start a fresh intake in directory $1; sets intake_pid and endpoint.
start_intake() {
	local dir=$1 conf=$1/baton.conf port name
	name=$(basename "$dir")
	port=$(free_port)
	endpoint=tcp://127.0.0.1:$port
	mkdir -p "$dir/state"
	cat >"$conf" <<EOF
; written by bench/run.sh
[baton]
state_dir = $dir/state
auth = none
map_size = 1G

[intake]
submit = $endpoint
publish = ipc://$sockdir/$name.pub
replay = ipc://$sockdir/$name.replay
rate = 0                ; the load is the point: no per-agency limit
EOF
	"$intake" -c "$conf" 2>"$dir/intake.log" &
	intake_pid=$!
	# Ready when a short run is acknowledged (agency "probe": its ids
	# never meet the measured run's).
	for _ in $(seq 50); do
		if ! kill -0 "$intake_pid" 2>/dev/null; then
			echo "run.sh: baton-intake exited at start:" >&2
			cat "$dir/intake.log" >&2
			return 1
		fi
		if "$bench_intake" --endpoint "$endpoint" --clients 1 \
			--inflight 1 --seconds 0.2 --warmup 0 \
			--agency probe >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "run.sh: baton-intake on $endpoint never answered:" >&2
	cat "$dir/intake.log" >&2
	return 1
}

stop_intake() {
	local rc=0
	kill -TERM "$intake_pid"
	wait "$intake_pid" || rc=$?
	intake_pid=
	if ((rc != 0)); then
		echo "run.sh: baton-intake exited with status $rc:" >&2
		tail -n 20 "$1/intake.log" >&2
		return 1
	fi
}

failed=0
declare -A res
for c in "${clients_list[@]}"; do
	for k in "${inflight_list[@]}"; do
		dir=$work/intake-${c}x$k
		mkdir -p "$dir"
		start_intake "$dir"
		echo "== baton-intake, $c clients x $k in flight, ${seconds}s after ${warmup}s warm-up ($endpoint)"
		rc=0
		run_client "$bench_intake" --endpoint "$endpoint" \
			--clients "$c" --inflight "$k" --seconds "$seconds" \
			--warmup "$warmup" --io-threads "$io_threads" \
			>"$dir/out" || rc=$?
		out=$(cat "$dir/out")
		echo "$out"
		if ((rc != 0)); then
			echo "run.sh: bench-intake failed (status $rc)" >&2
			failed=1
		fi
		stop_intake "$dir" || failed=1
		res[$c,$k]=$out
	done
done

# ---- summary ----

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# shellcheck disable=SC2317  # called through verdict
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# shellcheck disable=SC2317
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then echo met; else echo "NOT met"; fi; }

echo
echo "## Results, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
echo "| disk (${disk_seconds}s each) | per second |"
echo "| --- | ---: |"
echo "| write 300 B + fdatasync | $fsync_s |"
echo "| 300 B record, write-ahead file (lib/wal) | $wal_s |"
for n in 1 100 1000; do
	echo "| LMDB puts, $n per transaction | ${lmdb[$n]} |"
done
echo
echo "| clients | in flight | ACKs/s | p50 µs | p99 µs | max µs | errors |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${clients_list[@]}"; do
	for k in "${inflight_list[@]}"; do
		l=${res[$c,$k]}
		echo "| $c | $k | $(field "$l" acks_per_s) | $(field "$l" p50_us) | $(field "$l" p99_us) | $(field "$l" max_us) | $(field "$l" errors) |"
	done
done

a3216=$(field "${res[32,16]}" acks_per_s)
a321=$(field "${res[32,1]}" acks_per_s)
p81=$(field "${res[8,1]}" p99_us)
half=$(awk -v x="${lmdb[1000]}" 'BEGIN { printf "%.0f", x / 2 }')
echo
echo "| aim | measured | target | ratio | |"
echo "| --- | ---: | ---: | ---: | --- |"
echo "| 32x16 ACKs/s >= half of raw LMDB at 1000 puts/txn | $a3216 | $half | $(ratio "$a3216" "$half") | $(verdict ge "$a3216" "$half") |"
echo "| 32x1 ACKs/s >= 2x Redis Streams appendfsync always (34,000, quoted; measured by bench/compare.sh below) | $a321 | 68000 | $(ratio "$a321" 68000) | $(verdict ge "$a321" 68000) |"
echo "| 8x1 ACK p99 < 5 ms | $p81 µs | 5000 µs | $(ratio "$p81" 5000) | $(verdict lt "$p81" 5000) |"

# The router: rule evaluation and intake -> router (bench/router.sh).
echo
run_client "$(dirname "${BASH_SOURCE[0]}")/router.sh" "$build" || failed=1

# The deadline daemon: a million live tasks, restart, memory, lateness.
echo
run_client "$build/bench/bench-deadline" --deadline-bin \
	"$build/daemons/deadline/baton-deadline" || failed=1

# The notify daemon: email and webhook deliveries per second, and report
# accepted -> task-assigned alert on the feed at 5,000 reports/s.
echo
run_client "$build/bench/bench-notify" --build "$build" \
	--backlog "${BENCH_NOTIFY_BACKLOG:-20000}" \
	--rate "${BENCH_NOTIFY_RATE:-5000}" \
	--seconds "${BENCH_NOTIFY_SECONDS:-10}" --warmup "$warmup" || failed=1

# baton-intake against Redis Streams (appendfsync always), in turns.
echo
run_client "$(dirname "${BASH_SOURCE[0]}")/compare.sh" "$build" || failed=1
exit "$failed"
