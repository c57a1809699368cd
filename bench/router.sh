#!/usr/bin/env bash
# bench/router.sh - how fast baton-router turns intake's log into tasks.
#
# usage: bench/router.sh [BUILD_DIR]      (bench/run.sh calls it at the end)
#
# First bench-route: route_match() on 200 rules, a typical mix and the
# worst case (no rule matches). Then the pipeline: for 32 clients x 16 and
# x 1 reports in flight, a FRESH baton-intake and baton-router (new state
# directory, free port on 127.0.0.1, auth = none, map_size = 1G, the bundled
# config/routes.conf), loaded by bench-intake for BENCH_SECONDS after
# BENCH_WARMUP. Every bench-intake report is an incident (cybersecurity,
# low) that the bundled rules turn into exactly one task.
#
# What is measured, without touching the daemons: a monitor (python3)
# holds the daemons' $NOTIFY_SOCKETs, for READY=1 and their STATUS= lines,
# and every BENCH_SAMPLE seconds reads, each in one LMDB read transaction,
# intake's newest durable event (bus.events), the router's applied
# position (bus.cursor "intake") and its number of durable tasks
# (router.tasks). From those: intake's events/s and the router's tasks/s
# over the load, the backlog (intake's last seq - router's applied) over
# time and at the end of the load, how fast it grows (least squares over
# the load after the warm-up), and how long the router takes to drain it
# once the load stops (waited for at most BENCH_DRAIN_MAX seconds).
#
# The router keeps up when its backlog does not grow: slope under 1% of
# intake's rate. One "router ..." line per run, for grep, then a table.
# Everything runs in a temporary directory under BUILD_DIR (so the disk
# measured is the build's; ipc:// and notify sockets under $TMPDIR) and is
# stopped and removed on exit, whatever happens.
set -euo pipefail

# shellcheck source=../tools/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"

build=${1:-build}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-1}
sample=${BENCH_SAMPLE:-0.1}
drain_max=${BENCH_DRAIN_MAX:-60}
route_seconds=${BENCH_ROUTE_SECONDS:-2}
runs=("32 16" "32 1")
catchup=${BENCH_CATCHUP-32 16}	# the run followed by a catch-up ("": none)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
routes=$here/../config/routes.conf
routes=$(cd "$(dirname "$routes")" && pwd)/$(basename "$routes")
# Some of the bundled rules count in business days: they need the calendar.
calendar=$(cd "$here/../config" && pwd)/calendar.conf
build=$(cd "$build" && pwd)
intake=$build/daemons/intake/baton-intake
router=$build/daemons/router/baton-router
ctl=$build/tools/batonctl/batonctl
bench_intake=$build/bench/bench-intake
bench_route=$build/bench/bench-route
need_built router.sh "$intake" "$router" "$ctl" "$bench_intake" \
	"$bench_route"
