#!/usr/bin/env bash
# bench/ab.sh - compare two builds of baton-intake, alternating runs.
#
# usage: bench/ab.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS]
#        AB_CELLS="1x1 32x16" bench/ab.sh ...   (only those cells)
#
# The disk of a shared virtual machine changes speed from one minute to the
# next (fdatasync/s has been seen at 4,300 and at 2,000 within the hour), so
# two builds are only comparable when measured in turns: for each round and
# each of 1x1, 8x1, 32x1 and 32x16 (clients x in flight), a fresh OLD intake, then
# a fresh NEW one, each loaded for 3 s by NEW's bench-intake. Only
# 127.0.0.1; everything is stopped and removed on exit.
set -euo pipefail

# shellcheck source=../tools/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"

old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
rounds=${3:-3}
client=$new/bench/bench-intake
work=$(mktemp -d "${TMPDIR:-/tmp}/baton-ab.XXXXXX")
pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
	rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
cat > "$work/baton.conf" <<CONF
[baton]
state_dir = $work/state
auth = none
map_size = 1G
[intake]
submit = tcp://127.0.0.1:$port
publish = ipc://$work/pub
replay = ipc://$work/replay
rate = 0                ; the load is the point: no per-agency limit
CONF

run() {	# build clients inflight
	rm -rf "$work/state"
	"$1/daemons/intake/baton-intake" -c "$work/baton.conf" 2>/dev/null &
	pid=$!
	sleep 0.4
	"$client" --endpoint "tcp://127.0.0.1:$port" --clients "$2" \
		--inflight "$3" --seconds 3 |
		grep -o 'acks_per_s=[0-9]*\|p99_us=[0-9]*' | tr '\n' ' '
	kill -TERM "$pid"
	wait "$pid"
	pid=
}

for ((r = 1; r <= rounds; r++)); do
	for c in ${AB_CELLS:-1x1 8x1 32x1 32x16}; do
		n=${c%x*} k=${c#*x}
		echo "round $r ${n}x$k  old: $(run "$old" "$n" "$k")  new: $(run "$new" "$n" "$k")"
	done
done
