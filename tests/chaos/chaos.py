#!/usr/bin/python3
"""chaos - the system's promise under SIGKILL: all four daemons, real load.

Starts baton-intake, -router, -deadline and -notify on 127.0.0.1 (tcp bus,
tcp submit socket), a real webhook receiver (sinks.HttpSink) that every
agency's webhook points at, and routes whose deadlines are seconds long,
so that reminders, overdue alerts and escalations fire during the run.

Load: AGENCIES client threads, one per agency, each submitting incidents
and then, for each task the router made of them (found with `batonctl
queue --json`), the progress and completion reports its fate asks for.
Every report is resent with the same id until it is acknowledged.

Chaos: meanwhile the main thread SIGKILLs a daemon at random moments
(every daemon several times, at least MIN_KILLS in all, sometimes two at
once) and restarts it after a random downtime. The RNG is seeded: the
seed is printed at the start and on failure; CHAOS_SEED=N replays it.
CHAOS_SECONDS sets how long the load lasts (default 60).

Then: the kills stop, everything down is restarted, the clients finish
their follow-ups, the test waits (bounded) until every planned alert
time has passed and every daemon has applied everything and no delivery
is due, and checks:

 0. no daemon took a restarted publisher for one gone back in time;
 1. the intake log holds every acknowledged report exactly once, with
    the seq and accepted_at of its ACK, and nothing else; seqs run 1..N;
    `batonctl verify` passes;
 2. every incident has exactly one task (T-<seq>), held by its agency,
    whose state is what its acknowledged reports say (completion: done,
    else progress: in-progress, else open); the router refused nothing;
 3. the deadline daemon's alert events (`batonctl alerts --json`, its
    bus log) hold no alert id twice and nothing but the steps of the
    tasks' plans; every step planned before the task's closure (the
    accepted_at of its completion) fired, and none planned after it,
    except where a daemon's downtime explains it (listed and counted):
    a closure that reached the deadline daemon late because intake or
    the router was down; a step whose time passed while the deadline
    daemon (or those before it) was down until the closure came, or,
    for a reminder, until its deadline passed;
    the office feed: every message a subscriber saw is an outbox feed
    row, seen once (duplicates: none); a row it did not see was
    published within a second of a kill of baton-notify or while the
    subscriber was reconnecting to a restarted one (the feed is PUB:
    no replay), and is counted;
 4. notify's outbox holds exactly the deliveries the alerts call for
    (journal, feed per recipient, webhook per recipient), each `sent`;
    the webhook receiver got every webhook delivery, signed, with
    status 200, and a delivery it got twice was sent again after a kill
    of baton-notify between the two (at least once); the duplicates are
    counted and printed.

Everything runs on 127.0.0.1 or ipc:// in a temporary directory; every
process and directory is removed however the test ends.
"""
import collections
import json
import os
import random
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import batontest as bt  # noqa: E402
from sinks import HttpSink, signature_ok, body_json  # noqa: E402
import lmdb  # noqa: E402
import zmq  # noqa: E402

SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom()
                                            .randrange(1, 10 ** 6))))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "60"))

AGENCIES = ["ag-%d" % i for i in range(5)]
OFFICE = "office"
SECRET = "chaos-secret-0123456789"

# The plan of every task, in seconds from its creation.
DEADLINE = 10
REMINDER = 4            # before the deadline: at +6
ESCALATE = 4            # after it: at +14
STEPS = {"reminder-1": DEADLINE - REMINDER, "overdue": DEADLINE,
         "escalation-1": DEADLINE + ESCALATE}

# What an agency does with a task: follow-ups, seconds after creation.
FATES = {
    "early":    [("completion", 0.5, 2.0)],          # closed: no alert
    "reminded": [("progress", 0.5, 2.0),
                 ("completion", 7.0, 8.5)],         # reminder only
    "overdue":  [("progress", 0.5, 3.0),
                 ("completion", 11.0, 12.5)],       # + overdue
    "ignored":  [],                                  # every step
    "working":  [("progress", 0.5, 9.0)],            # every step
}

