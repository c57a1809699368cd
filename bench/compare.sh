#!/usr/bin/env bash
# bench/compare.sh - baton-intake side by side with Redis Streams.
#
# usage: bench/compare.sh [BUILD_DIR [BENCH-COMPARE OPTIONS...]]
#        (`make bench` runs it from bench/run.sh on ./build)
#
# Starts one baton-intake (fresh state directory, free port on 127.0.0.1,
# auth = none, [intake] rate = 0, map_size = 4G) and one redis-server (fresh directory,
# free port, bound to 127.0.0.1, appendonly yes with appendfsync always,
# no RDB snapshots, no automatic AOF rewrite: a rewrite is a background
# fork whose timing would fall on one run or another at random, and intake
# never compacts its log either), waits until both answer, and runs
# bench-compare against them: 1, 8 and 32 clients x 1 and 16 requests in
# flight, each cell intake then Redis or Redis then intake in turns. Ends
# with a markdown table. Both servers are stopped (SIGTERM: each syncs and
# exits) and the directories removed on every exit.
#
# Both state directories are under BUILD_DIR, on the disk the build is on,
# like bench/run.sh's; the ipc:// sockets go under $TMPDIR. Environment:
# BENCH_SECONDS (5) and BENCH_WARMUP (1) per run, BENCH_COMPARE_ROUNDS (1)
# A/B rounds per cell, BENCH_IO_THREADS (1) for the client's ZeroMQ context.
# Extra arguments go to bench-compare (e.g. --clients 32 --inflight 1).
# Exit status: bench-compare's (0: nothing refused or left unanswered).
set -euo pipefail

# shellcheck source=../tools/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"

build=${1:-build}
shift || true
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-1}
rounds=${BENCH_COMPARE_ROUNDS:-1}
io_threads=${BENCH_IO_THREADS:-1}

build=$(cd "$build" && pwd)
intake=$build/daemons/intake/baton-intake
bench_intake=$build/bench/bench-intake
bench_compare=$build/bench/bench-compare
need_built compare.sh "$intake" "$bench_intake" "$bench_compare"
redis=$(command -v redis-server || true)
redis_cli=$(command -v redis-cli || true)
if [[ -z $redis || -z $redis_cli ]]; then
	echo "compare.sh: redis-server and redis-cli are needed: tools/install-deps.sh" >&2
	exit 1
fi

work=$(mktemp -d "$build/compare.XXXXXX")
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/baton-compare.XXXXXX")
intake_pid=
redis_pid=
client_pid=

# shellcheck disable=SC2317  # called by the trap
cleanup() {
	# shellcheck disable=SC2086  # unset pids vanish, unquoted
	stop_pids $client_pid $intake_pid $redis_pid
	rm -rf "$work" "$sockdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Stop server $1 (pid) named $2 with SIGTERM, at most 30 s; log in $3.
stop() {
	local pid=$1 rc=0
	kill -TERM "$pid"
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "compare.sh: $2 did not stop in 30 s" >&2
		kill -KILL "$pid" 2>/dev/null || true
		rc=1
	fi
	wait "$pid" || rc=$?
	if ((rc != 0)); then
		echo "compare.sh: $2 exited with status $rc:" >&2
		tail -n 20 "$3" >&2
		return 1
	fi
}

# ---- baton-intake ----

port=$(free_port)
endpoint=tcp://127.0.0.1:$port
mkdir -p "$work/intake/state"
cat >"$work/intake/baton.conf" <<CONF
; written by bench/compare.sh
[baton]
state_dir = $work/intake/state
auth = none
map_size = 4G           ; a full matrix stores about 0.8 GB: no growth mid-run

[intake]
submit = $endpoint
publish = ipc://$sockdir/intake.pub
replay = ipc://$sockdir/intake.replay
rate = 0                ; the load is the point: no per-agency limit
CONF
"$intake" -c "$work/intake/baton.conf" 2>"$work/intake/intake.log" &
intake_pid=$!

# ---- redis-server ----

redis_port=$(free_port)
mkdir -p "$work/redis"
"$redis" --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
	--dir "$work/redis" --daemonize no --logfile "$work/redis/redis.log" \
	--appendonly yes --appendfsync always --save '' \
	--auto-aof-rewrite-percentage 0 --maxmemory 4gb \
	--maxmemory-policy noeviction &
redis_pid=$!

# Ready: a short bench-intake run is acknowledged (agency "probe": its ids
# never meet the measured runs'), and redis answers PING.
ready=
for _ in $(seq 100); do
	for p in $intake_pid $redis_pid; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "compare.sh: a server exited at start:" >&2
			cat "$work/intake/intake.log" "$work/redis/redis.log" >&2
			exit 1
		fi
	done
	if [[ $("$redis_cli" -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] &&
		"$bench_intake" --endpoint "$endpoint" --clients 1 --inflight 1 \
			--seconds 0.2 --warmup 0 --agency probe >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
if [[ -z $ready ]]; then
	echo "compare.sh: baton-intake on $endpoint or redis on $redis_port never answered" >&2
	exit 1
fi

echo "== baton-intake vs Redis Streams (appendfsync always), $(nproc) CPUs, $("$redis" --version | sed 's/.*v=\([^ ]*\).*/redis \1/')"
echo "== uptime at start:$(uptime)"
rc=0
"$bench_compare" --endpoint "$endpoint" --redis-port "$redis_port" \
	--seconds "$seconds" --warmup "$warmup" --rounds "$rounds" \
	--io-threads "$io_threads" --intake-pid "$intake_pid" \
	--redis-pid "$redis_pid" "$@" >"$work/out" &
client_pid=$!
tail -f --pid="$client_pid" "$work/out" &
tail_pid=$!
wait "$client_pid" || rc=$?
client_pid=
wait "$tail_pid" || true
echo "== uptime at end:$(uptime)"
if ((rc != 0)); then
	echo "compare.sh: bench-compare failed (status $rc)" >&2
fi
aof=$(du -sh "$work/redis" | cut -f1)
store=$(du -sh "$work/intake/state" | cut -f1)
stop "$intake_pid" baton-intake "$work/intake/intake.log" || rc=1
intake_pid=
stop "$redis_pid" redis-server "$work/redis/redis.log" || rc=1
redis_pid=

echo
echo "## baton-intake vs Redis Streams, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
echo "| clients | in flight | intake ACKs/s | p50 / p99 µs | Redis XADD/s | p50 / p99 µs | intake ÷ Redis | load avg |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
while read -r l; do
	echo "| $(field "$l" clients) | $(field "$l" inflight) | $(field "$l" baton_acks_per_s) | $(field "$l" baton_p50_us) / $(field "$l" baton_p99_us) | $(field "$l" redis_acks_per_s) | $(field "$l" redis_p50_us) / $(field "$l" redis_p99_us) | $(field "$l" ratio) | $(field "$l" loadavg) |"
done < <(grep '^compare ' "$work/out")
echo
grep '^compare-aim ' "$work/out" | while read -r l; do
	echo "- aim: intake ÷ Redis at $(field "$l" cell) ≥ $(field "$l" target): $(field "$l" ratio), $(field "$l" verdict)"
done
echo "- on disk at the end: intake's store $store, Redis's AOF directory $aof"
exit "$rc"
