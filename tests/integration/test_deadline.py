#!/usr/bin/python3
"""baton-deadline against the real baton-intake and baton-router.

Every test starts intake, the router (with a routes file of its own whose
deadlines, reminders and escalations are seconds long), baton-deadline and
a bus-tap on the deadline's publisher, submits reports and commands to
intake as an agency or operator would, and checks the alerts where a
downstream daemon sees them:

  - the tap's rows (seq, topic, agency, alert id): every alert event
    applied once, in order, across kills and restarts of the deadline
    daemon (dups, disorder, and no alert id twice under two seqs);
  - the alert bodies (alert_id, kind, task, agency, due_at, planned_at,
    fired_at, late, plan, level, to, notify ...), read back from the
    deadline's replay socket, which serves every alert it ever stored;
  - in the first test also a live SUB socket, to see that an alert is
    published at its instant and not only stamped so.

An alert id is "<task>/<plan>/<step>", steps reminder-N (N = 1 is the
earliest), overdue and escalation-N; "late" is true when an alert fired
more than 1 s after its instant.

  steps        each step once at its instant, in order, right fields
  closed       a completed (report, command) or cancelled task: nothing;
               a refused completion closes nothing
  extend       the old plan's pending steps retire, plan 2 fires; an
               extension too short for the reminder plans none
  replan       progress keeps the plan (no step twice); reassign re-plans
               with the new agency
  downtime     the daemon stopped before anything is due, started after
               deadlines passed: each due step once, late, in instant
               order; reminders whose deadline passed are dropped, a
               reminder still before its deadline goes out late
  catch-up     700 tasks made while the daemon is down, every step past:
               learnt from the router's replay, 2100 alerts once, late, in
               order, over several firing rounds; 700 reminders dropped
  kills        300 tasks, the daemon SIGKILLed at random moments while
               alerts fire (seeded; the seed is printed; BATON_SEED=N to
               repeat): no alert id twice, every overdue and escalation
               once, no id outside the plan, reminders only when legal
  waiting      wait pauses the clock: nothing fires; resume moves due_at
               by the time waited and fires plan 2
  restart      after everything fired, a clean restart and a crash
               restart fire nothing; STATUS says so
  missing      a schedule of 3-second periods within from..until: the
               obligation nobody reported on becomes a missing-report
               alert, with its reminder and escalation; reports made
               early close theirs; periods outside the window are not
               owed
"""
import os
import random
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report, command  # noqa: E402
import zmq  # noqa: E402

S = 1000
LATE_MS = 1000              # DEADLINE_LATE_MS
ON_TIME_MS = 1000           # an on-time alert fires within this of its instant
SEED = int(os.environ.get("BATON_SEED", str(int(time.time()) % 100000)))


def now_ms():
    return int(time.time() * 1000)


def sleep_until_ms(t):
    d = (t - now_ms()) / 1000.0
    if d > 0:
        time.sleep(d)


class Feed(threading.Thread):
    """A live SUB socket on the deadline's publisher: every alert as it
    arrives, with the wall clock (ms) at arrival."""

    def __init__(self, env):
        super().__init__(name="feed", daemon=True)
        self.env = env
        self.got = []           # (arrived_ms, topic, seq, body)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def run(self):
        s = self.env.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"alert.")
        s.connect(self.env.deadline_publish)
        self.ready.set()
        try:
            while not self.stopping.is_set():
                if not s.poll(50):
                    continue
                frames = s.recv_multipart()
                at = time.time() * 1000
                if len(frames) != 3:
                    continue
                with self.lock:
                    self.got.append((at, frames[0].decode(),
                                     struct.unpack(">Q", frames[1])[0],
                                     bt.unpack(frames[2])))
        finally:
            s.close(0)

    def events(self):
        with self.lock:
            return list(self.got)

    def stop(self):
        self.stopping.set()
        self.join(5)