python=${PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=$(command -v python3) || {
	echo "router.sh: python3 is needed for the monitor" >&2
	exit 1
}

work=$(mktemp -d "$build/bench-router.XXXXXX")
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/baton-rb.XXXXXX")
pids=()		# started by us, stopped in reverse order

# shellcheck disable=SC2317  # called by the trap
cleanup() {
	local i rev=()
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		rev+=("${pids[i]}")
	done
	stop_pids "${rev[@]}"
	rm -rf "$work" "$sockdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Stop one of ours (SIGTERM) and forget it; its exit status.
stop() {
	local p=$1 rc=0 i
	kill -TERM "$p" 2>/dev/null || true
	wait "$p" || rc=$?
	for i in "${!pids[@]}"; do
		[[ ${pids[i]} == "$p" ]] && unset 'pids[i]'
	done
	pids=("${pids[@]}")
	return "$rc"
}

# CPU time of a process so far, in clock ticks (user + system).
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# ---- the monitor ----

cat >"$work/monitor.py" <<'PY'
# monitor OUT INTAKE_SOCK ROUTER_SOCK INTAKE_DIR ROUTER_DIR INTERVAL
#   writes "n TIME WHO TEXT" for each sd_notify datagram and
#   "s TIME INTAKE_LAST ROUTER_APPLIED ROUTER_TASKS" every INTERVAL
#   (-1: not readable yet). TIME is the Unix time, as bash's EPOCHREALTIME.
# report OUT key=value...  the figures of one run, from OUT and the marks.
import ctypes, ctypes.util, os, select, signal, socket, sys, time

MDB_RDONLY, MDB_NOTLS = 0x20000, 0x200000
MDB_LAST, MDB_NOTFOUND, MDB_MAP_RESIZED = 6, -30798, -30785

class Val(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.c_void_p)]

class Stat(ctypes.Structure):
    _fields_ = [("psize", ctypes.c_uint), ("depth", ctypes.c_uint),
                ("branch", ctypes.c_size_t), ("leaf", ctypes.c_size_t),
                ("overflow", ctypes.c_size_t), ("entries", ctypes.c_size_t)]

class Env:
    """One LMDB environment, read-only, opened once it exists."""
    def __init__(self, lib, path):
        self.lib, self.path, self.env = lib, path, None

    def open(self):
        if self.env is not None:
            return True
        if not os.path.exists(os.path.join(self.path, "data.mdb")):
            return False
        env = ctypes.c_void_p()
        if self.lib.mdb_env_create(ctypes.byref(env)):
            return False
        self.lib.mdb_env_set_maxdbs(env, 32)
        if self.lib.mdb_env_open(env, self.path.encode(),
                                 MDB_RDONLY | MDB_NOTLS, 0o600):
            self.lib.mdb_env_close(env)
            return False
        self.env = env
        return True

    def read(self, fn):
        if not self.open():
            return None
        txn = ctypes.c_void_p()
        r = self.lib.mdb_txn_begin(self.env, None, MDB_RDONLY,
                                   ctypes.byref(txn))
        if r == MDB_MAP_RESIZED:
            self.lib.mdb_env_set_mapsize(self.env, ctypes.c_size_t(0))
            r = self.lib.mdb_txn_begin(self.env, None, MDB_RDONLY,
                                       ctypes.byref(txn))
        if r:
            return None
        try:
            return fn(txn)
        finally:
            self.lib.mdb_txn_commit(txn)

    def dbi(self, txn, name):
        d = ctypes.c_uint()
        if self.lib.mdb_dbi_open(txn, name, 0, ctypes.byref(d)):
            return None
        return d

def u64(val):
    return int.from_bytes(ctypes.string_at(val.data, val.size), "big")

def monitor(out, isock, rsock, idir, rdir, interval):
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")
    lib.mdb_txn_begin.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.c_uint, ctypes.c_void_p]
    lib.mdb_env_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.c_uint, ctypes.c_int]
    lib.mdb_env_set_mapsize.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.mdb_dbi_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.c_uint, ctypes.c_void_p]
    lib.mdb_get.argtypes = [ctypes.c_void_p, ctypes.c_uint,
                            ctypes.c_void_p, ctypes.c_void_p]
    lib.mdb_stat.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p]
    lib.mdb_cursor_open.argtypes = [ctypes.c_void_p, ctypes.c_uint,
                                    ctypes.c_void_p]
    lib.mdb_cursor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                   ctypes.c_void_p, ctypes.c_int]
    lib.mdb_cursor_close.argtypes = [ctypes.c_void_p]
    lib.mdb_txn_commit.argtypes = [ctypes.c_void_p]
    ienv, renv = Env(lib, idir), Env(lib, rdir)

    def intake_last(txn):
        d = ienv.dbi(txn, b"bus.events")
        if d is None:
            return 0
        cur = ctypes.c_void_p()
        if lib.mdb_cursor_open(txn, d, ctypes.byref(cur)):
            return None
        k, v = Val(), Val()
        r = lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v),
                               MDB_LAST)
        last = u64(k) if r == 0 else 0 if r == MDB_NOTFOUND else None
        lib.mdb_cursor_close(cur)
        return last

    def router_pos(txn):
        applied = tasks = 0
        d = renv.dbi(txn, b"bus.cursor")
        if d is not None:
            k, v = Val(), Val()
            key = ctypes.create_string_buffer(b"intake", 6)
            k.size, k.data = 6, ctypes.cast(key, ctypes.c_void_p)
            if lib.mdb_get(txn, d, ctypes.byref(k), ctypes.byref(v)) == 0:
                applied = u64(v)
        d = renv.dbi(txn, b"router.tasks")
        if d is not None:
            st = Stat()
            if lib.mdb_stat(txn, d, ctypes.byref(st)) == 0:
                tasks = st.entries
        return applied, tasks

    socks = {}
    for who, path in (("intake", isock), ("router", rsock)):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        socks[s] = who
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    f = open(out, "a", buffering=1)
    f.write("m %.6f start\n" % time.time())
    nxt = time.monotonic()
    while not stop:
        wait = max(0.0, nxt - time.monotonic())
        try:
            ready, _, _ = select.select(list(socks), [], [], wait)
        except InterruptedError:
            continue
        for s in ready:
            data = s.recv(4096).decode(errors="replace")
            f.write("n %.6f %s %s\n" % (time.time(), socks[s],
                                        data.strip().replace("\n", ";")))
        if time.monotonic() >= nxt:
            nxt += interval
            il = ienv.read(intake_last)
            rp = renv.read(router_pos)
            f.write("s %.6f %d %d %d\n" % (
                time.time(), -1 if il is None else il,
                -1 if rp is None else rp[0], -1 if rp is None else rp[1]))
    f.close()