MIN_KILLS = 20
MIN_PER_DAEMON = 4
DAEMONS = ("intake", "router", "deadline", "notify")
RESEND_AFTER = 1.0      # s without an answer: send the same id again
EPS_MS = 300            # a step and a closure this close: either way
LAG_MS = 1500           # a restarted daemon catching up after READY
FEED_LOSS_MS = 1000     # sent this soon before a kill: may be lost
DRAIN_TIMEOUT = 60      # s, after the last planned alert
TIMEOUT_MS = 3000       # [notify] timeout: an attempt's longest life
CLIENT_TIMEOUT = 60     # s for the clients' follow-ups after the load


def now_ms():
    return int(time.time() * 1000)


def routes_text():
    rules = "\n".join("""
[rule %s]
agency = %s
assign = %s
deadline = %ds
reminders = %ds
escalation = %s@+%ds
""" % (a, a, a, DEADLINE, REMINDER, OFFICE, ESCALATE) for a in AGENCIES)
    return """\
[defaults]
office = %s
deadline = %ds
reminders = %ds
escalation = %s@+%ds
""" % (OFFICE, DEADLINE, REMINDER, OFFICE, ESCALATE) + rules


def agencies_text(sink):
    return "".join("""
[agency %s]
webhook = %s
webhook_secret = %s
""" % (a, sink.url("/hooks/" + a), SECRET) for a in AGENCIES + [OFFICE])


# ---------------------------------------------------------------- clients

class Discovery(threading.Thread):
    """Finds the tasks the router made: `batonctl queue --json`, polled.
    tasks[(origin agency, origin id)] = task id."""

    def __init__(self, env, stop):
        super().__init__(name="discovery", daemon=True)
        self.env = env
        self.stop_event = stop
        self.tasks = {}
        self.lock = threading.Lock()
        self.errors = []

    def run(self):
        while not self.stop_event.is_set():
            try:
                r = self.env.batonctl("queue", "--json", timeout=30)
                if r.returncode == 0:
                    for ln in r.out.splitlines():
                        if ln.strip():
                            t = json.loads(ln)
                            with self.lock:
                                self.tasks[(t.get("origin_agency"),
                                            t.get("origin_id"))] = t["task"]
            except Exception as e:
                self.errors.append("discovery: %r" % (e,))
            self.stop_event.wait(0.3)

    def task_of(self, agency, rid):
        with self.lock:
            return self.tasks.get((agency, rid))


class Incident:
    def __init__(self, rid, fate, rng):
        self.rid = rid
        self.fate = fate
        self.todo = [(kind, rng.uniform(lo, hi))
                     for kind, lo, hi in FATES[fate]]
        self.acked_at = None        # monotonic, when its ACK came
        self.task = None
        self.busy = None            # the follow-up id in flight
        self.n = 0