class DeadlineCase(unittest.TestCase):
    """intake + router (routes: this class's text) + deadline + a tap on
    the deadline's alerts, per test."""

    routes = None

    def setUp(self):
        self.t0 = time.monotonic()
        d = bt.make_tmpdir("baton-routes-")
        path = os.path.join(d, "routes.conf")
        with open(path, "w") as f:
            f.write(self.routes)
        self.env = bt.BatonEnv(routes=path)
        self.env.start_intake()
        self.env.start_router()
        self.env.start_deadline()
        self.tap = self.env.tap("alert-tap", publisher="deadline")
        self.tap.start()
        self.client = self.env.client()

    def tearDown(self):
        try:
            if self.env.deadline.running():
                self.env.deadline.stop()        # exit 0, STOPPING=1
            if self.env.router.running():
                self.env.router.stop()
        finally:
            self.env.close()
            print("%.1f s" % (time.monotonic() - self.t0), end=" ",
                  file=sys.stderr, flush=True)

    # ---- submitting

    def send(self, body):
        a = self.client.request(body)
        self.assertEqual(a.get("type"), "ack", "refused: %r" % (a,))
        return a

    def incident(self, **fields):
        """Submit an incident report; (task id, ack)."""
        fields.setdefault("agency", "mic")
        fields.setdefault("category", "cybersecurity")
        fields.setdefault("severity", "high")
        fields.setdefault("title", "incident %s" % bt.uid("t"))
        a = self.send(report(**fields))
        return "T-%d" % a["seq"], a

    def command(self, op, task, **fields):
        fields.setdefault("reason", "test: %s" % op)
        return self.send(command(op=op, task=task, **fields))

    # ---- looking

    def logs(self):
        return "\n--- baton-deadline output:\n" + self.env.deadline.output()

    def rows(self):
        """The tap's rows: seq 1..N, none applied twice or out of order,
        no alert id under two seqs."""
        rows, dups, disorder = self.tap.dump()
        self.assertEqual(dups, 0, "alert events applied twice")
        self.assertEqual(disorder, 0, "alert events out of order")
        self.assertEqual([r[0] for r in rows], list(range(1, len(rows) + 1)))
        seen = {}
        for r in rows:
            if r[3] in seen:
                self.fail("alert %s published as seq %d and as seq %d%s"
                          % (r[3], seen[r[3]], r[0], self.logs()))
            seen[r[3]] = r[0]
        return rows

    def ids(self):
        return [r[3] for r in self.rows()]

    def wait_ids(self, want, timeout):
        """Wait until the tap holds every id of want; the tap's ids."""
        want = set(want)

        def enough():
            if not self.env.deadline.running():
                self.fail("baton-deadline exited:" + self.logs())
            got = self.ids()
            return got if want <= set(got) else None
        try:
            return bt.wait_until(enough, timeout, interval=0.05,
                                 what="alerts %s" % sorted(want))
        except AssertionError:
            self.fail("missing alerts %s; got %s%s"
                      % (sorted(want - set(self.ids())), self.ids(),
                         self.logs()))

    def quiet(self, seconds, n):
        """For seconds, no alert beyond the n already seen."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            got = self.ids()
            self.assertEqual(len(got), n, "alerts after #%d: %s%s"
                             % (n, got[n:], self.logs()))
            time.sleep(0.1)

    def replay(self, start=1, timeout=10.0):
        """Every alert the deadline daemon stored, from seq start on, as
        (seq, topic, body), read from its replay socket."""
        s = self.env.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.env.deadline_replay)
        out = []
        try:
            s.send(bt.pack({"v": 1, "type": "replay", "from": start}))
            while True:
                if not s.poll(int(timeout * 1000)):
                    self.fail("no replay-end from baton-deadline within "
                              "%.0f s" % timeout)
                frames = s.recv_multipart()
                if len(frames) == 1:
                    end = bt.unpack(frames[0])
                    self.assertEqual(end.get("type"), "replay-end", end)
                    break
                self.assertEqual(len(frames), 3, frames)
                out.append((struct.unpack(">Q", frames[1])[0],
                            frames[0].decode(), bt.unpack(frames[2])))
        finally:
            s.close(0)
        self.assertEqual([e[0] for e in out],
                         list(range(start, start + len(out))))
        self.assertEqual(end.get("last"), start + len(out) - 1)
        return out

    def bodies(self):
        """{alert id: (seq, topic, body)}, the replay agreeing with the
        tap row for row."""
        events = self.replay()
        rows = self.rows()
        self.assertEqual([(r[0], r[1], r[2], r[3]) for r in rows],
                         [(e[0], e[1], e[2]["agency"], e[2]["alert_id"])
                          for e in events],
                         "the tap and the replay disagree")
        for seq, topic, b in events:
            self.assertEqual(topic, "alert." + b["kind"], b)
            self.assertEqual(b["type"], "alert", b)
            self.assertEqual(b["late"],
                             b["fired_at"] - b["planned_at"] > LATE_MS, b)
            self.assertGreaterEqual(b["fired_at"], b["planned_at"],
                                    "fired before its instant: %r" % b)
        return {e[2]["alert_id"]: e for e in events}

    def status(self):
        """The deadline daemon's latest STATUS= text."""
        last = None
        for m in list(self.env.deadline.notify.messages):
            for line in m:
                if line.startswith("STATUS="):
                    last = line[len("STATUS="):]
        return last

    def task_due(self, task, plan=1):
        """The due_at of task once the router has its plan (an ACK comes
        before intake publishes the report, and the router takes a moment
        more)."""
        return self.env.wait_task(task, lambda t: t["plan"] >= plan,
                                  what="plan %d of %s" % (plan, task))[
                                      "due_at"]