# ---- report ----

def interp(samples, t, col):
    """Column col at time t, linear between the samples around it."""
    prev = None
    for s in samples:
        if s[0] >= t:
            if prev is None or s[0] == prev[0]:
                return s[col]
            a = (t - prev[0]) / (s[0] - prev[0])
            return prev[col] + a * (s[col] - prev[col])
        prev = s
    return prev[col]

def read_samples(out):
    samples = []
    for line in open(out):
        p = line.split()
        if p[0] == "s" and min(int(x) for x in p[2:5]) >= 0:
            samples.append((float(p[1]), int(p[2]), int(p[3]), int(p[4])))
    return samples

def report(out, kv):
    a = dict(x.split("=", 1) for x in kv)
    t0, t1, t2 = float(a["t_start"]), float(a["t_end"]), float(a["t_done"])
    warm = float(a["warmup"])
    samples = read_samples(out)
    dt = t1 - t0
    il0, il1 = interp(samples, t0, 1), interp(samples, t1, 1)
    ra0, ra1 = interp(samples, t0, 2), interp(samples, t1, 2)
    tk0, tk1 = interp(samples, t0, 3), interp(samples, t1, 3)
    intake_rate = (il1 - il0) / dt
    router_rate = (tk1 - tk0) / dt
    applied_rate = (ra1 - ra0) / dt
    during = [s for s in samples if t0 + warm <= s[0] <= t1]
    backlog_max = max([s[1] - s[2] for s in samples if t0 <= s[0] <= t1],
                      default=0)
    # Least squares slope of the backlog after the warm-up.
    slope = 0.0
    if len(during) >= 3:
        xs = [s[0] for s in during]
        ys = [s[1] - s[2] for s in during]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        if den > 0:
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den
    backlog_end = int(round(il1 - ra1))
    # Drained: the first sample after the load where the router had
    # applied everything intake had stored.
    drained = None
    for s in samples:
        if s[0] >= t1 and s[1] > 0 and s[2] >= s[1]:
            drained = s
            break
    if drained:
        drain_s = max(0.0, drained[0] - t1)
        tk_drained = drained[3]
        drain_rate = ((tk_drained - tk1) / drain_s) if drain_s > 0.05 \
            else 0.0
        drain = "%.2f" % drain_s
    else:
        last = samples[-1]
        drain = ">%.0f" % (last[0] - t1)
        drain_rate = (last[3] - tk1) / max(1e-9, last[0] - t1)
    keeps = slope < 0.01 * intake_rate and drained is not None
    hz = os.sysconf("SC_CLK_TCK")
    icpu = 100.0 * int(a["intake_ticks"]) / hz / dt
    rcpu = 100.0 * int(a["router_ticks"]) / hz / dt
    print("router clients=%s inflight=%s acks_per_s=%s intake_events_per_s=%.0f"
          " router_tasks_per_s=%.0f router_applied_per_s=%.0f ratio=%.3f"
          " backlog_end=%d backlog_max=%d backlog_slope_per_s=%.0f"
          " drain_s=%s drain_tasks_per_s=%.0f intake_cpu_pct=%.0f"
          " router_cpu_pct=%.0f monitor_cpu_pct=%.1f load_s=%.2f"
          " verdict=%s" % (
              a["clients"], a["inflight"], a["acks_per_s"], intake_rate,
              router_rate, applied_rate,
              router_rate / intake_rate if intake_rate else 0,
              backlog_end, backlog_max, slope, drain, drain_rate, icpu, rcpu,
              100.0 * int(a["monitor_ticks"]) / hz / dt, dt,
              "keeps-up" if keeps else "falls-behind"))
    # The backlog, second by second from the start of the load.
    series = []
    t = t0
    end = drained[0] if drained else samples[-1][0]
    while t <= end + 1e-9:
        series.append("%d" % round(interp(samples, t, 1) -
                                   interp(samples, t, 2)))
        t += 1.0
    print("router-backlog clients=%s inflight=%s per_second=%s" % (
        a["clients"], a["inflight"], ",".join(series)))

