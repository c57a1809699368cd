#!/usr/bin/python3
"""sd_notify, against a real NOTIFY_SOCKET: what systemd hears from each daemon.

Each daemon is started with NOTIFY_SOCKET pointing at a datagram socket
this test binds (batontest.Process makes it; the reader here also stamps
every datagram with its arrival time and the sender's pid, from
SCM_CREDENTIALS, as systemd does for NotifyAccess=main). For each of
baton-intake, baton-router, baton-deadline and baton-notify:

- READY=1 comes once its sockets accept connections: at the instant the
  READY=1 datagram arrives, the reader thread connects to every endpoint
  the daemon binds (intake's submit socket over TCP, the ipc:// publish and
  replay sockets, the feed) and each connect must succeed; intake answers a
  report sent right after READY=1 at once.
- With WATCHDOG_USEC=400000 and WATCHDOG_PID its own pid (set by a shell
  that then execs the daemon, so the pid is the daemon's), WATCHDOG=1
  arrives every ~200 ms and never 400 ms apart; with WATCHDOG_PID another
  process's pid, none (sd_watchdog_enabled(): that interval is not ours);
  without WATCHDOG_PID, pings too (libsystemd's rule).
- SIGSTOP (a loop that does not turn): no WATCHDOG=1 while stopped, and
  pings again at once after SIGCONT.
- SIGHUP: RELOADING=1 (with MONOTONIC_USEC) and then READY=1, and the
  daemon goes on working.
- SIGTERM: STOPPING=1 and exit status 0.
- STATUS= carries the live counters: after three reports go through the
  four daemons, each one's STATUS= line says how far it got.
- Every datagram comes from the daemon's main pid (NotifyAccess=main).

Every wait is bounded.
"""
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report  # noqa: E402

WATCHDOG_USEC = 400000
PING = WATCHDOG_USEC / 2e6              # the daemons ping at half: 0.2 s
LIMIT = WATCHDOG_USEC / 1e6             # systemd's deadline: 0.4 s


class StampedNotifySocket(bt.NotifySocket):
    """batontest's notify socket, with each datagram's arrival time and
    sender pid, and a probe run in the reader thread the moment the first
    READY=1 arrives (set StampedNotifySocket.on_ready before start())."""

    on_ready = None

    def __init__(self, path):
        self.stamped = []           # (monotonic time, pid, [lines])
        self.ready_probe = None
        self.probe = StampedNotifySocket.on_ready
        super().__init__(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def _read(self):
        space = socket.CMSG_SPACE(struct.calcsize("iII"))
        while not self.closing:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
                if not ready:
                    continue
                data, anc, _, _ = self.sock.recvmsg(65536, space)
            except (OSError, ValueError):
                return
            now = time.monotonic()
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and \
                        kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:12])[0]
            lines = data.decode("utf-8", "replace").split("\n")
            if "READY=1" in lines and self.probe and \
                    self.ready_probe is None:
                self.ready_probe = self.probe()
            with self.cond:
                self.messages.append(lines)
                self.stamped.append((now, pid, lines))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.stamped)

    def wait_after(self, index, assignment, timeout):
        """Wait for a datagram at or past index carrying assignment (or,
        ending in "=", any value of it); returns its index or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(index, len(self.stamped)):
                    lines = self.stamped[i][2]
                    if assignment in lines or (
                            assignment.endswith("=") and
                            any(ln.startswith(assignment) for ln in lines)):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def times(self, assignment, since=0.0):
        with self.cond:
            return [t for t, _, lines in self.stamped
                    if assignment in lines and t >= since]

    def statuses(self):
        with self.cond:
            return [ln[len("STATUS="):] for _, _, lines in self.stamped
                    for ln in lines if ln.startswith("STATUS=")]

    def pids(self):
        with self.cond:
            return {p for _, p, _ in self.stamped}


# batontest.Process makes its socket with the module's NotifySocket: every
# daemon this test starts gets the stamped one.
bt.NotifySocket = StampedNotifySocket


def connect(endpoint):
    """Connect to a tcp:// or ipc:// endpoint at once; None or the error."""
    try:
        if endpoint.startswith("ipc://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(endpoint[len("ipc://"):])
        else:
            host, port = endpoint[len("tcp://"):].rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=1.0).close()
        return None
    except OSError as e:
        return "%s: %s" % (endpoint, e)