# ---------------------------------------------------------------- steps

STEPS_ROUTES = """\
[defaults]
office = office
deadline = 4500ms
reminders = 1s, 3s
escalation = office@+0, committee@+2s

[rule fast]
kind = incident
assign = mps-a05
notify = mic, cpd
"""


class StepsTest(DeadlineCase):

    routes = STEPS_ROUTES

    def test_each_step_once_at_its_instant(self):
        feed = Feed(self.env)
        feed.start()
        feed.ready.wait(5)
        time.sleep(0.2)         # the SUB socket's subscription arrives
        task, ack = self.incident(title="steps")
        due = self.task_due(task)
        self.assertEqual(due, ack["accepted_at"] + 4500)
        plan = [  # id, kind, planned_at, level, to
            ("%s/1/reminder-1" % task, "reminder", due - 3 * S, None, None),
            ("%s/1/reminder-2" % task, "reminder", due - 1 * S, None, None),
            ("%s/1/overdue" % task, "overdue", due, None, None),
            ("%s/1/escalation-1" % task, "escalation", due, 1, "office"),
            ("%s/1/escalation-2" % task, "escalation", due + 2 * S, 2,
             "committee"),
        ]
        # Nothing before the first instant.
        sleep_until_ms(due - 3 * S - 300)
        self.assertEqual(self.ids(), [], self.logs())
        self.wait_ids([p[0] for p in plan], 6.5 + 4)
        self.quiet(1.0, len(plan))
        self.assertEqual(self.ids(), [p[0] for p in plan])
        got = self.bodies()
        for aid, kind, planned, level, to in plan:
            b = got[aid][2]
            where = "%s: %r" % (aid, b)
            self.assertEqual(b["kind"], kind, where)
            self.assertEqual(b["task"], task, where)
            self.assertEqual(b["agency"], "mps-a05", where)
            self.assertEqual(b["title"], "steps", where)
            self.assertEqual(b["due_at"], due, where)
            self.assertEqual(b["planned_at"], planned, where)
            self.assertLess(b["fired_at"] - planned, ON_TIME_MS, where)
            self.assertFalse(b["late"], where)
            self.assertFalse(b["drill"], where)
            self.assertEqual(b["plan"], 1, where)
            self.assertEqual(b["notify"], ["mic", "cpd"], where)
            self.assertEqual(b.get("rule"), "fast", where)
            self.assertEqual(b.get("category"), "cybersecurity", where)
            self.assertEqual(b.get("severity"), "high", where)
            self.assertEqual(b.get("level"), level, where)
            self.assertEqual(b.get("to"), to, where)
        # Published live at its instant, not only stamped so.
        feed.stop()
        live = {e[3]["alert_id"]: e for e in feed.events()}
        self.assertEqual(sorted(live), sorted(p[0] for p in plan))
        for aid, kind, planned, level, to in plan:
            arrived, topic, seq, b = live[aid]
            self.assertEqual(topic, "alert." + kind)
            self.assertEqual(seq, got[aid][0])
            self.assertEqual(b, got[aid][2])
            self.assertGreaterEqual(arrived, planned, aid)
            self.assertLess(arrived - planned, ON_TIME_MS + 200, aid)


# ---------------------------------------------------------------- closed

SHORT_ROUTES = """\
[defaults]
office = office
deadline = 4s
reminders = 2s
escalation = office@+0, committee@+1s

[rule fast]
kind = incident
assign = mps-a05
"""


class ClosedTest(DeadlineCase):

    routes = SHORT_ROUTES

    def test_closed_tasks_fire_nothing(self):
        by_report, _ = self.incident(title="completed by a report")
        by_command, _ = self.incident(title="completed by a command")
        cancelled, _ = self.incident(title="cancelled")
        control, ack = self.incident(title="still open")
        due = ack["accepted_at"] + 4 * S
        acks = [
            self.send(report(agency="mps-a05", kind="completion",
                             task=by_report, title="done")),
            self.command("complete", by_command),
            self.command("cancel", cancelled),
            # the wrong agency cannot close it: refused, still open
            self.send(report(agency="mic", kind="completion",
                             task=control, title="not mine")),
        ]
        # The precondition: every close came before the first reminder.
        self.assertLess(max(a["accepted_at"] for a in acks), due - 2 * S - 500)
        for t in (by_report, by_command):
            self.env.wait_task(t, lambda x: x["state"] == "done")
        self.env.wait_task(cancelled, lambda x: x["state"] == "cancelled")
        want = ["%s/1/%s" % (control, s) for s in
                ("reminder-1", "overdue", "escalation-1", "escalation-2")]
        self.wait_ids(want, 5 + 5)
        sleep_until_ms(due + 1 * S + 700)   # past every step of every task
        self.assertEqual(self.ids(), want, self.logs())
        self.assertTrue(all(not b[2]["late"]
                            for b in self.bodies().values()))