def catchup(out, kv):
    a = dict(x.split("=", 1) for x in kv)
    t0, t1 = float(a["t_start"]), float(a["t_end"])
    tr, td = float(a["t_router"]), float(a["t_done"])
    samples = read_samples(out)
    intake_rate = (interp(samples, t1, 1) - interp(samples, t0, 1)) / (t1 - t0)
    backlog = int(round(interp(samples, tr, 1) - interp(samples, tr, 2)))
    tk0 = interp(samples, tr, 3)
    drained = next((s for s in samples
                    if s[0] >= tr and s[1] > 0 and s[2] >= s[1]), None)
    end = drained if drained else samples[-1]
    secs = max(1e-9, end[0] - tr)
    rate = (end[3] - tk0) / secs
    hz = os.sysconf("SC_CLK_TCK")
    print("router-catchup clients=%s inflight=%s intake_alone_acks_per_s=%s"
          " intake_alone_events_per_s=%.0f intake_alone_cpu_pct=%.0f"
          " backlog=%d catchup_s=%s catchup_tasks_per_s=%.0f"
          " router_cpu_pct=%.0f verdict=%s" % (
              a["clients"], a["inflight"], a["acks_per_s"], intake_rate,
              100.0 * int(a["intake_ticks"]) / hz / (t1 - t0), backlog,
              ("%.2f" if drained else ">%.0f") % secs, rate,
              100.0 * int(a["router_ticks"]) / hz / secs,
              "router-faster" if drained and rate >= intake_rate
              else "router-slower"))

if __name__ == "__main__":
    if sys.argv[1] == "monitor":
        monitor(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                sys.argv[6], float(sys.argv[7]))
    elif sys.argv[1] == "catchup":
        catchup(sys.argv[2], sys.argv[3:])
    else:
        report(sys.argv[2], sys.argv[3:])
PY

# The last sample: "TIME INTAKE_LAST ROUTER_APPLIED ROUTER_TASKS".
last_sample() {
	grep '^s ' "$1" | tail -n 1 | cut -d' ' -f2-
}

# Wait (up to $2 s) until the router has applied all intake stored, in a
# sample taken after time $3. Returns 1 on timeout.
wait_drained() {
	local mon=$1 limit=$2 after=$3 deadline t il ra
	deadline=$(awk -v n="$EPOCHREALTIME" -v l="$limit" 'BEGIN { printf "%.6f", n + l }')
	while :; do
		read -r t il ra _ <<<"$(last_sample "$mon")" || true
		if [[ -n ${t:-} ]] && ((il > 0 && ra >= il)) &&
			awk -v a="$t" -v b="$after" 'BEGIN { exit !(a > b) }'; then
			return 0
		fi
		if awk -v a="$EPOCHREALTIME" -v b="$deadline" 'BEGIN { exit !(a > b) }'; then
			return 1
		fi
		sleep 0.05
	done
}

# Wait until daemon $2's READY=1 is in the monitor's file $1.
wait_ready() {
	local i
	for i in $(seq 100); do
		grep -q "^n [0-9.]* $2 READY=1" "$1" && return 0
		if ! kill -0 "$3" 2>/dev/null; then
			echo "router.sh: baton-$2 exited at start:" >&2
			cat "$4" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "router.sh: baton-$2 never said READY=1:" >&2
	cat "$4" >&2
	return 1
}

# ---- rule evaluation ----

echo "== bench-route: route_match() on 200 rules, ${route_seconds}s per mix"
"$bench_route" --seconds "$route_seconds" >"$work/route.out" &
pids+=($!)
rc=0
wait "${pids[-1]}" || rc=$?
unset 'pids[-1]'
cat "$work/route.out"
((rc == 0)) || { echo "router.sh: bench-route failed" >&2; exit 1; }

# ---- the pipeline ----

failed=0
declare -A res
cu_res=
for run in "${runs[@]}"; do
	read -r c k <<<"$run"
	dir=$work/p${c}x$k
	mkdir -p "$dir/state"
	name=p${c}x$k
	port=$(free_port)
	endpoint=tcp://127.0.0.1:$port
	conf=$dir/baton.conf
	mon=$dir/monitor.out
	cat >"$conf" <<EOF
