# tools/common.sh - shell helpers the demo and the benchmarks share.
# Sourced, not run. /usr/bin/python3 is a dependency (tools/install-deps.sh).

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The value of key $2 in a "name key=value ..." line $1.
field() {
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}