# ---------------------------------------------------------------- extend

class ExtendTest(DeadlineCase):

    routes = SHORT_ROUTES

    def test_extension_replans(self):
        long_, ack = self.incident(title="extended after its reminder")
        short, _ = self.incident(title="extended too little for a reminder")
        due1 = ack["accepted_at"] + 4 * S
        self.wait_ids(["%s/1/reminder-1" % long_,
                       "%s/1/reminder-1" % short], 2 + 3)
        self.assertEqual(len(self.ids()), 2)
        now = now_ms()
        a = self.command("extend", long_, until=now + 3500)
        b = self.command("extend", short, until=now + 1500)
        # The precondition: both moved before their old deadline.
        self.assertLess(max(a["accepted_at"], b["accepted_at"]),
                        due1 - 500)
        due_long = self.task_due(long_, plan=2)
        due_short = self.task_due(short, plan=2)
        self.assertEqual(due_long, now + 3500)
        self.assertEqual(due_short, now + 1500)
        self.assertEqual(self.env.task(long_)["plan"], 2)
        # plan 2 of long_: its reminder 2 s before the new deadline comes
        # after the extension; short's would come before it: not planned.
        want_long = ["%s/2/%s" % (long_, s) for s in
                     ("reminder-1", "overdue", "escalation-1",
                      "escalation-2")]
        want_short = ["%s/2/%s" % (short, s) for s in
                      ("overdue", "escalation-1", "escalation-2")]
        self.wait_ids(want_long + want_short, 3.5 + 1 + 4)
        sleep_until_ms(max(due1 + 1 * S, due_long + 1 * S) + 700)
        ids = self.ids()
        self.assertEqual(sorted(ids),
                         sorted(["%s/1/reminder-1" % long_,
                                 "%s/1/reminder-1" % short] +
                                want_long + want_short), self.logs())
        got = self.bodies()
        for aid in want_long:
            self.assertEqual(got[aid][2]["due_at"], due_long, aid)
            self.assertEqual(got[aid][2]["plan"], 2, aid)
            self.assertFalse(got[aid][2]["late"], aid)
        self.assertEqual(got["%s/2/reminder-1" % long_][2]["planned_at"],
                         due_long - 2 * S)
        for aid in want_short:
            self.assertEqual(got[aid][2]["due_at"], due_short, aid)
            self.assertFalse(got[aid][2]["late"], aid)
        # in instant order across both tasks
        planned = [got[i][2]["planned_at"] for i in ids]
        self.assertEqual(planned, sorted(planned))


# ---------------------------------------------------------------- replan

REPLAN_ROUTES = """\
[defaults]
office = office
deadline = 3s
reminders = 2s
escalation = office@+0

[rule fast]
kind = incident
assign = mps-a05
"""


class ReplanTest(DeadlineCase):

    routes = REPLAN_ROUTES

    def test_progress_keeps_the_plan_reassign_replans(self):
        kept, ack = self.incident(title="progress on it")
        moved, _ = self.incident(title="reassigned")
        due = ack["accepted_at"] + 3 * S
        r = self.command("reassign", moved, to="mic")
        self.assertLess(r["accepted_at"], due - 2 * S - 300)
        self.wait_ids(["%s/1/reminder-1" % kept,
                       "%s/2/reminder-1" % moved], 1 + 3)
        # Progress after the reminder: task.updated, the same plan, and
        # the reminder that fired does not fire again.
        self.send(report(agency="mps-a05", kind="progress", task=kept,
                         title="working on it"))
        self.env.wait_task(kept, lambda x: x["state"] == "in-progress")
        want = ["%s/1/reminder-1" % kept, "%s/2/reminder-1" % moved,
                "%s/1/overdue" % kept, "%s/1/escalation-1" % kept,
                "%s/2/overdue" % moved, "%s/2/escalation-1" % moved]
        self.wait_ids(want, 2 + 4)
        self.quiet(0.8, len(want))
        self.assertEqual(sorted(self.ids()), sorted(want))
        got = self.bodies()
        for aid in want:
            b = got[aid][2]
            self.assertEqual(b["agency"],
                             "mic" if aid.startswith(moved + "/")
                             else "mps-a05", b)
            self.assertFalse(b["late"], b)


# ---------------------------------------------------------------- downtime

