# tools/common.sh - shell helpers the demo and the benchmarks share.
# Sourced, not run. /usr/bin/python3 is a dependency (tools/install-deps.sh).

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Exit with one line unless each program after the first argument (the
# script's name, for the message) is built.
need_built() {
	local who=$1 exe
	shift
	for exe in "$@"; do
		if [[ ! -x $exe ]]; then
			echo "$who: $exe is missing: build first (make bench)" >&2
			exit 1
		fi
	done
}

# Stop each process named by pid that still runs, with SIGTERM, in the
# order given, and wait for it: the cleanup of a script that started them.
stop_pids() {
	local p
	for p in "$@"; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
}

# The value of key $2 in a "name key=value ..." line $1.
field() {
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

# Wait (up to 10 s) until something listens on each TCP port on 127.0.0.1.
wait_ports() {
	for _ in $(seq 100); do
		/usr/bin/python3 -c 'import socket, sys
for p in sys.argv[1:]:
    socket.create_connection(("127.0.0.1", int(p)), 1).close()' "$@" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
