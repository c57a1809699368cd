#!/usr/bin/python3
"""Durable before acknowledged: SIGKILL baton-intake under load, three times.

Four client threads each submit their own reports (unique ids, DEALER, a
window of them in flight), resending every id that has no answer after a
while, as PROTOCOL.md tells clients to. The test SIGKILLs intake at random
moments (seeded; the seed is printed), restarts it, and the clients carry on
until every id is acknowledged. Then:

  - every acknowledged id is in `batonctl log --json` exactly once;
  - the log's seqs are exactly 1..N and N is the number of distinct ids;
  - the seq (and accepted_at) of every ack equals the log's, including the
    acks of resends answered as duplicates after a restart;
  - `batonctl verify` passes and intake stops cleanly on SIGTERM.

Then two tests of the write-ahead file with checkpoints a minute apart, so
that every ACK comes from the file alone: a SIGKILL loses none of them, and
a SIGTERM commits them.

Variants: a tiny LMDB map that must grow between and during kills;
max_batch = 3; SIGTERM instead of SIGKILL under load (exit 0, STOPPING=1,
nothing acknowledged lost); SIGHUP under load (RELOADING=1, READY=1, keeps
serving).
"""
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
import zmq  # noqa: E402

SEED = int(os.environ.get("BATON_SEED", str(int(time.time()) % 100000)))
CLIENTS = 4
PER_CLIENT = 750            # 3000 reports in all
WINDOW = 24                 # in flight per client
RESEND_AFTER = 0.5          # seconds without an answer
CYCLES = 3
DEADLINE = 90               # seconds for the whole run