DOWNTIME_ROUTES = """\
[defaults]
office = office
deadline = 4s
reminders = 1s
escalation = office@+0, committee@+1s

; A: every step (4, 4, 5 s) passes while the daemon is down; its reminder
; (3 s) too, and its deadline with it: dropped.
[rule a]
category = cybersecurity
assign = mps-a05

; B: its first reminder (4 s) passes in the downtime but its deadline
; (10 s) is still ahead at the restart (6.8 s): sent late; the rest
; (9, 10, 10 s) on time.
[rule b]
category = information-security
assign = mic
deadline = 10s
reminders = 6s, 1s
escalation = office@+0

; C: like A, a little later (5, 5, 5.5 s); reminder (3 s) dropped.
[rule c]
category = cyber-defense
assign = mod-cmd86
deadline = 5s
reminders = 2s
escalation = office@+0, committee@+500ms
"""


class DowntimeTest(DeadlineCase):

    routes = DOWNTIME_ROUTES

    def test_steps_due_in_a_downtime_fire_once_late(self):
        a, ack = self.incident(category="cybersecurity", title="a")
        b, ack_b = self.incident(category="information-security", title="b")
        c, ack_c = self.incident(category="cyber-defense", title="c")
        # d (triage, the defaults) is completed and e (like a) reassigned
        # while the daemon is down: it must learn so before it fires.
        d, _ = self.incident(category="toxic-information", title="d")
        e, _ = self.incident(category="cybersecurity", title="e")
        t0 = ack["accepted_at"]
        # Stop once the daemon has every task (STATUS says so) and before
        # any step is due (the first is 3 s after t0).
        bt.wait_until(lambda: (self.status() or "").startswith(
            "applied router seq 5 of 5"), 2.5, interval=0.02,
            what="STATUS applied router seq 5 of 5")
        self.env.deadline.stop()
        self.assertIn("router seq 5 applied", self.env.deadline.output())
        self.assertLess(now_ms(), t0 + 3 * S, "stopped too late to test")
        self.assertEqual(self.ids(), [], "alerts before the downtime")
        due_a, due_b, due_c, due_e = (self.task_due(x) for x in (a, b, c, e))
        self.assertEqual((due_a, due_b, due_c),
                         (t0 + 4 * S, ack_b["accepted_at"] + 10 * S,
                          ack_c["accepted_at"] + 5 * S))
        self.command("complete", d)
        # e's plan 2 begins after its reminder's instant: no reminder.
        sleep_until_ms(due_e - 1 * S + 200)
        self.command("reassign", e, to="cpd")
        self.env.wait_task(e, lambda x: x["plan"] == 2)
        # Late by more than 1 s, every one: c's escalation-2 + 1.3 s.
        sleep_until_ms(due_c + 500 + 1300)
        restart = now_ms()
        self.assertLess(restart, due_b - 1 * S - 1500,
                        "restarted too late to test")
        self.env.deadline.start()
        late = ["%s/1/overdue" % a, "%s/1/escalation-1" % a,
                "%s/1/escalation-2" % a, "%s/1/reminder-1" % b,
                "%s/1/overdue" % c, "%s/1/escalation-1" % c,
                "%s/1/escalation-2" % c, "%s/2/overdue" % e,
                "%s/2/escalation-1" % e, "%s/2/escalation-2" % e]
        on_time = ["%s/1/reminder-2" % b, "%s/1/overdue" % b,
                   "%s/1/escalation-1" % b]
        self.wait_ids(late, 5)
        self.wait_ids(late + on_time, (due_b - now_ms()) / S + 5)
        time.sleep(0.6)
        ids = self.ids()
        self.assertEqual(sorted(ids), sorted(late + on_time), self.logs())
        got = self.bodies()
        # In instant order, each once; the late ones first.
        self.assertEqual(sorted(ids[:len(late)]), sorted(late))
        planned = [got[i][2]["planned_at"] for i in ids]
        self.assertEqual(planned, sorted(planned), ids)
        agency = {a: "mps-a05", b: "mic", c: "mod-cmd86", e: "cpd"}
        for aid in late:
            body = got[aid][2]
            self.assertTrue(body["late"], body)
            self.assertGreaterEqual(body["fired_at"], restart, body)
            self.assertLess(body["fired_at"], restart + 2 * S, body)
            self.assertEqual(body["agency"], agency[body["task"]], body)
        for aid in on_time:
            body = got[aid][2]
            self.assertEqual(body["agency"], "mic", body)
            self.assertFalse(body["late"], body)
            self.assertLess(body["fired_at"] - body["planned_at"],
                            ON_TIME_MS, body)
        self.assertEqual(got["%s/1/reminder-1" % b][2]["planned_at"],
                         due_b - 6 * S)
        self.assertLess(got["%s/1/reminder-1" % b][2]["fired_at"], due_b)
        # The reminders of a and c were dropped, and counted so.
        self.env.deadline.stop()
        out = self.env.deadline.output()
        self.assertIn("reminders dropped 2", out)
        self.assertIn("alerts fired 13 (late 10)", out)
        self.env.deadline.start()
        self.quiet(1.0, len(ids))


