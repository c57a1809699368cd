#!/bin/bash
# try-units.sh - run the installed Baton units under a real systemd, on a
# throwaway copy of this host.
#
#   usage: systemd/try-units.sh BUILD [--watchdog]
#
# BUILD is a build directory configured with -DCMAKE_INSTALL_PREFIX=/usr
# (make BUILD=build-usr PREFIX=/usr). Root only; needs unshare (util-linux),
# overlayfs and systemd. What systemd-analyze cannot tell - whether the
# daemons actually run in their sandbox - this does: it boots systemd as
# PID 1 of private PID, mount, UTS, IPC and cgroup namespaces, with /etc,
# /usr and /var overlaid (every write goes to a temporary directory) and
# /run and /tmp private, installs BUILD there and follows docs/operations.md:
# systemd-sysusers, systemd-tmpfiles, keys, --check as baton, enable --now
# baton.target. It then checks that the four services are active with a
# Status, that a report goes through, that reload, restarting one daemon
# and stopping the target work, and with --watchdog (36 s more) that a
# daemon whose loop is stopped is killed by the watchdog and restarted.
# Host services that touch shared kernel state (sysctl, binfmt, modules,
# device nodes, timers) are masked in the copy. Everything ends with the
# namespace: nothing is left on the host but what it printed.
set -eu

BUILD=${1:?usage: $0 BUILD [--watchdog]}
WATCHDOG=${2:-}
BUILD=$(cd "$BUILD" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "try-units: run as root" >&2; exit 2; }
grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$BUILD/CMakeCache.txt" || {
	echo "try-units: $BUILD is not configured with PREFIX=/usr" >&2; exit 2; }

T=$(mktemp -d /tmp/baton-try-XXXXXX)
PID1=
cleanup() {
	if [ -n "$PID1" ]; then
		kill -KILL "$PID1" 2>/dev/null || true
		while kill -0 "$PID1" 2>/dev/null; do sleep 0.1; done
	fi
	rm -rf "$T"
}
trap cleanup EXIT

cat > "$T/boot.sh" <<EOF
#!/bin/bash
set -eu
for d in etc usr var; do
	mkdir -p $T/\$d-up $T/\$d-work
	mount -t overlay overlay -o lowerdir=/\$d,upperdir=$T/\$d-up,workdir=$T/\$d-work /\$d
done
cmake --install $BUILD > $T/install.log
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
mount --bind /sys /sys && mount -o remount,bind,ro /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for u in systemd-pstore.service systemd-timesyncd.service \\
	proc-sys-fs-binfmt_misc.automount systemd-binfmt.service \\
	systemd-sysctl.service systemd-modules-load.service \\
	kmod-static-nodes.service systemd-firstboot.service \\
	systemd-repart.service systemd-pcrphase-sysinit.service \\
	systemd-pcrphase.service systemd-machine-id-commit.service \\
	systemd-tmpfiles-setup-dev.service systemd-tmpfiles-setup.service \\
	systemd-journald-audit.socket sys-kernel-config.mount \\
	sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount \\
	systemd-remount-fs.service systemd-fsck-root.service timers.target \\
	getty.target systemd-logind.service; do
	ln -sf /dev/null /etc/systemd/system/\$u
done
printf '[Unit]\nDescription=try-units\nRequires=basic.target\nAfter=basic.target\n' \\
	> /etc/systemd/system/try-units.target
echo baton-try > /etc/hostname
exec env container=baton-try /lib/systemd/systemd --unit=try-units.target
EOF
chmod +x "$T/boot.sh"

unshare --pid --fork --mount --uts --ipc --cgroup --mount-proc \
	--propagation private "$T/boot.sh" > "$T/console.log" 2>&1 < /dev/null &
UNSHARE=$!
for _ in $(seq 100); do
	PID1=$(pgrep -P "$UNSHARE" || true)
	[ -n "$PID1" ] && [ "$(cat /proc/"$PID1"/comm 2>/dev/null)" = systemd ] && break
	sleep 0.1
done
[ -n "$PID1" ] || { echo "try-units: systemd did not start" >&2; cat "$T/console.log" >&2; exit 1; }