class Agency(threading.Thread):
    """One agency's client: incidents during the load, then the
    follow-ups their fates ask for; every id resent until acked."""

    def __init__(self, env, name, seed, load_stop, abort, discovery):
        super().__init__(name="client-" + name, daemon=True)
        self.env = env
        self.agency = name
        self.rng = random.Random(seed)
        self.load_stop = load_stop
        self.abort = abort
        self.discovery = discovery
        self.acks = {}          # id -> (seq, accepted_at), the first ACK
        self.sent = {}          # id -> body dict, every id ever sent
        self.incidents = []
        self.followups = {}     # follow-up id -> (incident, kind)
        self.resends = 0
        self.duplicates = 0
        self.errors = []

    def run(self):
        sock = self.env.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.env.submit)
        try:
            self.loop(sock)
        except Exception:
            self.errors.append("%s: %s" % (self.name,
                                            traceback.format_exc()))
        finally:
            sock.close(0)

    def submit(self, rid, body, inflight):
        body["id"] = rid
        self.sent[rid] = body
        inflight[rid] = 0.0

    def loop(self, sock):
        inflight = {}           # id -> monotonic time last sent, 0: never
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        next_incident = time.monotonic()
        k = 0
        while not self.abort.is_set():
            now = time.monotonic()
            loading = not self.load_stop.is_set()
            if loading and now >= next_incident:
                k += 1
                rid = "%s-i%04d" % (self.agency, k)
                inc = Incident(rid, self.rng.choice(sorted(FATES)), self.rng)
                self.incidents.append(inc)
                self.submit(rid, bt.report(
                    agency=self.agency, category="cybersecurity",
                    severity=self.rng.choice(["low", "medium", "high",
                                              "critical"]),
                    title="chaos %s (%s)" % (rid, inc.fate)), inflight)
                next_incident = now + self.rng.uniform(0.1, 0.6)
            for inc in self.incidents:
                self.follow_up(inc, now, inflight)
            if not loading and not inflight and all(
                    not inc.todo and inc.busy is None
                    for inc in self.incidents):
                return
            self.resends += bt.resend_due(
                sock, inflight, lambda rid: bt.pack(self.sent[rid]), now,
                RESEND_AFTER)
            if poller.poll(20):
                while True:
                    try:
                        a = bt.unpack(sock.recv(zmq.NOBLOCK))
                    except zmq.Again:
                        break
                    self.take(a, inflight)

    def follow_up(self, inc, now, inflight):
        if inc.acked_at is None or inc.busy is not None or not inc.todo:
            return
        if inc.task is None:
            inc.task = self.discovery.task_of(self.agency, inc.rid)
            if inc.task is None:
                return
        kind, after = inc.todo[0]
        if now - inc.acked_at < after:
            return
        inc.todo.pop(0)
        inc.n += 1
        rid = "%s-%s%d" % (inc.rid, kind[0], inc.n)
        inc.busy = rid
        self.followups[rid] = (inc, kind)
        self.submit(rid, bt.report(agency=self.agency, kind=kind,
                                   task=inc.task, category="cybersecurity",
                                   title="%s of %s" % (kind, inc.task)),
                    inflight)

    def take(self, a, inflight):
        verdict, rid = bt.check_answer(self.name, a, self.sent, self.acks,
                                       self.errors)
        if verdict in ("first", "again") and a["duplicate"]:
            self.duplicates += 1
        if verdict == "refused":
            inflight.pop(rid, None)
        if verdict != "first" or rid not in inflight:
            return
        inflight.pop(rid)
        if rid in self.followups:
            self.followups[rid][0].busy = None
        else:
            for inc in self.incidents:
                if inc.rid == rid:
                    inc.acked_at = time.monotonic()


class FeedListener(threading.Thread):
    """A SUB socket on the office feed: every message as (topic, alert id,
    recipient, wall ms)."""

    def __init__(self, env, stop):
        super().__init__(name="feed", daemon=True)
        self.env = env
        self.stop_event = stop
        self.got = []
        self.errors = []
        self.ready = threading.Event()

    def run(self):
        s = self.env.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"alert.")
        s.connect(self.env.feed)
        self.ready.set()
        try:
            while not self.stop_event.is_set():
                if not s.poll(100):
                    continue
                topic, body = s.recv_multipart()
                b = bt.unpack(body)
                recipient = topic.decode().split(".", 2)[2]
                self.got.append((topic.decode(), b["alert_id"], recipient,
                                 now_ms()))
        except Exception:
            self.errors.append(traceback.format_exc())
        finally:
            s.close(0)


# ---------------------------------------------------------------- reading

def read_table(state_dir, daemon, table):
    """Every (key, value) of a daemon's LMDB table, read-only."""
    env = lmdb.open(os.path.join(state_dir, daemon), readonly=True,
                    max_dbs=32, lock=True, subdir=True)
    try:
        db = env.open_db(table.encode(), create=False)
        with env.begin(db=db) as t:
            return [(bytes(k), bytes(v)) for k, v in t.cursor()]
    finally:
        env.close()