# ---------------------------------------------------------------- catch-up

MANY = 700

MANY_ROUTES = """\
[defaults]
office = office
deadline = 1s
reminders = 500ms
escalation = office@+0, committee@+200ms

[rule fast]
kind = incident
assign = mps-a05
"""


class CatchUpTest(DeadlineCase):

    routes = MANY_ROUTES

    def test_many_tasks_made_while_down(self):
        # The daemon is down while 700 tasks are made and all their
        # steps pass: started, it learns them from the router's replay
        # and has 2800 due steps (rounds of 1024): 2100 alerts, each
        # once, in instant order, late; 700 reminders dropped.
        self.env.deadline.stop()
        c = self.env.client()
        acks = bt.submit_many(c, [report(agency="mic",
                                         title="many %d" % i)
                                  for i in range(MANY)])
        tasks = ["T-%d" % a["seq"] for a in acks]
        sleep_until_ms(acks[-1]["accepted_at"] + 1200 + 1100)
        restart = now_ms()
        self.env.deadline.start()
        want = set("%s/1/%s" % (t, s) for t in tasks
                   for s in ("overdue", "escalation-1", "escalation-2"))
        self.wait_ids(want, 20)
        self.quiet(0.5, len(want))
        got = self.bodies()
        self.assertEqual(set(got), want)
        planned = [e[2]["planned_at"] for e in
                   sorted(got.values(), key=lambda e: e[0])]
        self.assertEqual(planned, sorted(planned))
        due = {t: a["accepted_at"] + 1 * S for t, a in zip(tasks, acks)}
        for seq, topic, b in got.values():
            self.assertTrue(b["late"], b)
            self.assertGreaterEqual(b["fired_at"], restart, b)
            self.assertEqual(b["due_at"], due[b["task"]], b)
        self.env.deadline.stop()
        out = self.env.deadline.output()
        self.assertIn("alerts fired %d (late %d), reminders dropped %d"
                      % (2 * MANY + MANY, 2 * MANY + MANY, MANY), out)


# ---------------------------------------------------------------- kills

TASKS = 300
KILLS = 6

KILL_ROUTES = """\
[defaults]
office = office
deadline = 3s
reminders = 1s
escalation = office@+0, committee@+1s

[rule k1]
category = cybersecurity
assign = mps-a05

[rule k2]
category = information-security
assign = mic
deadline = 4s
reminders = 2500ms, 1s

[rule k3]
category = cyber-defense
assign = mod-cmd86
deadline = 5s
reminders = 3s
escalation = office@+0, committee@+500ms, mod-cmd86@+1500ms

[rule k4]
category = toxic-information
assign = cpd
deadline = 6s
reminders = 4s, 2s
"""

CATEGORIES = ["cybersecurity", "information-security", "cyber-defense",
              "toxic-information"]
PLAN = {  # category: (deadline, reminders (earliest first), escalations)
    "cybersecurity": (3 * S, [1 * S], [0, 1 * S]),
    "information-security": (4 * S, [2500, 1 * S], [0, 1 * S]),
    "cyber-defense": (5 * S, [3 * S], [0, 500, 1500]),
    "toxic-information": (6 * S, [4 * S, 2 * S], [0, 1 * S]),
}


