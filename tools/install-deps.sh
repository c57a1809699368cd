#!/bin/sh
# install-deps.sh - install the Debian packages Baton builds, tests, demos and
# benchmarks with (redis-server: bench/compare.sh runs its own against intake).
#
# Run as root (or with sudo available) on Debian 12. The Makefile calls this
# when pkg-config cannot find a dependency, so `make demo` and `make check`
# work on a machine that has never seen the project. Safe to run again.
set -eu

PACKAGES="
build-essential cmake pkg-config
libzmq3-dev libmsgpack-dev liblmdb-dev libsystemd-dev libsodium-dev
libinih-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev
lmdb-utils systemd openssl
python3 python3-zmq python3-msgpack python3-lmdb python3-aiosmtpd
clang libclang-rt-14-dev llvm
redis-server
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: need root to install:$missing" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