def bus_records(state_dir, daemon):
    """A publisher's bus.events as [(seq, topic, body dict)]."""
    out = []
    for k, v in read_table(state_dir, daemon, "bus.events"):
        n = v[0]
        out.append((int.from_bytes(k, "big"), v[1:1 + n].decode(),
                    bt.unpack(v[1 + n:])))
    return out


# ---------------------------------------------------------------- the test

class Downtimes:
    """When each daemon was down: [(killed, ready + LAG_MS)] in wall ms."""

    def __init__(self):
        self.spans = collections.defaultdict(list)
        self.starts = collections.defaultdict(list)   # (spawned, ready)
        self.kills = collections.defaultdict(list)

    def overlaps(self, daemons, a, b):
        """The first downtime of one of daemons overlapping [a, b]."""
        for d in daemons:
            for k, r in self.spans[d]:
                if k <= b and r >= a:
                    return (d, k, r)
        return None

    def covers(self, daemons, start_before, end_after):
        """A downtime that began by start_before and lasted past
        end_after: of one of daemons, or of several of them one after
        another without a gap (the deadline daemon fires only when it is
        up and has heard from the router, so its downtime and then the
        router's hold a step back as one). As (names, began, ended)."""
        spans = sorted((k, r, d) for d in daemons for k, r in self.spans[d])
        k0 = r0 = None
        names = []
        for k, r, d in spans:
            if r0 is None or k > r0:
                k0, r0, names = k, r, [d]
            else:
                r0 = max(r0, r)
                if d not in names:
                    names.append(d)
            if k0 <= start_before and r0 >= end_after:
                return ("+".join(names), k0, r0)
        return None