class KillTest(DeadlineCase):

    routes = KILL_ROUTES

    def test_sigkill_while_alerts_fire(self):
        print("seed %d (BATON_SEED=%d to repeat)" % (SEED, SEED),
              file=sys.stderr)
        rng = random.Random(SEED)
        env = self.env
        # 300 tasks over about 3 s, submitted by a thread while the main
        # one kills: their steps spread over 1.5..10 s.
        tasks = {}                      # id -> (category, accepted_at)
        errors = []
        start = now_ms() + 100

        def submit():
            c = bt.Client(env.ctx, env.submit)
            try:
                for i in range(TASKS):
                    cat = CATEGORIES[i % len(CATEGORIES)]
                    sleep_until_ms(start + i * 10)
                    a = c.request(report(agency="mic", category=cat,
                                         severity="high",
                                         title="kill %d" % i))
                    if a.get("type") != "ack":
                        errors.append(a)
                        return
                    tasks["T-%d" % a["seq"]] = (cat, a["accepted_at"])
            except Exception as e:
                errors.append(e)
            finally:
                c.close()
        submitter = threading.Thread(target=submit, daemon=True)
        submitter.start()
        first = start + 1500
        last = start + TASKS * 10 + 7 * S
        # Kill points while the steps come due; one long downtime (2.2 s)
        # makes reminders whose deadline passes in it legally dropped.
        points = sorted(rng.uniform(first, last - 1500)
                        for _ in range(KILLS))
        long_one = rng.randrange(KILLS)
        downs = []                      # (killed_ms, ready_ms)
        for k, p in enumerate(points):
            if downs:
                p = max(p, downs[-1][1] + 100)
            sleep_until_ms(p)
            self.assertTrue(env.deadline.running(), self.logs())
            env.deadline.kill()
            killed = now_ms()
            down = 2.2 if k == long_one else rng.uniform(0, 0.6)
            n = len(self.ids())
            print("SIGKILL %d at +%d ms, %d alerts; down %.0f ms"
                  % (k + 1, killed - start, n, down * 1000), file=sys.stderr)
            time.sleep(down)
            env.deadline.start()
            downs.append((killed, now_ms()))
        submitter.join(10)
        self.assertFalse(submitter.is_alive(), "the submitter is stuck")
        self.assertEqual(errors, [])
        self.assertEqual(len(tasks), TASKS)
        last = max(a + PLAN[c][0] + PLAN[c][2][-1]
                   for c, a in tasks.values())
        # Every overdue and escalation must come, once.
        must = set()
        allowed = set()
        for t, (cat, acc) in tasks.items():
            dl, rems, escs = PLAN[cat]
            must.add("%s/1/overdue" % t)
            for k in range(len(escs)):
                must.add("%s/1/escalation-%d" % (t, k + 1))
            for k in range(len(rems)):
                allowed.add("%s/1/reminder-%d" % (t, k + 1))
        allowed |= must
        self.wait_ids(must, max(5, (last - now_ms()) / S + 15))
        self.quiet(1.0, len(self.ids()))
        ids = self.ids()                # no id twice (rows() checks)
        outside = set(ids) - allowed
        self.assertEqual(outside, set(), "alerts outside the plan")
        self.assertEqual(must - set(ids), set())
        got = self.bodies()
        # Each reminder: sent before its deadline, or dropped only when
        # the daemon was down (or starting) from its instant to the
        # deadline. Starting lasts until the router has answered (up to a
        # second here): a kill before that leaves the daemon down still,
        # so such downtimes count as one.
        merged = []
        for killed, ready in sorted(downs):
            if merged and killed <= merged[-1][1] + 1000:
                merged[-1] = (merged[-1][0], max(ready, merged[-1][1]))
            else:
                merged.append((killed, ready))
        dropped = 0
        for t, (cat, acc) in tasks.items():
            dl, rems, escs = PLAN[cat]
            due = acc + dl
            for k, before in enumerate(rems):
                aid = "%s/1/reminder-%d" % (t, k + 1)
                at = due - before
                if aid in got:
                    b = got[aid][2]
                    self.assertEqual(b["planned_at"], at, b)
                    self.assertLess(b["fired_at"], due, b)
                    continue
                dropped += 1
                self.assertTrue(
                    any(killed <= at + 500 and ready + 1000 >= due
                        for killed, ready in merged),
                    "%s (at +%d ms, due +%d ms) was never sent, but the "
                    "daemon was up in between; downtimes %r%s"
                    % (aid, at - start, due - start,
                       [(x - start, y - start) for x, y in downs],
                       self.logs()))
            b = got["%s/1/overdue" % t][2]
            self.assertEqual((b["planned_at"], b["due_at"]), (due, due), b)
            for k, after in enumerate(escs):
                b = got["%s/1/escalation-%d" % (t, k + 1)][2]
                self.assertEqual(b["planned_at"], due + after, b)
                self.assertEqual(b["level"], k + 1, b)
        late = sum(1 for e in got.values() if e[2]["late"])
        print("%d alerts (%d late), %d reminders dropped"
              % (len(ids), late, dropped), file=sys.stderr)
        self.assertGreater(late, 0, "no kill made anything late")


# ---------------------------------------------------------------- waiting

WAIT_ROUTES = """\
[defaults]
office = office
deadline = 3s
reminders = 1500ms
escalation = office@+0

[rule fast]
kind = incident
assign = mps-a05
"""