; written by bench/router.sh
[baton]
state_dir = $dir/state
auth = none
map_size = 1G
routes = $routes
calendar = $calendar

[intake]
submit = $endpoint
publish = ipc://$sockdir/$name.i.pub
replay = ipc://$sockdir/$name.i.replay
rate = 0                ; the load is the point: no per-agency limit

[router]
publish = ipc://$sockdir/$name.r.pub
replay = ipc://$sockdir/$name.r.replay
EOF
	: >"$mon"
	"$python" "$work/monitor.py" monitor "$mon" "$sockdir/$name.i.notify" \
		"$sockdir/$name.r.notify" "$dir/state/intake" \
		"$dir/state/router" "$sample" 2>"$dir/monitor.log" &
	mon_pid=$!
	pids+=("$mon_pid")
	for _ in $(seq 100); do
		grep -q '^m ' "$mon" && break
		sleep 0.05
	done

	NOTIFY_SOCKET=$sockdir/$name.i.notify "$intake" -c "$conf" \
		2>"$dir/intake.log" &
	intake_pid=$!
	pids+=("$intake_pid")
	wait_ready "$mon" intake "$intake_pid" "$dir/intake.log"
	NOTIFY_SOCKET=$sockdir/$name.r.notify "$router" -c "$conf" \
		2>"$dir/router.log" &
	router_pid=$!
	pids+=("$router_pid")
	wait_ready "$mon" router "$router_pid" "$dir/router.log"

	# A probe (agency "probe") through both: intake answers, the router
	# is connected and has applied it.
	ok=0
	for _ in $(seq 50); do
		if "$bench_intake" --endpoint "$endpoint" --clients 1 \
			--inflight 1 --seconds 0.2 --warmup 0 \
			--agency probe >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if ((ok == 0)) || ! wait_drained "$mon" 10 "$EPOCHREALTIME"; then
		echo "router.sh: the probe did not go through intake and router" >&2
		tail -n 20 "$dir/intake.log" "$dir/router.log" >&2
		exit 1
	fi

	echo "== intake -> router, $c clients x $k in flight, ${seconds}s after ${warmup}s warm-up ($endpoint)"
	i0=$(cpu_ticks "$intake_pid")
	r0=$(cpu_ticks "$router_pid")
	m0=$(cpu_ticks "$mon_pid")
	t_start=$EPOCHREALTIME
	rc=0
	"$bench_intake" --endpoint "$endpoint" --clients "$c" --inflight "$k" \
		--seconds "$seconds" --warmup "$warmup" >"$dir/out" &
	pids+=($!)
	wait "${pids[-1]}" || rc=$?
	unset 'pids[-1]'
	t_end=$EPOCHREALTIME
	i1=$(cpu_ticks "$intake_pid")
	r1=$(cpu_ticks "$router_pid")
	m1=$(cpu_ticks "$mon_pid")
	out=$(cat "$dir/out")
	echo "$out"
	if ((rc != 0)); then
		echo "router.sh: bench-intake failed (status $rc)" >&2
		failed=1
	fi
	drained=1
	wait_drained "$mon" "$drain_max" "$t_end" || drained=0
	t_done=$EPOCHREALTIME
	if ((drained == 0)); then
		echo "router.sh: the router had not caught up ${drain_max}s after the load" >&2
		failed=1
	fi
	sleep "$sample"	# one more sample after the last
	# The monitor's reading against batonctl's, now that nothing moves.
	read -r _ m_il m_ra m_tk <<<"$(last_sample "$mon")" || true
	check=$("$ctl" -c "$conf" status --json | "$python" -c '
import json, sys
s = json.load(sys.stdin)
print(s["intake"]["published"], s["router"]["applied"].get("intake", 0))' 2>&1) || check="? ?"
	read -r c_il c_ra <<<"$check"
	echo "router-check clients=$c inflight=$k monitor_intake_last=$m_il batonctl_intake_published=$c_il monitor_router_applied=$m_ra batonctl_router_applied=$c_ra router_tasks=$m_tk"
	if [[ $m_il != "$c_il" || $m_ra != "$c_ra" ]]; then
		echo "router.sh: the monitor and batonctl status disagree" >&2
		failed=1
	fi
	stop "$router_pid" || { echo "router.sh: baton-router exited with an error:" >&2; tail -n 20 "$dir/router.log" >&2; failed=1; }

	# Catch-up: intake alone at its full rate, then the router started on
	# the backlog, as after a router outage. New agencies ("solo-N"): the
	# ids of the first load would be duplicates.
	cu_line=
	if [[ $catchup == "$c $k" ]] && ((drained)); then
		echo "== intake alone (router stopped), $c clients x $k in flight, ${seconds}s after ${warmup}s warm-up; then the router on the backlog"
		ci0=$(cpu_ticks "$intake_pid")
		ta=$EPOCHREALTIME
		rc=0
		"$bench_intake" --endpoint "$endpoint" --clients "$c" \
			--inflight "$k" --seconds "$seconds" --warmup "$warmup" \
			--agency solo >"$dir/out-alone" &
		pids+=($!)
		wait "${pids[-1]}" || rc=$?
		unset 'pids[-1]'
		tb=$EPOCHREALTIME
		ci1=$(cpu_ticks "$intake_pid")
		cat "$dir/out-alone"
		if ((rc != 0)); then
			echo "router.sh: bench-intake failed (status $rc)" >&2
			failed=1
		fi
		tr=$EPOCHREALTIME
		NOTIFY_SOCKET=$sockdir/$name.r.notify "$router" -c "$conf" \
			2>>"$dir/router.log" &
		router_pid=$!
		pids+=("$router_pid")
		cu_ok=1
		wait_drained "$mon" "$drain_max" "$tr" || cu_ok=0
		td=$EPOCHREALTIME
		cu_ticks=$(cpu_ticks "$router_pid")
		if ((cu_ok == 0)); then
			echo "router.sh: the router had not caught up ${drain_max}s after its start" >&2
			failed=1
		fi
		sleep "$sample"
		stop "$router_pid" || { echo "router.sh: baton-router exited with an error:" >&2; tail -n 20 "$dir/router.log" >&2; failed=1; }
		cu_line=$("$python" "$work/monitor.py" catchup "$mon" \
			clients="$c" inflight="$k" \
			acks_per_s="$(field "$(cat "$dir/out-alone")" acks_per_s)" \
			t_start="$ta" t_end="$tb" t_router="$tr" t_done="$td" \
			intake_ticks=$((ci1 - ci0)) router_ticks="$cu_ticks")
		echo "$cu_line"
	fi
	stop "$intake_pid" || { echo "router.sh: baton-intake exited with an error:" >&2; tail -n 20 "$dir/intake.log" >&2; failed=1; }
	stop "$mon_pid" || true

	line=$("$python" "$work/monitor.py" report "$mon" clients="$c" \
		inflight="$k" acks_per_s="$(field "$out" acks_per_s)" \
		t_start="$t_start" t_end="$t_end" t_done="$t_done" \
		warmup="$warmup" intake_ticks=$((i1 - i0)) \
		router_ticks=$((r1 - r0)) monitor_ticks=$((m1 - m0)))
	echo "$line"
	res[$c,$k]=$(head -n 1 <<<"$line")
	[[ -n $cu_line ]] && cu_res=$cu_line
done

# ---- summary ----

echo
echo "## Router, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
grep '^route ' "$work/route.out" | while read -r l; do
	echo "route_match, 200 rules, $(field "$l" mix): $(field "$l" matches_per_s)/s, $(field "$l" ns_per_match) ns, $(field "$l" avg_rules_tried) rules tried"
done
echo
echo "| clients x in flight | intake ACKs/s | intake events/s | router tasks/s | backlog at end | backlog growth /s | drain s | router CPU % | verdict |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for run in "${runs[@]}"; do
	read -r c k <<<"$run"
	l=${res[$c,$k]}
	echo "| ${c}x$k | $(field "$l" acks_per_s) | $(field "$l" intake_events_per_s) | $(field "$l" router_tasks_per_s) | $(field "$l" backlog_end) | $(field "$l" backlog_slope_per_s) | $(field "$l" drain_s) | $(field "$l" router_cpu_pct) | $(field "$l" verdict) |"
done
if [[ -n $cu_res ]]; then
	l=$cu_res
	echo
	echo "Catch-up ($(field "$l" clients)x$(field "$l" inflight)): intake alone $(field "$l" intake_alone_acks_per_s) ACKs/s ($(field "$l" intake_alone_events_per_s) events/s over the load); the router, started on a backlog of $(field "$l" backlog), drained it in $(field "$l" catchup_s) s: $(field "$l" catchup_tasks_per_s) tasks/s at $(field "$l" router_cpu_pct)% CPU ($(field "$l" verdict))."
fi
exit "$failed"