in_ns() { timeout 60 nsenter -t "$PID1" -a "$@"; }
for _ in $(seq 100); do
	s=$(in_ns systemctl is-system-running 2>/dev/null || true)
	case $s in running|degraded) break ;; esac
	sleep 0.2
done
echo "try-units: systemd is $s"

failed=0
check() {	# check WHAT COMMAND...: run it in the namespace, say ok or FAIL
	local what=$1; shift
	if out=$(in_ns sh -c "$*" 2>&1); then
		echo "ok    $what"
	else
		echo "FAIL  $what"; echo "$out" | sed 's/^/      /'
		failed=$((failed + 1))
	fi
}

# docs/operations.md, Installing and Keys.
check "sysusers makes baton" 'systemd-sysusers && id baton'
check "tmpfiles makes the directories" \
	'systemd-tmpfiles --create /usr/lib/tmpfiles.d/baton.conf &&
	 test "$(stat -c %a:%U /var/lib/baton/intake)" = 700:baton &&
	 test "$(stat -c %a:%U /run/baton)" = 750:baton'
check "keys" 'cd /etc/baton && batonctl keygen --server >/dev/null &&
	chown baton:baton server.key &&
	batonctl keygen duty-officer --out /etc/baton/operator.key > /tmp/op &&
	key=$(sed -n "s/^key = //p" /tmp/op) &&
	awk -v k="$key" "{ print } \$0 == \"[agency duty-officer]\" { print \"key = \" k }" \
		agencies.conf > agencies.new && mv agencies.new agencies.conf &&
	chown root:baton agencies.conf && chmod 640 agencies.conf'
check "--check as baton" 'for d in intake router deadline notify; do
	runuser -u baton -- baton-$d -c /etc/baton/baton.conf --check || exit 1; done'
check "enable --now baton.target" 'systemctl daemon-reload &&
	systemctl enable --now baton.target && sleep 3 &&
	systemctl is-active baton-intake baton-router baton-deadline baton-notify'
check "a Status from each" 'for d in intake router deadline notify; do
	test -n "$(systemctl show -p StatusText --value baton-$d)" || exit 1; done'
check "a report goes through" 'batonctl submit --kind incident \
	--category cybersecurity --severity critical --title "try-units" \
	--id try-1 && sleep 2 && batonctl queue | grep -q try-units &&
	batonctl verify'
check "journal fields" 'journalctl TASK_ID=T-1 KIND=task-assigned -o cat | grep -q "alert T-1/"'
check "reload" 'systemctl reload "baton-*.service" && sleep 1 &&
	systemctl is-active baton-intake baton-router baton-deadline baton-notify &&
	journalctl -u baton-router -o cat | grep -q "^reloaded"'
check "restart one, the others keep their sockets" \
	'systemctl restart baton-intake && test -S /run/baton/router.pub &&
	 batonctl submit --kind incident --category cyber-defense \
		--severity high --title "after restart" --id try-2 && sleep 2 &&
	 systemctl show -p StatusText --value baton-router | grep -q "intake seq 2 of 2"'
if [ "$WATCHDOG" = --watchdog ]; then
	check "the watchdog restarts a stopped loop" \
		'kill -STOP $(systemctl show -p MainPID --value baton-deadline) &&
		 sleep 36 && test "$(systemctl show -p NRestarts --value baton-deadline)" = 1 &&
		 systemctl is-active baton-deadline'
fi
check "backup" 'batonctl backup /var/tmp/baton-backup | grep -q "4 stores copied"'
check "stop: clean exits" 'systemctl stop baton.target && for d in intake router deadline notify; do
	test "$(systemctl show -p Result --value baton-$d)" = success || exit 1; done'
aborts=0; [ "$WATCHDOG" = --watchdog ] && aborts=1
check "no sandbox kills, no aborts but the watchdog's" \
	"! journalctl -o cat | grep -q 'status=31/SYS' &&
	 test \$(journalctl -o cat | grep -c 'status=6/ABRT') -le $aborts"
for u in baton-intake baton-router baton-deadline baton-notify; do
	in_ns systemd-analyze security "$u.service" | tail -1
done
if [ "$failed" -gt 0 ]; then
	echo "try-units: $failed checks failed; the journal:"
	in_ns journalctl -o short --no-pager -n 60 | sed 's/^/      /'
	exit 1
fi
echo "try-units: all checks passed"
