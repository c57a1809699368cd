#!/usr/bin/python3
"""Pub-sub never loses an event: tests/bus-tap against baton-intake.

bus-tap applies every event of intake's bus into its own LMDB through
lib/bus.c, counting an event applied twice (dups) or out of order
(disorder). Each test ends by comparing the tap's rows with
`batonctl log --json`: the same events, seq for seq (topic, agency, id),
1..N, dups 0, disorder 0. Convergence is awaited by polling
`bus-tap --dump` against a deadline, never by fixed sleeps.

  late       a tap started after 1500 reports replays them, then gets the
             next ones live
  kill       a tap SIGKILLed twice mid-stream and restarted
  slow       a tap slower than the publisher (--delay-us 500) while more
             than the PUB high-water mark of events is published
  restart    tap stopped, more submitted, intake restarted, tap restarted
  crash      intake SIGKILLed and restarted under a running tap
  second     a second baton-intake on the same configuration must refuse
             to start, and must not take the running one's bus endpoints
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report  # noqa: E402

CONVERGE = 30.0             # seconds a tap may take to catch up


class ReplayTest(unittest.TestCase):

    def setUp(self):
        self.env = bt.BatonEnv()
        self.env.start_intake()
        self.client = self.env.client()
        self.submitted = 0

    def tearDown(self):
        self.env.close()

    # ---- helpers

    def bodies(self, n, agency="ministry-a"):
        out = []
        for _ in range(n):
            self.submitted += 1
            if self.submitted % 10 == 0:
                out.append(bt.command("extend", id=bt.uid("c"),
                                      agency="office"))
            else:
                out.append(report(id=bt.uid("ev"), agency=agency))
        return out

    def submit(self, n, client=None):
        acks = bt.submit_many(client or self.client, self.bodies(n))
        return acks

    def expected(self):
        """The log as the tap should hold it."""
        return [(r["seq"], r["topic"], r["agency"], r["id"])
                for r in self.env.log()]

    def wait_converged(self, tap, count, timeout=CONVERGE):
        """Wait until the tap holds count events, then check it holds
        exactly the log."""
        deadline = time.monotonic() + timeout
        rows = []
        while True:
            if not tap.running():
                self.fail("%s exited:\n%s" % (tap.name, tap.output()))
            rows, dups, disorder = tap.dump()
            if len(rows) >= count:
                break
            if time.monotonic() > deadline:
                self.fail("%s has %d of %d events after %.0f s; "
                          "its output:\n%s" % (tap.name, len(rows), count,
                                               timeout, tap.output()))
            time.sleep(0.1)
        self.assertEqual(dups, 0, "events applied twice")
        self.assertEqual(disorder, 0, "events applied out of order")
        want = self.expected()
        self.assertEqual(len(want), count, "the log is not what was acked")
        self.assertEqual([r[0] for r in rows], list(range(1, count + 1)))
        self.assertEqual(rows, want)
        return rows

    def dump_count(self, tap):
        return len(tap.dump()[0])

    # ---- tests

    def test_late_tap(self):
        acks = self.submit(1500)
        self.assertEqual([a["seq"] for a in acks], list(range(1, 1501)))
        tap = self.env.tap()
        tap.start()
        self.wait_converged(tap, 1500)
        # then live, one at a time and in a burst
        for _ in range(20):
            self.submit(1)
        self.submit(480)
        self.wait_converged(tap, 2000)
        tap.stop()          # exit 0, STOPPING=1
        self.env.intake.stop()
        self.env.verify()

    def test_tap_killed_mid_stream(self):
        tap = self.env.tap()
        tap.start()
        total = 3000
        errors = []
        feeder_client = self.env.client()
        bodies = self.bodies(total)

        def feed():
            try:
                for i in range(0, total, 100):
                    bt.submit_many(feeder_client, bodies[i:i + 100])
                    time.sleep(0.005)
            except Exception as e:
                errors.append(e)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for at in (400, 1500):
                bt.wait_until(lambda: self.dump_count(tap) >= at, CONVERGE,
                              interval=0.02,
                              what="the tap to apply %d events" % at)
                tap.kill()
                n = self.dump_count(tap)
                print("tap killed with %d events applied" % n,
                      file=sys.stderr)
                tap.start()
        finally:
            feeder.join(60)
        self.assertFalse(feeder.is_alive(), "the feeder did not finish")
        self.assertEqual(errors, [])
        self.wait_converged(tap, total)
        tap.stop()

    def test_slow_tap(self):
        tap = self.env.tap(delay_us=500)
        tap.start()
        total = 3500        # > the PUB socket's default HWM of 1000
        t0 = time.monotonic()
        self.submit(total)
        published = time.monotonic() - t0
        rows = self.wait_converged(tap, total, timeout=45)
        print("published %d in %.1f s; tap done after %.1f s"
              % (total, published, time.monotonic() - t0), file=sys.stderr)
        self.assertEqual(len(rows), total)
        tap.stop()

    def test_restart_both(self):
        tap = self.env.tap()
        tap.start()
        self.submit(500)
        self.wait_converged(tap, 500)
        tap.stop()
        self.submit(700)            # while the tap is down
        self.env.intake.stop()
        self.env.intake.start()
        tap.start()
        self.wait_converged(tap, 1200)
        self.submit(300)            # live again
        self.wait_converged(tap, 1500)
        tap.stop()

    def test_restart_intake_under_running_tap(self):
        tap = self.env.tap()
        tap.start()
        self.submit(300)
        self.wait_converged(tap, 300)
        # a clean restart
        self.env.intake.stop()
        self.env.intake.start()
        self.submit(300)
        self.wait_converged(tap, 600)
        # a crash right after a burst: some events may be committed
        # but never sent live; heartbeats and replay must bring them
        client = self.env.client()
        for b in self.bodies(400):
            client.send(b)
        got = 0
        while got < 200:
            a = client.recv()
            self.assertIsNotNone(a, "no answer")
            got += 1
        self.env.intake.kill()
        self.env.intake.start()
        client.close()
        # what survived is what the log holds; resend the rest
        logged = {r["id"] for r in self.env.log()}
        self.assertGreaterEqual(len(logged), 800)
        self.submit(200)
        want = len(self.env.log())
        self.wait_converged(tap, want)
        tap.stop()
        self.env.intake.stop()
        self.env.verify()

    def second_instance(self):
        """Start a second intake on the same configuration: it must refuse
        to run. Whatever it does, it is gone afterwards."""
        second = bt.Process(self.env.dir, "intake2",
                            [bt.INTAKE_BIN, "-c", self.env.conf])
        try:
            second.start(timeout=3)
        except AssertionError:
            return True             # refused (or died): as it should
        finally:
            second.kill()
        return False

    def check_first_still_serves(self, before):
        self.assertTrue(self.env.intake.running())
        self.submit(10)
        tap = self.env.tap()
        tap.start()
        self.wait_converged(tap, before + 10, timeout=5)
        tap.stop()

    def test_second_intake_refused_ipc(self):
        # Everything on ipc://: a second intake binds the same paths
        # (ZeroMQ replaces an ipc:// socket file) and must not run.
        self.submit(10)
        started = not self.second_instance()
        self.check_first_still_serves(10)
        self.assertFalse(started, "a second baton-intake on the same "
                         "state_dir and endpoints started and took over")

    def test_second_intake_leaves_the_bus_alone(self):
        # submit on TCP: the second intake fails to bind it and exits, but
        # must not have taken the first one's ipc:// publish and replay
        # endpoints with it.
        self.env.close()
        self.env = bt.BatonEnv(submit="tcp")
        self.env.start_intake()
        self.client = self.env.client()
        self.submit(10)
        self.second_instance()
        self.check_first_still_serves(10)


if __name__ == "__main__":
    bt.main()