def with_own_watchdog_pid(argv):
    """argv run through a shell that sets WATCHDOG_PID to its own pid and
    execs argv: the pid the daemon then has."""
    return ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
            'exec "$@"', "sh"] + list(argv)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_state(pid, states, timeout=5.0):
    bt.wait_until(lambda: proc_state(pid) in states, timeout, 0.01,
                  "pid %d in state %s" % (pid, states))


class SdNotifyTest(unittest.TestCase):

    def setUp(self):
        self.env = bt.BatonEnv(submit="tcp")
        bt.check_binaries(bt.ROUTER_BIN, bt.DEADLINE_BIN, bt.NOTIFY_BIN)
        self.extra = []

    def tearDown(self):
        StampedNotifySocket.on_ready = None
        for p in self.extra:
            if p.proc is not None and p.proc.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
            p.kill()
        self.env.close()

    # -- helpers

    def endpoints(self, name):
        """The endpoints the daemon binds, which READY=1 promises."""
        env = self.env
        return {
            "intake": [env.submit, env.publish, env.replay],
            "router": [env.router_publish, env.router_replay],
            "deadline": [env.deadline_publish, env.deadline_replay],
            "notify": [env.feed],
        }[name]

    def daemon(self, name):
        return getattr(self.env, name)

    def process(self, name, argv):
        p = bt.Process(self.env.dir, name, argv)
        self.extra.append(p)
        return p

    def assert_stops(self, p):
        """SIGTERM: STOPPING=1, status 0 (Process.stop checks both), and
        every datagram came from the main pid."""
        pid = p.pid
        n = p.notify
        p.stop()
        self.assertEqual(n.pids(), {pid})
        self.assertTrue(n.seen("STOPPING=1"))

    # -- READY

    def test_ready_after_bind(self):
        """At READY=1 every socket of the daemon accepts a connection."""
        for name in ("intake", "router", "deadline", "notify"):
            with self.subTest(daemon=name):
                eps = self.endpoints(name)
                StampedNotifySocket.on_ready = \
                    lambda eps=eps: [e for e in map(connect, eps) if e]
                p = self.daemon(name)
                p.start()
                StampedNotifySocket.on_ready = None
                self.assertEqual(p.notify.ready_probe, [])
                ready = [ln for ln in p.notify.messages
                         if "READY=1" in ln][0]
                self.assertTrue(any(x.startswith("STATUS=") for x in ready),
                                ready)
        # Intake answers a report at once after READY=1.
        self.env.intake.stop()
        self.env.intake.start()
        a = self.env.client().request(report(), timeout=2.0)
        self.assertEqual(a.get("type"), "ack", a)
        for name in ("notify", "deadline", "router", "intake"):
            self.assert_stops(self.daemon(name))

    def test_probe_sees_unbound(self):
        """The probe is not blind: before a daemon starts, or once it has
        stopped, none of its endpoints connects."""
        for name in ("intake", "router", "deadline", "notify"):
            eps = self.endpoints(name)
            self.assertEqual(len([e for e in map(connect, eps) if e]),
                             len(eps), name)
        self.env.intake.start()
        self.assert_stops(self.env.intake)
        eps = self.endpoints("intake")
        self.assertEqual(len([e for e in map(connect, eps) if e]), len(eps))

    # -- WATCHDOG

    def check_pings(self, p, seconds=2.0):
        """WATCHDOG=1 every ~PING, never LIMIT apart, over seconds."""
        t0 = time.monotonic()
        time.sleep(seconds)
        ts = p.notify.times("WATCHDOG=1", since=t0 - LIMIT)
        ts = [t for t in ts if t <= t0 + seconds]
        self.assertGreaterEqual(len(ts), int(seconds / PING) - 2, ts)
        self.assertLessEqual(len(ts), int(seconds / PING) + 3, ts)
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        gaps.sort()
        self.assertLess(gaps[-1], LIMIT, gaps)
        median = gaps[len(gaps) // 2]
        self.assertGreater(median, PING * 0.75, gaps)
        self.assertLess(median, PING * 1.5, gaps)

    def test_watchdog(self):
        """Pings at half the interval; none while the loop is stopped; at
        once again after SIGCONT."""
        env = {"WATCHDOG_USEC": str(WATCHDOG_USEC)}
        for name in ("intake", "router", "deadline", "notify"):
            with self.subTest(daemon=name):
                p = self.process(name, with_own_watchdog_pid(
                    self.daemon(name).argv))
                p.start(extra_env=env)
                self.check_pings(p)

                os.kill(p.pid, signal.SIGSTOP)
                wait_state(p.pid, "T")
                stopped = time.monotonic()
                time.sleep(3 * LIMIT)
                resumed = time.monotonic()
                late = p.notify.times("WATCHDOG=1", since=stopped + 0.05)
                self.assertEqual(late, [], "pinged while stopped")

                os.kill(p.pid, signal.SIGCONT)
                wait_state(p.pid, "SRD")
                bt.wait_until(lambda: p.notify.times("WATCHDOG=1",
                                                     since=resumed),
                              LIMIT, 0.01, "a ping after SIGCONT")
                t = p.notify.times("WATCHDOG=1", since=resumed)[0]
                self.assertLess(t - resumed, LIMIT)
                self.check_pings(p, 1.0)
                self.assert_stops(p)

    def test_stuck_loop(self):
        """A loop stuck in a call stops pinging, even though its process
        lives on (ZeroMQ's threads turn): the router waits for its store's
        write lock, which this test holds, while intake goes on pinging;
        the router's pings come back once the lock is released."""
        import lmdb

        env = {"WATCHDOG_USEC": str(WATCHDOG_USEC)}
        intake = self.process("intake", with_own_watchdog_pid(
            self.env.intake.argv))
        intake.start(extra_env=env)
        router = self.process("router", with_own_watchdog_pid(
            self.env.router.argv))
        router.start(extra_env=env)
        self.check_pings(router, 1.0)

        db = lmdb.open(self.env.router_state, max_dbs=32, lock=True)
        txn = db.begin(write=True)
        try:
            a = self.env.client().request(report())
            self.assertEqual(a.get("type"), "ack", a)

            def silent():
                ts = router.notify.times("WATCHDOG=1")
                return time.monotonic() - ts[-1] > LIMIT and ts[-1]
            last = bt.wait_until(silent, 5.0, 0.02,
                                 "the router's pings to stop")
            time.sleep(3 * LIMIT)
            self.assertEqual(router.notify.times("WATCHDOG=1",
                                                 since=last + 0.001), [])
            self.assertTrue(router.running())
            alive = intake.notify.times("WATCHDOG=1", since=last)
            self.assertGreaterEqual(len(alive), int(3 * LIMIT / PING))
        finally:
            txn.abort()
            released = time.monotonic()
        bt.wait_until(lambda: router.notify.times("WATCHDOG=1",
                                                  since=released),
                      LIMIT, 0.01, "a ping after the lock is released")
        self.check_pings(router, 1.0)
        bt.wait_until(lambda: any(s.startswith("applied intake seq 1 of 1")
                                  for s in router.notify.statuses()),
                      5.0, 0.05, "the router to apply the report")
        db.close()
        self.assert_stops(router)
        self.assert_stops(intake)

    def test_watchdog_pid(self):
        """WATCHDOG_PID another process's: no pings; unset: pings."""
        p = self.process("intake", self.env.intake.argv)
        p.start(extra_env={"WATCHDOG_USEC": str(WATCHDOG_USEC),
                           "WATCHDOG_PID": str(os.getpid())})
        time.sleep(3 * PING)
        self.assertEqual(p.notify.times("WATCHDOG=1"), [])
        self.assert_stops(p)

        p = self.process("intake", self.env.intake.argv)
        p.start(extra_env={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        self.check_pings(p, 1.0)
        self.assert_stops(p)

    def test_no_watchdog(self):
        """Without WATCHDOG_USEC: no pings at all."""
        p = self.env.intake
        p.start()
        time.sleep(3 * PING)
        self.assertEqual(p.notify.times("WATCHDOG=1"), [])
        self.assert_stops(p)

    # -- RELOADING

    def test_reload(self):
        """SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1; the
        daemon goes on."""
        for name in ("intake", "router", "deadline", "notify"):
            with self.subTest(daemon=name):
                p = self.daemon(name)
                p.start()
                n = p.notify
                mark = n.mark()
                sent = time.clock_gettime(time.CLOCK_MONOTONIC)
                os.kill(p.pid, signal.SIGHUP)
                i = n.wait_after(mark, "RELOADING=1", 5.0)
                self.assertIsNotNone(i, "no RELOADING=1 after SIGHUP")
                usec = [ln for ln in n.stamped[i][2]
                        if ln.startswith("MONOTONIC_USEC=")]
                self.assertEqual(len(usec), 1, n.stamped[i])
                at = int(usec[0].split("=", 1)[1]) / 1e6
                self.assertTrue(sent - 1 <= at <= sent + 5, (sent, at))
                j = n.wait_after(i + 1, "READY=1", 5.0)
                self.assertIsNotNone(j, "no READY=1 after RELOADING=1")
                self.assertTrue(p.running())
        a = self.env.client().request(report(), timeout=5.0)
        self.assertEqual(a.get("type"), "ack", a)
        for name in ("notify", "deadline", "router", "intake"):
            self.assert_stops(self.daemon(name))

    # -- STATUS

    def test_status_counters(self):
        """STATUS= follows the work: three reports through all four."""
        env = self.env
        for name in ("intake", "router", "deadline", "notify"):
            self.daemon(name).start()
        c = env.client()
        for sev in ("critical", "high", "low"):
            a = c.request(report(severity=sev))
            self.assertEqual(a.get("type"), "ack", a)

        def status_matching(name, pattern):
            p = self.daemon(name)

            def find():
                for s in reversed(p.notify.statuses()):
                    m = re.search(pattern, s)
                    if m:
                        return m
                return None
            return bt.wait_until(find, 10.0, 0.05,
                                 "%s STATUS= like %r; got %r"
                                 % (name, pattern, p.notify.statuses()))

        status_matching("intake", r"^accepted 3, duplicates 0, refused 0, "
                        r"last seq 3$")
        m = status_matching("router", r"^applied intake seq 3 of 3, tasks "
                            r"created ([1-9]\d*), closed 0, refused 0$")
        created = int(m.group(1))
        self.assertEqual(created, len(env.queue()))
        m = status_matching("deadline", r"^applied router seq ([1-9]\d*) "
                            r"of \1, alerts fired \d+ \(late \d+\), next "
                            r"due \S+$")
        router_seq = int(m.group(1))
        self.assertGreaterEqual(router_seq, created)
        status_matching("notify", r"^alerts \d+, delivered \d+, retried \d+, "
                        r"dead \d+, in flight \d+; router seq %d, deadline "
                        r"seq \d+$" % router_seq)
        for name in ("notify", "deadline", "router", "intake"):
            self.assert_stops(self.daemon(name))


if __name__ == "__main__":
    bt.main()