class WaitingTest(DeadlineCase):

    routes = WAIT_ROUTES

    def test_waiting_pauses_the_clock(self):
        task, ack = self.incident(title="waits")
        due1 = ack["accepted_at"] + 3 * S
        self.assertEqual(self.task_due(task), due1)
        w = self.command("wait", task)
        self.assertLess(w["accepted_at"], due1 - 1500 - 300)
        self.env.wait_task(task, lambda x: x["state"] == "waiting")
        sleep_until_ms(due1 + 500)      # past the deadline and escalation
        self.assertEqual(self.ids(), [], "alerts while waiting" + self.logs())
        r = self.command("resume", task)
        waited = r["accepted_at"] - w["accepted_at"]
        t = self.env.wait_task(task, lambda x: x["state"] != "waiting")
        due2 = t["due_at"]
        self.assertEqual(due2, due1 + waited)
        self.assertEqual(t["plan"], 2)
        want = ["%s/2/%s" % (task, s) for s in
                ("reminder-1", "overdue", "escalation-1")]
        self.wait_ids(want, (due2 - now_ms()) / S + 4)
        self.quiet(0.6, len(want))
        self.assertEqual(self.ids(), want)
        got = self.bodies()
        for aid, planned in zip(want, (due2 - 1500, due2, due2)):
            b = got[aid][2]
            self.assertEqual(b["due_at"], due2, b)
            self.assertEqual(b["planned_at"], planned, b)
            self.assertEqual(b["plan"], 2, b)
            self.assertFalse(b["late"], b)


# ---------------------------------------------------------------- restart

class RestartTest(DeadlineCase):

    routes = REPLAN_ROUTES

    def test_restart_with_nothing_due(self):
        task, _ = self.incident(title="fires, then restarts")
        want = ["%s/1/%s" % (task, s) for s in
                ("reminder-1", "overdue", "escalation-1")]
        self.wait_ids(want, 3 + 4)
        bt.wait_until(lambda: "next due none" in (self.status() or ""), 3,
                      interval=0.05, what="STATUS next due none")
        self.env.deadline.stop()        # exit 0, STOPPING=1
        self.assertIn("alerts fired 3 (late 0)", self.env.deadline.output())
        self.env.deadline.start()
        self.quiet(1.2, 3)
        self.assertIn("alerts fired 0 (late 0), next due none",
                      self.status() or "")
        self.env.deadline.kill()
        self.env.deadline.start()
        self.quiet(1.2, 3)
        self.assertIn("alerts fired 0 (late 0), next due none",
                      self.status() or "")
        self.assertEqual(self.ids(), want)


# ---------------------------------------------------------------- missing

def basic(ms):
    """A period's name for an interval starting at ms: 20261126T080000Z."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ms // 1000))


class MissingTest(DeadlineCase):
    """A schedule of two 3-second periods from a few seconds after start:
    the obligations the router opens by the clock, closed by reports made
    early, and the one report never made becomes a missing-report alert."""

    def setUp(self):
        self.start_ms = (now_ms() // S + 4) * S
        self.routes = (
            "[schedule sitrep]\n"
            "agency = mic, hanoi\n"
            "every = 3s\n"
            "from = %s\n"
            "until = %s\n"
            "due = 1s\n"
            "reminders = 500ms\n"
            "escalation = office@+0\n"
            "category = cyber-defense\n"
            "title = Situation report during the drill\n"
            % (time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(self.start_ms // 1000)),
               time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(self.start_ms // 1000 + 6))))
        super().setUp()

    def periodic(self, agency, start_ms):
        return self.send(report(agency=agency, kind="periodic",
                                category="cyber-defense",
                                period=basic(start_ms),
                                title="sitrep %s" % basic(start_ms)))

    def test_the_report_not_made_is_missing(self):
        p1, p2 = self.start_ms, self.start_ms + 3 * S
        before, after = self.start_ms - 3 * S, self.start_ms + 6 * S
        self.assertLess(now_ms(), p1, "the test started too slowly")
        for agency, start in (("mic", p1), ("mic", p2), ("hanoi", p2),
                              ("hanoi", before), ("hanoi", after)):
            self.periodic(agency, start)
        ob = "P-sitrep-hanoi-%s" % basic(p1)
        want = ["%s/1/%s" % (ob, s) for s in
                ("reminder-1", "missing-report", "escalation-1")]
        self.wait_ids(want, (p1 + 4 * S - now_ms()) / 1000 + 5)
        sleep_until_ms(p2 + 4 * S + 700)  # past every step of p2
        self.assertEqual(self.ids(), want, self.logs())
        b = self.bodies()["%s/1/missing-report" % ob][2]
        self.assertEqual((b["kind"], b["agency"], b["period"], b["due_at"]),
                         ("missing-report", "hanoi", basic(p1), p1 + 4 * S))
        # Only the periods within from..until are owed; reports made
        # before their obligation closed it at birth.
        for agency, start in (("mic", p1), ("mic", p2), ("hanoi", p2)):
            t = self.env.task("P-sitrep-%s-%s" % (agency, basic(start)))
            self.assertIsNotNone(t, "%s %s" % (agency, basic(start)))
            self.assertEqual(t["state"], "done", t)
        self.assertEqual(self.env.task(ob)["state"], "open")
        for start in (before, after):
            self.assertIsNone(self.env.task("P-sitrep-hanoi-%s"
                                            % basic(start)))


if __name__ == "__main__":
    bt.main()