class Submitter(threading.Thread):
    """One agency's client: submits its ids until every one is acked."""

    def __init__(self, env, n, ids, stop):
        super().__init__(name="client-%d" % n, daemon=True)
        self.env = env
        self.agency = "agency-%d" % n
        self.ids = ids
        self.stop_event = stop
        self.acks = {}          # id -> (seq, accepted_at) of the first ack
        self.answers = 0
        self.duplicates = 0
        self.resends = 0
        self.errors = []

    def body(self, i):
        return bt.pack(bt.report(id=i, agency=self.agency,
                                 title="crash test " + i,
                                 body="x" * (len(i) * 7 % 200)))

    def run(self):
        sock = self.env.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.env.submit)
        try:
            self.loop(sock)
        except Exception as e:          # reported by the test
            self.errors.append("%s: %r" % (self.name, e))
        finally:
            sock.close(0)

    def loop(self, sock):
        todo = list(self.ids)
        todo.reverse()
        inflight = {}           # id -> time last sent
        bodies = {}
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while (todo or inflight) and not self.stop_event.is_set():
            now = time.monotonic()
            while todo and len(inflight) < WINDOW:
                i = todo.pop()
                bodies[i] = self.body(i)
                inflight[i] = 0.0
            self.resends += bt.resend_due(sock, inflight, bodies.get, now,
                                          RESEND_AFTER)
            if not poller.poll(20):
                continue
            while True:
                try:
                    a = bt.unpack(sock.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
                self.answers += 1
                self.take(a, inflight)

    def take(self, a, inflight):
        verdict, i = bt.check_answer(self.name, a, self.ids_set, self.acks,
                                     self.errors)
        if verdict in ("first", "again") and a["duplicate"]:
            self.duplicates += 1
        if verdict in ("first", "again", "refused"):
            inflight.pop(i, None)

    @property
    def ids_set(self):
        s = getattr(self, "_ids_set", None)
        if s is None:
            s = self._ids_set = set(self.ids)
        return s


class CrashTest(unittest.TestCase):

    env = None

    def tearDown(self):
        if self.env:
            self.env.close()

    def test_kill_restart_under_load(self):
        self.env = bt.BatonEnv()
        self.run_cycles(random.Random(SEED))

    def test_kill_restart_while_the_map_grows(self):
        # A 256 KiB map fills many times over: intake grows it between
        # kills, and a kill can land in the middle of growing.
        self.env = bt.BatonEnv(map_size="256K")
        self.run_cycles(random.Random(SEED + 1))

    def test_small_batches(self):
        # max_batch = 3: many small group commits, kills between them.
        self.env = bt.BatonEnv(max_batch=3)
        self.run_cycles(random.Random(SEED + 2))

    def test_sigterm_under_load(self):
        # A clean stop under load finishes the round in hand: exit 0,
        # STOPPING=1, and nothing acknowledged is lost.
        self.env = bt.BatonEnv()
        self.run_cycles(random.Random(SEED + 3), how="term")

    def test_sighup_under_load(self):
        # SIGHUP reloads (RELOADING=1, READY=1) and does not stop intake.
        self.env = bt.BatonEnv()
        self.run_cycles(random.Random(SEED + 4), how="hup")

    def test_kill_before_checkpoint(self):
        # Checkpoints a minute apart: every ACK here comes from the
        # write-ahead file alone. The store has none of the reports when
        # intake is killed, and all of them, as acknowledged, after the
        # restart has read them back from the file.
        self.env = env = bt.BatonEnv(intake={"checkpoint": "1m"})
        env.intake.start()
        c = env.client()
        acks = {}
        for k in range(20):
            a = c.request(bt.report(id="wal-%02d" % k))
            self.assertEqual(a["type"], "ack", a)
            acks[a["id"]] = (a["seq"], a["accepted_at"])
        env.intake.kill()
        self.assertEqual(env.log(), [], "committed before the kill: the "
                         "write-ahead file was not what kept them")
        env.intake.start()
        self.assertIn("20 reports answered before a stop committed",
                      env.intake.output())
        log = env.log()
        self.assertEqual({r["id"]: (r["seq"], r["accepted_at"])
                          for r in log}, acks)
        # Resent, each is the same report: the first answer again.
        a = c.request(bt.report(id="wal-07"))
        self.assertTrue(a["duplicate"], a)
        self.assertEqual((a["seq"], a["accepted_at"]), acks["wal-07"])
        env.intake.kill()               # and a second start redoes none
        env.intake.start()
        self.assertEqual(len(env.log()), 20)
        self.assertEqual(c.request(bt.report(id="wal-20"))["seq"], 21)
        env.intake.stop()
        self.assertEqual(len(env.log()), 21)
        env.verify()

    def test_large_rounds(self):
        # 150 reports of 60 KB sent at once: 9 MB, more than the file's
        # 2 MB between checkpoints and more than its 8 MB. With checkpoints
        # a minute apart, only their size can make intake commit: some are
        # in the log before any stop, and a SIGKILL loses none.
        self.env = env = bt.BatonEnv(intake={"checkpoint": "1m"})
        env.intake.start()
        c = env.client()
        for k in range(150):
            c.send(bt.report(id="big-%03d" % k, body="x" * 60000))
        acks = {}
        while len(acks) < 150:
            a = c.recv()
            self.assertIsNotNone(a, "%d of 150 answered" % len(acks))
            self.assertEqual(a["type"], "ack", a)
            acks[a["id"]] = a["seq"]
        self.assertEqual(sorted(acks.values()), list(range(1, 151)))
        self.assertGreaterEqual(len(env.read_log()), 34,   # 2 MB / 60 KB
                                "nothing committed by size")
        env.intake.kill()
        env.intake.start()
        self.assertEqual({r["id"]: r["seq"] for r in env.log()}, acks)
        env.intake.stop()
        env.verify()

    def test_stop_commits(self):
        # A clean stop commits what only the write-ahead file had.
        self.env = env = bt.BatonEnv(intake={"checkpoint": "1m"})
        env.intake.start()
        c = env.client()
        for k in range(3):
            self.assertEqual(c.request(bt.report(id="s-%d" % k))["type"],
                             "ack")
        self.assertEqual(env.log(), [])
        env.intake.stop()
        self.assertEqual([r["id"] for r in env.log()],
                         ["s-0", "s-1", "s-2"])
        env.intake.start()
        self.assertNotIn("answered before a stop", env.intake.output())
        env.intake.stop()
        env.verify()

    def run_cycles(self, rng, how="kill"):
        print("seed %d (BATON_SEED=%d to repeat)" % (SEED, SEED),
              file=sys.stderr)
        env = self.env
        env.start_intake()
        stop = threading.Event()
        clients = [Submitter(env, n, ["c%d-%04d" % (n, k)
                                      for k in range(PER_CLIENT)], stop)
                   for n in range(CLIENTS)]
        total = CLIENTS * PER_CLIENT
        started = time.monotonic()
        deadline = started + DEADLINE

        def acked():
            return sum(len(c.acks) for c in clients)

        try:
            for c in clients:
                c.start()
            # kill points spread over the run, each at a random place
            points = [rng.uniform(0.1 + 0.25 * k, 0.3 + 0.25 * k) * total
                      for k in range(CYCLES)]
            for k, point in enumerate(points):
                while acked() < point:
                    self.assertLess(time.monotonic(), deadline,
                                    "stuck at %d acks before kill %d"
                                    % (acked(), k + 1))
                    self.assertTrue(env.intake.running(),
                                    env.intake.output())
                    time.sleep(0.001)
                time.sleep(rng.uniform(0, 0.005))
                at = acked()
                if how == "hup":
                    n = len(env.intake.notify.messages)
                    env.intake.proc.send_signal(signal.SIGHUP)
                    self.assertTrue(bt.wait_until(
                        lambda: any("READY=1" in m for m in
                                    env.intake.notify.messages[n:]),
                        10, what="READY=1 after SIGHUP"))
                    self.assertTrue(any("RELOADING=1" in m for m in
                                        env.intake.notify.messages[n:]),
                                    "no RELOADING=1 on SIGHUP")
                    self.assertTrue(env.intake.running())
                    print("SIGHUP %d at %d acks" % (k + 1, at),
                          file=sys.stderr)
                    continue
                if how == "term":
                    env.intake.stop()       # exit 0 and STOPPING=1
                else:
                    env.intake.kill()
                self.assertLess(at, total, "kill %d came after the last "
                                "ack: not under load" % (k + 1))
                down = rng.uniform(0, 0.3)
                print("%s %d at %d acks; down %.0f ms"
                      % ("SIGTERM" if how == "term" else "SIGKILL", k + 1,
                         at, down * 1000), file=sys.stderr)
                time.sleep(down)
                env.intake.start()
            for c in clients:
                c.join(max(0.1, deadline - time.monotonic()))
                self.assertFalse(c.is_alive(),
                                 "%s did not finish: %d of %d acked"
                                 % (c.name, len(c.acks), len(c.ids)))
        finally:
            stop.set()
            for c in clients:
                c.join(5)

        errors = [e for c in clients for e in c.errors]
        self.assertEqual(errors, [])
        print("%d reports in %.1f s; %d resends, %d duplicate acks"
              % (total, time.monotonic() - started,
                 sum(c.resends for c in clients),
                 sum(c.duplicates for c in clients)), file=sys.stderr)

        env.intake.stop()               # exit 0, STOPPING=1
        log = env.log()
        acks = {(c.agency, i): v for c in clients for i, v in c.acks.items()}
        self.assertEqual(len(acks), total)
        by = bt.by_id(log)
        for key, (seq, accepted_at) in acks.items():
            recs = by.get(key, [])
            self.assertEqual(len(recs), 1,
                             "%s logged %d times" % (key, len(recs)))
            self.assertEqual(recs[0]["seq"], seq,
                             "%s: ack seq %d, log seq %d"
                             % (key, seq, recs[0]["seq"]))
            self.assertEqual(recs[0]["accepted_at"], accepted_at, key)
        self.assertEqual([r["seq"] for r in log], list(range(1, total + 1)))
        self.assertEqual(len(by), total)
        env.verify()
        # and a restart after all that is clean too
        env.intake.start()
        a = env.client().request(bt.report())
        self.assertEqual(a["seq"], total + 1)
        env.intake.stop()
        env.verify()


if __name__ == "__main__":
    bt.main()