class ChaosTest(unittest.TestCase):

    maxDiff = None          # every problem, not the first few

    def setUp(self):
        self.env = None
        self.sink = HttpSink()
        self.stop = threading.Event()
        self.threads = []

    def tearDown(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        if self.env:
            self.env.close()
        self.sink.close()

    def say(self, fmt, *args):
        print(("chaos: " + fmt) % args, file=sys.stderr, flush=True)

    def run(self, result=None):
        r = super().run(result)
        if result is not None and (result.failures or result.errors):
            self.say("FAILED with seed %d: CHAOS_SEED=%d CHAOS_SECONDS=%g "
                     "replays it", SEED, SEED, SECONDS)
        return r

    def daemon(self, name):
        return getattr(self.env, name)

    def restart(self, name, down):
        p = self.daemon(name)
        spawned = now_ms()
        try:
            p.start(timeout=20)
        except AssertionError as e:
            raise AssertionError("%s failed to restart (seed %d): %s"
                                 % (name, SEED, e))
        ready = now_ms()
        down.starts[name].append((spawned, ready))
        down.spans[name][-1] = (down.spans[name][-1][0], ready + LAG_MS)

    def kill(self, name, down):
        self.daemon(name).kill()
        t = now_ms()
        down.kills[name].append(t)
        down.spans[name].append((t, float("inf")))

    def test_chaos(self):
        self.say("seed %d, %g s of load (CHAOS_SEED=%d CHAOS_SECONDS=%g "
                 "to replay)", SEED, SECONDS, SEED, SECONDS)
        t_start = time.monotonic()
        rng = random.Random(SEED)
        files = bt.make_tmpdir("baton-chaos-files-")
        routes = os.path.join(files, "routes.conf")
        with open(routes, "w") as f:
            f.write(routes_text())
        agencies = os.path.join(files, "agencies.conf")
        with open(agencies, "w") as f:
            f.write(agencies_text(self.sink))
        self.env = env = bt.BatonEnv(
            submit="tcp", bus="tcp", routes=routes, agencies=agencies,
            notify={"retry_min": "200ms", "retry_max": "1s",
                    "max_attempts": "1000",
                    "timeout": "%dms" % TIMEOUT_MS})
        for d in DAEMONS:
            self.daemon(d).start(timeout=20)

        feed = FeedListener(env, self.stop)
        feed.start()
        self.threads.append(feed)
        feed.ready.wait(5)
        time.sleep(0.3)             # the SUB is connected
        discovery = Discovery(env, self.stop)
        discovery.start()
        self.threads.append(discovery)
        load_stop = threading.Event()
        clients = [Agency(env, a, SEED * 100 + i, load_stop, self.stop,
                          discovery) for i, a in enumerate(AGENCIES)]
        for c in clients:
            c.start()
            self.threads.append(c)

        # ---- chaos: the kill schedule, seeded
        n = max(MIN_KILLS, int(SECONDS / 2.6))
        victims = [d for d in DAEMONS for _ in range(MIN_PER_DAEMON)]
        victims += [rng.choice(DAEMONS) for _ in range(n - len(victims))]
        rng.shuffle(victims)
        slot = SECONDS / n
        down = Downtimes()
        load_t0 = time.monotonic()
        for i, victim in enumerate(victims):
            at = load_t0 + (i + rng.uniform(0.05, 0.6)) * slot
            time.sleep(max(0, at - time.monotonic()))
            names = [victim]
            if rng.random() < 0.15:
                names.append(rng.choice([d for d in DAEMONS
                                         if d != victim]))
            for d in names:
                self.assertTrue(self.daemon(d).running(),
                                "%s died by itself; its output:\n%s"
                                % (d, self.daemon(d).output()))
                self.kill(d, down)
            # Mostly short downtimes; now and then one that lets steps
            # fall due while a daemon is away.
            if rng.random() < 0.2:
                time.sleep(rng.uniform(1.5, 4.0))
            else:
                time.sleep(rng.uniform(0.05, 1.0))
            for d in names:
                self.restart(d, down)
            for c in clients:
                self.assertEqual(c.errors, [], c.errors)
        time.sleep(max(0, load_t0 + SECONDS - time.monotonic()))
        load_stop.set()
        load_end = now_ms()
        kills = {d: len(down.kills[d]) for d in DAEMONS}
        self.say("load over after %.1f s: kills %s", time.monotonic() -
                 load_t0, " ".join("%s %d" % kv for kv in kills.items()))
        for d in DAEMONS:
            self.assertTrue(self.daemon(d).running(),
                            "%s is not running; its output:\n%s"
                            % (d, self.daemon(d).output()))

        # ---- the clients finish their follow-ups
        for c in clients:
            c.join(max(0.1, CLIENT_TIMEOUT - (now_ms() - load_end) / 1000))
            self.assertFalse(c.is_alive(), "%s did not finish: %d ids "
                             "unacknowledged" % (c.name, len(c.sent) -
                                                 len(c.acks)))
        errors = [e for c in clients for e in c.errors]
        self.assertEqual(errors, [])

        # ---- drain: every planned step passed, every daemon caught up
        last_created = max(a[1] for c in clients for a in c.acks.values())
        wait_until = last_created + max(STEPS.values()) * 1000 + 500
        self.say("clients done at +%.1f s; waiting for the last step "
                 "(%.1f s) and the drain", (now_ms() - load_end) / 1000,
                 max(0, wait_until - now_ms()) / 1000)
        time.sleep(max(0, wait_until - now_ms()) / 1000)
        drain_t0 = time.monotonic()
        status = None

        def drained():
            nonlocal status
            r = env.batonctl("status", "--json")
            if r.returncode != 0:
                return False
            s = status = json.loads(r.out)
            pub = {d: s[d].get("published", 0)
                   for d in ("intake", "router", "deadline")}
            ok = (s["router"]["applied"].get("intake") == pub["intake"] and
                  s["deadline"]["applied"].get("router") == pub["router"]
                  and s["notify"]["applied"].get("router") == pub["router"]
                  and s["notify"]["applied"].get("deadline") ==
                  pub["deadline"]
                  and s["notify"]["applied"].get("intake") == pub["intake"]
                  and s["notify"].get("deliveries_due") == 0)
            return ok
        try:
            bt.wait_until(drained, DRAIN_TIMEOUT, interval=0.25,
                          what="the drain")
        except AssertionError:
            raise AssertionError("the drain never finished (seed %d): %r"
                                 % (SEED, status))
        time.sleep(1.0)             # the feed's last messages arrive
        drain_s = time.monotonic() - drain_t0
        self.stop.set()
        for t in self.threads:
            t.join(10)
        self.assertEqual(feed.errors + discovery.errors, [])

        self.check(env, clients, feed, down, kills, drain_s, t_start)

        # A clean stop after all that: exit 0, STOPPING=1.
        for d in reversed(DAEMONS):
            self.daemon(d).stop()

    # ------------------------------------------------------------ checks

    def check(self, env, clients, feed, down, kills, drain_s, t_start):
        acked = {(c.agency, i): v for c in clients for i, v in c.acks.items()}
        sent = {(c.agency, i): b for c in clients for i, b in c.sent.items()}
        self.assertEqual(set(acked), set(sent), "ids never acknowledged")

        # No restart looked like a publisher gone back in time (lib/bus
        # says so only after two heartbeats below what was applied; a
        # replay answered after one heartbeat must not count).
        for name in sorted(os.listdir(env.dir)):
            if name.endswith(".log"):
                with open(os.path.join(env.dir, name), "rb") as f:
                    self.assertNotIn(b"replaced by an older one", f.read(),
                                     "%s (seed %d)" % (name, SEED))

        # 1. the intake log
        log = env.log()
        by = bt.by_id(log)
        for key, (seq, at) in acked.items():
            recs = by.get(key, [])
            self.assertEqual(len(recs), 1, "%s logged %d times (seed %d)"
                             % (key, len(recs), SEED))
            self.assertEqual((recs[0]["seq"], recs[0]["accepted_at"]),
                             (seq, at), key)
        self.assertEqual(set(by), set(acked), "logged but never acked")
        self.assertEqual([r["seq"] for r in log], list(range(1, len(log) + 1)))
        env.verify()

        # 2. tasks
        tasks = {k.decode(): bt.unpack(v) for k, v in
                 read_table(env.state_dir, "router", "router.tasks")}
        router_events = bus_records(env.state_dir, "router")
        refused = [b for _, t, b in router_events if t == "task.refused"]
        self.assertEqual(refused, [], "the router refused reports")
        incidents = {key: seq for key, (seq, _) in acked.items()
                     if sent[key]["kind"] == "incident"}
        follow = collections.defaultdict(list)     # task -> [(seq, kind)]
        for key, (seq, at) in acked.items():
            b = sent[key]
            if b["kind"] != "incident":
                follow[b["task"]].append((seq, b["kind"], at))
        self.assertEqual(len(tasks), len(incidents),
                         "tasks %d, incidents %d" % (len(tasks),
                                                     len(incidents)))
        closed_at = {}          # task -> accepted_at of its completion
        states = collections.Counter()
        for (agency, rid), seq in incidents.items():
            tid = "T-%d" % seq
            t = tasks.get(tid)
            self.assertIsNotNone(t, "no task for incident %s %s"
                                 % (agency, rid))
            self.assertEqual((t["origin_agency"], t["origin_id"],
                              t["agency"], t["plan"]),
                             (agency, rid, agency, 1), tid)
            fs = sorted(follow.get(tid, []))
            kinds = [k for _, k, _ in fs]
            want = ("done" if "completion" in kinds else "in-progress"
                    if "progress" in kinds else "open")
            self.assertEqual(t["state"], want, "%s: reports %r" % (tid, fs))
            self.assertEqual(t["created_at"], acked[(agency, rid)][1], tid)
            states[want] += 1
            for _, k, at in fs:
                if k == "completion":
                    closed_at[tid] = at

        # 3. alerts: the deadline daemon's events
        r = env.batonctl("alerts", "--json")
        self.assertEqual(r.returncode, 0, r.err)
        alerts = [json.loads(ln) for ln in r.out.splitlines() if ln.strip()]
        ids = collections.Counter(a["alert_id"] for a in alerts)
        dup = {i: n for i, n in ids.items() if n > 1}
        self.assertEqual(dup, {}, "alert ids fired twice (seed %d)" % SEED)
        fired = {a["alert_id"]: a for a in alerts}
        excused = []
        problems = []
        planned = 0
        for tid, t in tasks.items():
            c = closed_at.get(tid, float("inf"))
            due = t["due_at"]
            for step, off in STEPS.items():
                aid = "%s/1/%s" % (tid, step)
                p = t["created_at"] + off * 1000
                a = fired.pop(aid, None)
                if a is not None:
                    self.assertEqual(a["planned_at"], p, aid)
                    self.assertEqual(a["task"], tid, aid)
                if abs(p - c) <= EPS_MS:
                    continue        # a race: either way
                if p < c:
                    planned += 1
                    if a is not None:
                        continue
                    # Its time passed while a daemon was down, and the
                    # closure (or, for a reminder, the deadline) came
                    # before it could fire.
                    end = min(c, due) if step.startswith("reminder") else c
                    why = down.covers(("intake", "router", "deadline"),
                                      p + EPS_MS, end - EPS_MS)
                    (excused if why else problems).append(
                        "%s not fired (planned %d, closed %s): %s"
                        % (aid, p, c, why or "no downtime explains it"))
                elif a is not None:
                    # The closure reached the deadline daemon late.
                    why = down.overlaps(("intake", "router"), c, a[
                        "fired_at"])
                    (excused if why else problems).append(
                        "%s fired at %d after its task closed at %d: %s"
                        % (aid, a["fired_at"], c,
                           why or "no downtime explains it"))
        self.assertEqual(sorted(fired), [], "alerts for no planned step")
        for e in excused:
            self.say("excused: %s", e)

        # 4. the outbox: exactly the deliveries the alerts call for
        r = env.batonctl("deliveries", "--json")
        self.assertEqual(r.returncode, 0, r.err)
        rows = [json.loads(ln) for ln in r.out.splitlines() if ln.strip()]
        keys = collections.Counter(x["delivery"] for x in rows)
        self.assertEqual([k for k, n in keys.items() if n > 1], [])
        want = set()
        every = [(a["alert_id"], a["kind"], a["agency"], a.get("to"))
                 for a in alerts]
        every += [("%s/1/assigned" % tid, "task-assigned", t["agency"],
                   None) for tid, t in tasks.items()]
        for aid, kind, agency, to in every:
            want.add((aid, agency, "journal"))
            for rc in [agency] + ([to] if to and to != agency else []):
                want.add((aid, rc, "feed"))
                want.add((aid, rc, "webhook"))
        have = {(x["alert_id"], x["recipient"], x["channel"]): x
                for x in rows}
        self.assertEqual(sorted(set(have) - want), [], "unexpected rows")
        self.assertEqual(sorted(want - set(have)), [], "missing rows")
        notsent = [x for x in rows if x["state"] != "sent"]
        self.assertEqual(notsent, [], "deliveries not sent")
        attempts = collections.Counter(x["attempts"] for x in rows)

        # the webhook receiver
        reqs = self.sink.received()
        seen = collections.defaultdict(list)
        for q in reqs:
            self.assertTrue(signature_ok(q, SECRET), q["headers"])
            b = body_json(q)
            self.assertEqual(q["headers"]["Idempotency-Key"], b["alert_id"])
            self.assertEqual(q["path"], "/hooks/" + b["recipient"])
            seen[(b["alert_id"], b["recipient"])].append(
                (q["at"], q["headers"]["X-Baton-Delivery"]))
        hooks = {(a, rc) for a, rc, ch in want if ch == "webhook"}
        self.assertEqual(sorted(set(seen) - hooks), [], "unknown webhooks")
        self.assertEqual(sorted(hooks - set(seen)), [], "webhooks never "
                         "received (seed %d)" % SEED)
        # At least once: a delivery comes twice when notify was killed
        # with the attempt out (after it was sent, at most an attempt's
        # timeout before the receiver took it, and before the second), or
        # when an attempt failed (timed out) and was made again.
        hook_dups = 0
        offset = time.time() - time.monotonic()     # the sink's clock
        for key, got in seen.items():
            if len(got) < 2:
                continue
            hook_dups += len(got) - 1
            at = sorted((g[0] + offset) * 1000 for g in got)
            row = have[(key[0], key[1], "webhook")]
            kills_between = [k for k in down.kills["notify"]
                             if at[0] - TIMEOUT_MS - 500 <= k <= at[-1]]
            self.say("webhook %s:%s received %d times (at %s; kills of "
                     "notify at %s; %d attempts recorded %s)", key[0],
                     key[1], len(got), [int(x) for x in at], kills_between,
                     row["attempts"], row["error"] or "")
            if not kills_between and row["attempts"] < 2:
                problems.append("webhook %s:%s received %d times with no "
                                "kill of notify and no failed attempt to "
                                "explain it" % (key[0], key[1], len(got)))

        # the office feed
        feed_rows = {(x["alert_id"], x["recipient"]): x for x in rows
                     if x["channel"] == "feed"}
        got = collections.Counter((a, rc) for _, a, rc, _ in feed.got)
        self.assertEqual(sorted(set(got) - set(feed_rows)), [],
                         "feed messages for no feed row")
        feed_dups = {k: n for k, n in got.items() if n > 1}
        missed, lost, joining = [], 0, 0
        for key, x in feed_rows.items():
            if key in got:
                continue
            u = x["updated_at"]
            if any(u - 100 <= k <= u + FEED_LOSS_MS
                   for k in down.kills["notify"]):
                lost += 1           # in the queue of a killed process
            elif any(s - 100 <= u <= ready + FEED_LOSS_MS
                     for s, ready in down.starts["notify"]):
                joining += 1        # the SUB was reconnecting
            else:
                missed.append((key, u))
        problems += ["feed message %s:%s (sent at %d) missed with no kill "
                     "or restart of notify to explain it" % (k[0], k[1], u)
                     for k, u in missed]
        problems += ["feed message %s:%s seen %d times" % (k[0], k[1], n)
                     for k, n in feed_dups.items()]

        figures = [
            ("seed", SEED), ("seconds", SECONDS),
            ("kills", " ".join("%s %d" % kv for kv in kills.items())),
            ("downtime s", " ".join(
                "%s %.1f" % (d, sum(min(r, 1e18) - k - LAG_MS
                                    for k, r in down.spans[d]) / 1000)
                for d in DAEMONS)),
            ("reports acked", "%d (%d incidents; %d resends, %d duplicate "
             "acks)" % (len(acked), len(incidents),
                        sum(c.resends for c in clients),
                        sum(c.duplicates for c in clients))),
            ("tasks", "%d: %s" % (len(tasks), ", ".join(
                "%s %d" % kv for kv in sorted(states.items())))),
            ("alerts fired", "%d (planned %d, late %d; excused %d); "
             "task-assigned %d" % (len(alerts), planned,
                                   sum(1 for a in alerts if a["late"]),
                                   len(excused), len(tasks))),
            ("deliveries", "%d sent (%s); attempts %s" % (
                len(rows), ", ".join("%s %d" % kv for kv in sorted(
                    collections.Counter(x["channel"] for x in rows)
                    .items())), dict(sorted(attempts.items())))),
            ("webhooks received", "%d for %d deliveries, duplicates %d"
             % (len(reqs), len(hooks), hook_dups)),
            ("feed", "%d messages for %d rows, duplicates %d, missed %d "
             "(%d sent just before a kill of notify, %d while the "
             "subscriber reconnected)"
             % (len(feed.got), len(feed_rows),
                sum(n - 1 for n in feed_dups.values()), lost + joining,
                lost, joining)),
            ("drain s", "%.1f" % drain_s),
            ("wall s", "%.1f" % (time.monotonic() - t_start)),
        ]
        for k, v in figures:
            self.say("%-18s %s", k, v)
        self.assertEqual(problems, [], "seed %d" % SEED)


if __name__ == "__main__":
    bt.main()
