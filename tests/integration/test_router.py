#!/usr/bin/python3
"""baton-router against the real baton-intake: reports in, tasks out.

Every test starts intake and the router in a temp dir (ipc://, auth =
none), submits reports and commands to intake as an agency or operator
would, and checks the router's results where an operator and a downstream
daemon see them: `batonctl queue --json`, `batonctl task ID --json` (with
its history) and a bus-tap on the router's publisher, whose rows are
(seq, topic, agency, task id). Every report or command that reaches a task
makes the router publish exactly one event (created, updated, closed or
refused), so the tap is also the barrier: a test waits until the tap holds
the events it expects, and compares them, before it looks at a task.

The bundled routes.conf has [schedule] sections too: the router opens
obligation tasks ("P-<schedule>-<agency>-<period>") by the clock, at
start-up. Their task.created events come whenever the router's first tick
does, so the checks below leave them out (rows(), queue_ids()); a test
that is about them looks at them on purpose.

  bundled     the bundled config/routes.conf: each key area to its unit,
              with the rule's deadline, reminders, escalation, notify; a
              continue rule makes T-<seq> and T-<seq>-2; drills flagged;
              only incidents make tasks, a resent one no second task; a
              periodic report closes its obligation
  triage      a report no rule matches goes to the office (rule triage)
  rebuild     10,000 reports while the router is down; started, it makes
              T-1..T-10000 and publishes each task.created once, in order;
              its state deleted, it rebuilds the very same queue
  progress    progress and completion by the wrong agency, the right one,
              twice; on an unknown task; before the task exists
  commands    extend, reassign, cancel, complete; on a closed task
  crash       the router SIGKILLed twice in a stream of reports
  queue       due_at order, --agency, --category, --overdue, closed hidden

The bundled, progress and commands tests end by deleting the router's
state and restarting it: it must rebuild the same tasks, histories
included, and the same queue from intake's replay.
"""
import datetime
import os
import shutil
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report, command  # noqa: E402

S = 1000
M = 60 * S
H = 60 * M
D = 24 * H

CONVERGE = 20.0             # seconds the router may take for a few events


def obligation_created(row):
    """Whether a tap row is the creation of a periodic-report obligation
    (made by the router's clock, not by a report)."""
    return row[1] == "task.created" and row[3].startswith("P-")


class RouterCase(unittest.TestCase):
    """intake + router + a bus-tap on the router, per test."""

    routes = None           # routes.conf text; None: the bundled file

    def setUp(self):
        self.t0 = time.monotonic()
        routes = None
        if self.routes is not None:
            d = bt.make_tmpdir("baton-routes-")
            routes = os.path.join(d, "routes.conf")
            with open(routes, "w") as f:
                f.write(self.routes)
        self.env = bt.BatonEnv(routes=routes)
        self.env.start_intake()
        self.env.start_router()
        self.tap = self.env.tap("router-tap", publisher="router")
        self.tap.start()
        self.client = self.env.client()
        self.seen = 0       # tap rows already checked

    def tearDown(self):
        try:
            if self.env.router.running():
                self.env.router.stop()      # exit 0, STOPPING=1
        finally:
            self.env.close()
            print("%.1f s" % (time.monotonic() - self.t0), end=" ",
                  file=sys.stderr, flush=True)

    # ---- helpers

    def send(self, body):
        """Submit body; it must be acknowledged. Returns the ack."""
        a = self.client.request(body)
        self.assertEqual(a.get("type"), "ack", "refused: %r" % (a,))
        return a

    def raw_rows(self):
        """Every row of the router tap: seq 1..N, none twice."""
        rows, dups, disorder = self.tap.dump()
        self.assertEqual(dups, 0, "router events applied twice")
        self.assertEqual(disorder, 0, "router events out of order")
        self.assertEqual([r[0] for r in rows], list(range(1, len(rows) + 1)))
        return rows

    def rows(self):
        """The tap's rows without the clock's obligations."""
        return [r for r in self.raw_rows() if not obligation_created(r)]

    def queue_ids(self, *args):
        """The task ids `batonctl queue` lists, in order, without
        obligations."""
        return [t["task"] for t in self.env.queue(*args)
                if not t["task"].startswith("P-")]

    def expect(self, *want, timeout=CONVERGE):
        """Wait until the tap holds len(want) more events than last time;
        they must be want: (topic, agency, task) each. No more may come
        within a short while after (checked by the next expect())."""
        n = self.seen + len(want)

        def enough():
            if not self.env.router.running():
                self.fail("baton-router exited:\n" + self.env.router.output())
            r = self.rows()
            return r if len(r) >= n else None
        rows = bt.wait_until(enough, timeout, interval=0.02,
                             what="%d router events" % n)
        got = [r[1:] for r in rows[self.seen:]]
        self.assertEqual(got, list(want), "router events after #%d"
                         % self.seen)
        self.seen = n
        return rows

    def accepted_at(self):
        """{seq: accepted_at} from `batonctl log --json`."""
        return {r["seq"]: r["accepted_at"] for r in self.env.log()}

    def task(self, task_id):
        t = self.env.task(task_id)
        self.assertIsNotNone(t, "no task %s" % task_id)
        return t

    @staticmethod
    def without_history(t):
        return {k: v for k, v in t.items() if k != "history"}

    def rebuild_and_compare(self, ids):
        """Stop the router, delete its state, start it again: it must
        rebuild the same tasks (ids, with their histories) and the same
        queue from intake's replay. Ends the tap's use."""
        before = {i: self.env.task(i) for i in ids}
        queue = self.env.queue()
        self.tap.stop()
        self.env.router.stop()
        shutil.rmtree(self.env.router_state)
        self.env.router.start()
        now = {}

        def same():
            now.update((i, self.env.task(i)) for i in ids)
            return now == before
        try:
            bt.wait_until(same, CONVERGE, interval=0.05,
                          what="the rebuilt tasks")
        except AssertionError:
            self.assertEqual(now, before)
            raise
        self.assertEqual(self.env.queue(), queue)


# ---------------------------------------------------------------- bundled

# What config/routes.conf says; the defaults: 72h, reminders 24h and 2h,
# escalation office at +0 and committee at +48h, nobody else notified.
DEF = dict(deadline=72 * H, reminders=[24 * H, 2 * H],
           escalation=[("office", 0), ("committee", 48 * H)], notify=[])


def rule(name, assign, **kw):
    r = dict(DEF, name=name, assign=assign)
    r.update(kw)
    return r


CRITICAL_CYBER = rule("critical-cyber-incidents", "mps-a05", deadline=24 * H,
                      reminders=[12 * H, 2 * H],
                      escalation=[("mps-a05", 0), ("office", 12 * H),
                                  ("committee", 48 * H)], notify=["mic"])
CYBER = rule("cyber-incidents", "mic-ais")
INFOSEC_HANOI = rule("infosec-hanoi", "hanoi-pc")
INFOSEC_HCM = rule("infosec-hcm", "hcm-pc")
INFOSEC_SERIOUS = rule("infosec-serious", "mic-ais", deadline=48 * H,
                       notify=["mps-a05"])
INFOSEC = rule("infosec", "mic-ais", deadline="5bd", working_hours=True)
DEFENSE_URGENT = rule("cyber-defense-urgent", "mod-cmd86", deadline=24 * H,
                      reminders=[12 * H, 2 * H],
                      escalation=[("mod-cmd86", 0), ("office", 12 * H),
                                  ("committee", 24 * H)])
DEFENSE = rule("cyber-defense", "mod-cmd86")
TOXIC = rule("toxic-information", "cpd", notify=["mic"])
DRILL = rule("drill-evaluation", "office", deadline=7 * D,
             reminders=[2 * D], escalation=[("committee", 3 * D)])


class BundledRoutesTest(RouterCase):

    CASES = [
        # (report fields, the rules it must make tasks by, in order)
        (dict(category="cybersecurity", severity="critical"),
         [CRITICAL_CYBER]),
        (dict(category="cybersecurity", severity="high"), [CYBER]),
        (dict(category="cybersecurity", severity="low", locality="HN"),
         [CYBER]),
        (dict(category="information-security", severity="high"),
         [INFOSEC_SERIOUS]),
        (dict(category="information-security", severity="low"), [INFOSEC]),
        (dict(category="information-security", severity="medium",
              locality="HN"), [INFOSEC_HANOI, INFOSEC]),
        (dict(category="information-security", severity="critical",
              locality="HCM"), [INFOSEC_HCM, INFOSEC_SERIOUS]),
        (dict(category="cyber-defense", severity="critical"),
         [DEFENSE_URGENT]),
        (dict(category="cyber-defense", severity="high"), [DEFENSE_URGENT]),
        (dict(category="cyber-defense", severity="medium"), [DEFENSE]),
        (dict(category="toxic-information", severity="low"), [TOXIC]),
        (dict(category="toxic-information", severity="high", drill=True),
         [DRILL, TOXIC]),
        (dict(category="cybersecurity", severity="critical", drill=True),
         [DRILL, CRITICAL_CYBER]),
        (dict(category="information-security", severity="low",
              locality="HN", drill=False), [INFOSEC_HANOI, INFOSEC]),
    ]

    def check_business_due(self, task, days, where):
        """A deadline of days business days in config/calendar.conf
        (Asia/Ho_Chi_Minh, Mon-Fri 08:00-17:00): at least days x 9 hours
        away, within working time, and not past the longest run of days
        off the calendar has (Tet) plus the weekends around them."""
        self.assertTrue(task["business"], where)
        span = task["due_at"] - task["created_at"]
        self.assertGreaterEqual(span, days * 9 * H, where)
        self.assertLessEqual(span, (days + 2 + 9 + 4) * D, where)
        local = datetime.datetime.fromtimestamp(
            task["due_at"] / 1000, datetime.timezone(datetime.timedelta(
                hours=7)))
        self.assertLess(local.weekday(), 5, where)
        minutes = local.hour * 60 + local.minute
        self.assertTrue(8 * 60 < minutes <= 17 * 60, where)

    def check_task(self, task, want, rep, ack, accepted_at, n):
        tid = "T-%d" % ack["seq"] + ("" if n == 1 else "-%d" % n)
        where = "%s (%r)" % (tid, rep)
        self.assertEqual(task["task"], tid, where)
        self.assertEqual(task["state"], "open", where)
        self.assertEqual(task["agency"], want["assign"], where)
        self.assertEqual(task["rule"], want["name"], where)
        self.assertEqual(task["created_at"], accepted_at, where)
        self.assertEqual(task["created_at"], ack["accepted_at"], where)
        if want["deadline"] == "5bd":
            self.check_business_due(task, 5, where)
        else:
            self.assertEqual(task["due_at"] - task["created_at"],
                             want["deadline"], where)
            self.assertFalse(task["business"], where)
        self.assertEqual(task["working_hours"],
                         want.get("working_hours", False), where)
        self.assertEqual(task["reminders"], want["reminders"], where)
        self.assertEqual([(e["to"], e["after"]) for e in task["escalation"]],
                         want["escalation"], where)
        self.assertEqual(task["notify"], want["notify"], where)
        self.assertEqual(task["drill"], bool(rep.get("drill")), where)
        self.assertEqual(task["plan"], 1, where)
        self.assertEqual(task["category"], rep["category"], where)
        self.assertEqual(task["severity"], rep["severity"], where)
        self.assertEqual(task["title"], rep["title"], where)
        self.assertEqual(task["origin_agency"], rep["agency"], where)
        self.assertEqual(task["origin_id"], rep["id"], where)
        self.assertEqual(task["origin_seq"], ack["seq"], where)
        self.assertEqual(task["cause_seq"], ack["seq"], where)
        self.assertEqual(task["change"], "created", where)
        self.assertEqual(task["by"], rep["agency"], where)
        self.assertEqual(len(task["history"]), 1, where)
        h = task["history"][0]
        self.assertEqual(h["topic"], "task.created", where)
        self.assertEqual(h["n"], 1, where)
        self.assertEqual({k: v for k, v in h.items()
                          if k not in ("n", "topic")},
                         self.without_history(task), where)

    def test_bundled_rules(self):
        sent = []
        want_rows = []
        for i, (fields, rules) in enumerate(self.CASES):
            rep = report(agency="mic", title="incident %d" % i, **fields)
            ack = self.send(rep)
            sent.append((rep, ack, rules))
            for n, r in enumerate(rules, 1):
                tid = "T-%d" % ack["seq"] + ("" if n == 1 else "-%d" % n)
                want_rows.append(("task.created", r["assign"], tid))
        self.expect(*want_rows)
        acc = self.accepted_at()
        for rep, ack, rules in sent:
            for n, want in enumerate(rules, 1):
                tid = "T-%d" % ack["seq"] + ("" if n == 1 else "-%d" % n)
                self.check_task(self.task(tid), want, rep, ack,
                                acc[ack["seq"]], n)
            # no more tasks than the rules say
            self.assertIsNone(self.env.task(
                "T-%d-%d" % (ack["seq"], len(rules) + 1)))
        # the queue holds exactly these tasks (and the obligations)
        self.assertEqual(sorted(self.queue_ids()),
                         sorted(r[2] for r in want_rows))
        self.rebuild_and_compare([r[2] for r in want_rows])

    def test_only_incidents_make_tasks(self):
        # A periodic report that no schedule asks for makes no task and no
        # event; a progress report on a task that does not exist is
        # refused; a resent incident is intake's duplicate and makes no
        # second task. The next incident's task is the next event.
        self.send(report(kind="periodic", agency="nobody", period="2026-Q3"))
        a = self.send(report(kind="progress", agency="mic", task="T-1"))
        inc = report(agency="cpd", category="toxic-information")
        b = self.send(inc)
        again = self.send(inc)
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["seq"], b["seq"])
        c = self.send(report(agency="cpd", category="toxic-information"))
        self.expect(("task.refused", "mic", "T-1"),
                    ("task.created", "cpd", "T-%d" % b["seq"]),
                    ("task.created", "cpd", "T-%d" % c["seq"]))
        self.assertEqual(b["seq"], a["seq"] + 1)
        self.assertEqual(c["seq"], b["seq"] + 1)
        self.assertIsNone(self.env.task("T-1"))
        self.assertIsNone(self.env.task("T-2"))
        self.assertEqual(sorted(self.queue_ids()),
                         ["T-%d" % b["seq"], "T-%d" % c["seq"]])

    def test_periodic_closes_its_obligation(self):
        # The bundled schedule quarterly-key-areas asks mic for a report
        # each quarter: the router opens mic's obligation for the quarter
        # under way at start-up, and mic's periodic report for that
        # quarter closes it (and no other task is made).
        prefix = "P-quarterly-key-areas-mic-"
        ob = bt.wait_until(
            lambda: sorted((t["due_at"], t["task"]) for t in self.env.queue()
                           if t["task"].startswith(prefix)),
            CONVERGE, what="mic's obligations")
        tid = ob[0][1]
        period = tid[len(prefix):]
        a = self.send(report(kind="periodic", agency="mic", period=period,
                             title="Q report"))
        self.expect(("task.closed", "mic", tid))
        t = self.task(tid)
        self.assertEqual((t["state"], t["note"], t["cause_seq"]),
                         ("done", "Q report", a["seq"]))
        self.assertNotIn(tid, [q["task"] for q in self.env.queue()])
        # a second one is noted, not announced
        self.send(report(kind="periodic", agency="mic", period=period))
        b = self.send(report(agency="cpd", category="toxic-information"))
        self.expect(("task.created", "cpd", "T-%d" % b["seq"]))
        self.assertEqual(self.task(tid)["history"][-1]["topic"],
                         "task.refused")
        self.rebuild_and_compare([tid, "T-%d" % b["seq"]])


# ---------------------------------------------------------------- triage

class TriageTest(RouterCase):

    routes = """\
[defaults]
office = office
deadline = 36h
reminders = 6h
escalation = committee@+1d

[rule toxic]
category = toxic-information
assign = cpd
"""

    def test_unmatched_goes_to_triage(self):
        a = self.send(report(agency="mic", category="cybersecurity",
                             severity="critical", title="nobody's"))
        b = self.send(report(agency="mic", category="toxic-information",
                             severity="low"))
        c = self.send(report(agency="mps-a05", category="cyber-defense",
                             severity="low", drill=True))
        self.expect(("task.created", "office", "T-%d" % a["seq"]),
                    ("task.created", "cpd", "T-%d" % b["seq"]),
                    ("task.created", "office", "T-%d" % c["seq"]))
        acc = self.accepted_at()
        for ack, drill in ((a, False), (c, True)):
            t = self.task("T-%d" % ack["seq"])
            self.assertEqual(t["agency"], "office")
            self.assertEqual(t["rule"], "triage")
            self.assertEqual(t["state"], "open")
            self.assertEqual(t["created_at"], acc[ack["seq"]])
            self.assertEqual(t["due_at"] - t["created_at"], 36 * H)
            self.assertEqual(t["reminders"], [6 * H])
            self.assertEqual(t["escalation"],
                             [{"to": "committee", "after": D}])
            self.assertEqual(t["drill"], drill)
        t = self.task("T-%d" % b["seq"])
        self.assertEqual((t["agency"], t["rule"]), ("cpd", "toxic"))
        self.assertEqual(t["due_at"] - t["created_at"], 36 * H)
        # and routes test agrees with the router
        path = self.env.write_file("r.json", '{"agency": "mic", "category":'
                                   ' "cybersecurity", "severity": "low", '
                                   '"title": "t"}')
        r = self.env.batonctl("routes", "test", path)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("1. rule triage\n", r.out)
        self.assertIn("assign to   office\n", r.out)
        self.assertIn("deadline    1d12h after acceptance\n", r.out)


# ---------------------------------------------------------------- rebuild

REBUILD_ROUTES = """\
; no continue: one task per incident
[defaults]
deadline = 72h
reminders = 24h, 2h
escalation = office@+0, committee@+48h

[rule cyber-critical]
category = cybersecurity
severity = critical
assign = mps-a05
deadline = 24h
reminders = 12h, 2h
escalation = mps-a05@+0, office@+12h
notify = mic

[rule cyber]
category = cybersecurity
assign = mic-ais

[rule infosec-hanoi]
category = information-security
locality = HN
assign = hanoi-pc
deadline = 48h

[rule infosec]
category = information-security
severity = >= high
assign = mic-ais
deadline = 36h

[rule defense]
category = cyber-defense
assign = mod-cmd86
deadline = 24h
reminders = 12h
"""

CATEGORIES = ["cybersecurity", "information-security", "cyber-defense",
              "toxic-information"]
SEVERITIES = ["low", "medium", "high", "critical"]
LOCALITIES = [None, "HN", "HCM"]


def rebuild_route(rep):
    """REBUILD_ROUTES by hand: (agency, rule, deadline)."""
    c, s = rep["category"], rep["severity"]
    if c == "cybersecurity":
        if s == "critical":
            return "mps-a05", "cyber-critical", 24 * H
        return "mic-ais", "cyber", 72 * H
    if c == "information-security":
        if rep.get("locality") == "HN":
            return "hanoi-pc", "infosec-hanoi", 48 * H
        if s in ("high", "critical"):
            return "mic-ais", "infosec", 36 * H
    if c == "cyber-defense":
        return "mod-cmd86", "defense", 24 * H
    return "office", "triage", 72 * H


class RebuildTest(RouterCase):

    routes = REBUILD_ROUTES
    TOTAL = 10000
    CLIENTS = 4

    def bodies(self, k):
        out = []
        for i in range(k, self.TOTAL, self.CLIENTS):
            fields = dict(category=CATEGORIES[i % 4],
                          severity=SEVERITIES[(i // 4) % 4],
                          title="incident %d" % i)
            loc = LOCALITIES[(i // 16) % 3]
            if loc:
                fields["locality"] = loc
            out.append(report(id="inc-%d" % i, agency="agency-%d" % k,
                              **fields))
        return out

    def feed(self):
        """TOTAL incidents from CLIENTS threads, pipelined."""
        errors, acks = [], []
        bodies = [self.bodies(k) for k in range(self.CLIENTS)]
        clients = [self.env.client() for _ in range(self.CLIENTS)]

        def run(k):
            try:
                acks.extend(bt.submit_many(clients[k], bodies[k],
                                           window=250, timeout=10))
            except Exception as e:      # reported by the main thread
                errors.append(e)
        threads = [threading.Thread(target=run, args=(k,), daemon=True)
                   for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "feed hangs")
        self.assertEqual(errors, [])
        self.assertEqual(sorted(a["seq"] for a in acks),
                         list(range(1, self.TOTAL + 1)))
        return {b["id"]: b for bs in bodies for b in bs}

    def wait_tap(self, tap, what, timeout=40.0):
        def done():
            if not self.env.router.running():
                self.fail("baton-router exited:\n" + self.env.router.output())
            return len(tap.dump()[0]) >= self.TOTAL
        t0 = time.monotonic()
        bt.wait_until(done, timeout, interval=0.1, what=what)
        return time.monotonic() - t0

    def check_tap(self, tap, want):
        rows, dups, disorder = tap.dump()
        self.assertEqual((dups, disorder), (0, 0))
        self.assertEqual(len(rows), self.TOTAL)
        self.assertEqual(rows, want)

    def test_rebuild(self):
        self.env.router.stop()
        self.tap.stop()
        t0 = time.monotonic()
        sent = self.feed()
        fed = time.monotonic() - t0
        log = self.env.log()
        self.assertEqual(len(log), self.TOTAL)

        # What the rules say, report by report.
        want = {}
        for rec in log:
            rep = sent[rec["id"]]
            self.assertEqual(rec["agency"], rep["agency"])
            agency, name, deadline = rebuild_route(rep)
            want["T-%d" % rec["seq"]] = (agency, name,
                                         rec["accepted_at"],
                                         rec["accepted_at"] + deadline,
                                         rep["id"], rep["agency"])
        want_rows = [(seq, "task.created", want["T-%d" % seq][0],
                      "T-%d" % seq) for seq in range(1, self.TOTAL + 1)]

        self.env.router.start()
        self.tap.start()
        caught_up = self.wait_tap(self.tap, "task.created T-1..T-%d"
                                  % self.TOTAL)
        self.check_tap(self.tap, want_rows)
        queue = self.env.queue()
        self.assertEqual(len(queue), self.TOTAL)
        self.assertEqual(sorted(t["task"] for t in queue), sorted(want))
        for t in queue:
            self.assertEqual((t["agency"], t["rule"], t["created_at"],
                              t["due_at"], t["origin_id"],
                              t["origin_agency"]), want[t["task"]], t)
            self.assertEqual((t["state"], t["plan"], t["change"]),
                             ("open", 1, "created"))
        self.assertEqual([(t["due_at"], t["task"]) for t in queue],
                         sorted((t["due_at"], t["task"]) for t in queue))
        sample = ["T-1", "T-2", "T-4999", "T-10000"]
        before = [self.env.task(i) for i in sample]

        # The router's state gone: it rebuilds everything from intake.
        self.tap.stop()
        self.env.router.stop()
        shutil.rmtree(self.env.router_state)
        self.env.router.start()
        tap2 = self.env.tap("router-tap-2", publisher="router")
        tap2.start()
        rebuilt = self.wait_tap(tap2, "the rebuilt task.created events")
        self.check_tap(tap2, want_rows)
        self.assertEqual(self.env.queue(), queue)
        self.assertEqual([self.env.task(i) for i in sample], before)
        tap2.stop()
        print("\n%d reports fed in %.1f s; router caught up in %.1f s, "
              "rebuilt in %.1f s" % (self.TOTAL, fed, caught_up, rebuilt),
              file=sys.stderr)


# ---------------------------------------------------------------- progress

class ProgressTest(RouterCase):

    def incident(self, **fields):
        """A critical cybersecurity incident from mic: a task for
        mps-a05. Returns its task id."""
        a = self.send(report(agency="mic", category="cybersecurity",
                             severity="critical", **fields))
        tid = "T-%d" % a["seq"]
        self.expect(("task.created", "mps-a05", tid))
        return tid

    def assert_refused(self, before, tid, ack, sender, *words):
        """The task is as before, with one more history entry: the
        refusal of ack's report from sender, its reason holding words."""
        after = self.task(tid)
        self.assertEqual(self.without_history(after),
                         self.without_history(before))
        self.assertEqual(after["history"][:-1], before["history"])
        h = after["history"][-1]
        self.assertEqual((h["topic"], h["change"], h["by"], h["cause_seq"],
                          h["n"]),
                         ("task.refused", "refused", sender, ack["seq"],
                          len(before["history"]) + 1))
        for w in words:
            self.assertIn(w, h["reason"])
        return after

    def test_progress_and_completion(self):
        tid = self.incident()
        t = self.task(tid)

        # the wrong agency (even the reporting one): nothing changes
        for sender, kind in (("mic-ais", "progress"), ("mic", "progress"),
                             ("mod-cmd86", "completion")):
            a = self.send(report(kind=kind, agency=sender, task=tid,
                                 title="not mine"))
            self.expect(("task.refused", sender, tid))
            t = self.assert_refused(t, tid, a, sender, "mps-a05", sender)

        # the right agency: in progress, the report's title as the note
        a = self.send(report(kind="progress", agency="mps-a05", task=tid,
                             title="forensics under way"))
        self.expect(("task.updated", "mps-a05", tid))
        u = self.task(tid)
        self.assertEqual(u["state"], "in-progress")
        self.assertEqual(u["history"][:-1], t["history"])
        h = u["history"][-1]
        self.assertEqual((h["topic"], h["change"], h["state"], h["note"],
                          h["by"], h["cause_seq"]),
                         ("task.updated", "progress", "in-progress",
                          "forensics under way", "mps-a05", a["seq"]))
        for k in ("due_at", "created_at", "plan", "agency", "rule",
                  "reminders", "escalation", "notify", "origin_seq"):
            self.assertEqual(u[k], t[k], k)

        # completion: done, one task.closed
        a = self.send(report(kind="completion", agency="mps-a05", task=tid,
                             title="contained and closed"))
        self.expect(("task.closed", "mps-a05", tid))
        c = self.task(tid)
        self.assertEqual((c["state"], c["change"], c["note"], c["cause_seq"]),
                         ("done", "completed", "contained and closed",
                          a["seq"]))
        self.assertEqual(c["history"][-1]["topic"], "task.closed")
        self.assertNotIn(tid, self.queue_ids())

        # again: refused, already done; and a progress after it too
        for kind in ("completion", "progress"):
            a = self.send(report(kind=kind, agency="mps-a05", task=tid))
            self.expect(("task.refused", "mps-a05", tid))
            c = self.assert_refused(c, tid, a, "mps-a05", "already done")
        closed = [r[1:] for r in self.rows() if r[1] == "task.closed"]
        self.assertEqual(closed, [("task.closed", "mps-a05", tid)])
        self.rebuild_and_compare([tid])

    def test_unknown_task(self):
        self.incident()
        a = self.send(report(kind="progress", agency="mps-a05",
                             task="T-77"))
        self.expect(("task.refused", "mps-a05", "T-77"))
        self.assertIsNone(self.env.task("T-77"))
        a = self.send(report(kind="completion", agency="mps-a05",
                             task="no-such-task"))
        self.expect(("task.refused", "mps-a05", "no-such-task"))
        self.assertIsNone(self.env.task("no-such-task"))
        self.assertEqual(len(self.queue_ids()), 1)

    def test_refusal_before_the_task_exists(self):
        # A progress report on T-3 while intake has 2 messages: there is
        # no task T-3, so it is refused. Then the report at intake seq 3
        # is an incident and makes T-3: its history must begin with its
        # creation, not with a refusal that concerned no task (apply.c:
        # "An unknown task gets no history of its own").
        self.incident()
        a = self.send(report(kind="progress", agency="mps-a05", task="T-3"))
        self.assertEqual(a["seq"], 2)
        self.expect(("task.refused", "mps-a05", "T-3"))
        tid = self.incident()
        self.assertEqual(tid, "T-3")
        t = self.task(tid)
        self.assertEqual([h["topic"] for h in t["history"]],
                         ["task.created"],
                         "T-3's history holds an entry from before it "
                         "existed: %r" % t["history"])


# ---------------------------------------------------------------- commands

class CommandTest(RouterCase):

    def test_commands(self):
        acks = [self.send(report(agency="mic", category="toxic-information",
                                 severity="medium", title="fake news %d" % i))
                for i in range(4)]
        tids = ["T-%d" % a["seq"] for a in acks]
        self.expect(*[("task.created", "cpd", t) for t in tids])
        t1, t2, t3, t4 = tids
        orig = self.task(t1)

        # extend: a new deadline, plan 2
        until = orig["due_at"] + 5 * D
        a = self.send(command("extend", task=t1, until=until,
                              reason="needs the platform's logs"))
        self.expect(("task.updated", "cpd", t1))
        t = self.task(t1)
        self.assertEqual((t["due_at"], t["plan"], t["change"], t["state"],
                          t["by"], t["reason"], t["cause_seq"]),
                         (until, 2, "extended", "open", "office",
                          "needs the platform's logs", a["seq"]))
        self.assertEqual(t["created_at"], orig["created_at"])
        self.assertEqual(t["agency"], "cpd")

        # an extension into the past changes nothing and is refused
        before = self.task(t1)
        self.send(command("extend", task=t1, until=orig["created_at"],
                          reason="typo"))
        self.expect(("task.refused", "office", t1))
        after = self.task(t1)
        self.assertEqual(self.without_history(after),
                         self.without_history(before))
        self.assertIn("not in the future", after["history"][-1]["reason"])

        # reassign: another agency, plan 3
        a = self.send(command("reassign", task=t1, to="mic",
                              reason="it is a telecom matter"))
        self.expect(("task.updated", "mic", t1))
        t = self.task(t1)
        self.assertEqual((t["agency"], t["plan"], t["change"], t["due_at"],
                          t["reason"], t["cause_seq"]),
                         ("mic", 3, "reassigned", until,
                          "it is a telecom matter", a["seq"]))
        # the old holder may no longer report on it, the new one may
        self.send(report(kind="progress", agency="cpd", task=t1))
        self.expect(("task.refused", "cpd", t1))
        self.send(report(kind="progress", agency="mic", task=t1,
                         title="taking over"))
        self.expect(("task.updated", "mic", t1))
        self.assertEqual(self.task(t1)["state"], "in-progress")

        # a reassign on its own bumps the plan too
        self.send(command("reassign", task=t4, to="mps-a05",
                          reason="criminal case"))
        self.expect(("task.updated", "mps-a05", t4))
        t = self.task(t4)
        self.assertEqual((t["agency"], t["plan"]), ("mps-a05", 2))

        # cancel and complete close
        self.send(command("cancel", task=t2, reason="duplicate of " + t1))
        self.expect(("task.closed", "cpd", t2))
        self.assertEqual(self.task(t2)["state"], "cancelled")
        self.send(command("complete", task=t3, reason="removed by hosting"))
        self.expect(("task.closed", "cpd", t3))
        self.assertEqual(self.task(t3)["state"], "done")

        # nothing moves a closed task
        for tid, op, state, extra in (
                (t2, "extend", "cancelled", dict(until=until)),
                (t2, "complete", "cancelled", {}),
                (t3, "reassign", "done", dict(to="mic")),
                (t3, "cancel", "done", {}),
                (t3, "complete", "done", {})):
            before = self.task(tid)
            a = self.send(command(op, task=tid, reason="late " + op,
                                  **extra))
            self.expect(("task.refused", "office", tid))
            after = self.task(tid)
            self.assertEqual(self.without_history(after),
                             self.without_history(before))
            h = after["history"][-1]
            self.assertEqual((h["change"], h["by"], h["cause_seq"]),
                             ("refused", "office", a["seq"]))
            self.assertIn("already " + state, h["reason"])
        # a command on a task that does not exist
        self.send(command("complete", task="T-999", reason="typo"))
        self.expect(("task.refused", "office", "T-999"))

        # every command's reason is in the history, in order
        reasons = {t: [h.get("reason") for h in self.task(t)["history"]
                       if h["topic"] != "task.refused"] for t in tids}
        self.assertEqual(reasons[t1], [None, "needs the platform's logs",
                                       "it is a telecom matter", None])
        self.assertEqual(reasons[t2], [None, "duplicate of " + t1])
        self.assertEqual(reasons[t3], [None, "removed by hosting"])
        self.assertEqual(reasons[t4], [None, "criminal case"])
        # only the tasks not closed are queued; exactly two task.closed
        self.assertEqual(sorted(self.queue_ids()), sorted([t1, t4]))
        self.assertEqual(sorted(r[3] for r in self.rows()
                                if r[1] == "task.closed"), sorted([t2, t3]))
        self.rebuild_and_compare(tids)


# ---------------------------------------------------------------- crash

class CrashTest(RouterCase):

    TOTAL = 4000

    def test_router_killed_mid_stream(self):
        # Every fifth body a progress report on a task that does not
        # exist (one task.refused each), every seventh a periodic report
        # no schedule asks for (no event): task ids still follow intake's
        # sequence.
        bodies = []
        for i in range(self.TOTAL):
            if i % 5 == 4:
                bodies.append(report(kind="progress", agency="mic",
                                     task="X-%d" % i))
            elif i % 7 == 6:
                bodies.append(report(kind="periodic", agency="nobody",
                                     period="2026-Q%d" % (i % 4 + 1)))
            else:
                bodies.append(report(
                    agency="mic", category=CATEGORIES[i % 4],
                    severity=SEVERITIES[i % 3], title="stream %d" % i))
        feeder_client = self.env.client()
        errors, acks = [], []

        def feed():
            try:
                for i in range(0, self.TOTAL, 100):
                    acks.extend(bt.submit_many(feeder_client,
                                               bodies[i:i + 100]))
                    time.sleep(0.01)
            except Exception as e:
                errors.append(e)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for at in (300, 1500):
                bt.wait_until(lambda: len(self.rows()) >= at,
                              CONVERGE, interval=0.01,
                              what="%d router events" % at)
                self.env.router.kill()
                print("\nrouter killed at %d events published"
                      % len(self.rows()), end="", file=sys.stderr)
                self.env.router.start()
        finally:
            feeder.join(60)
        self.assertFalse(feeder.is_alive(), "the feeder hangs")
        self.assertEqual(errors, [])
        log = self.env.log()
        self.assertEqual(len(log), self.TOTAL)
        incidents = ["T-%d" % r["seq"] for r in log if r["kind"] == "incident"]
        progress = [r for r in log if r["kind"] == "progress"]
        total = len(incidents) + len(progress)
        bt.wait_until(lambda: len(self.rows()) >= total, 30,
                      what="%d router events" % total)
        raw = self.raw_rows()       # seq 1..N, no dups, no disorder
        rows = [r for r in raw if not obligation_created(r)]
        self.assertEqual(len(rows), total)
        obligations = [r[3] for r in raw if obligation_created(r)]
        self.assertEqual(len(obligations), len(set(obligations)),
                         "an obligation created twice")
        created = [r[3] for r in rows if r[1] == "task.created"]
        self.assertEqual(len(created), len(set(created)),
                         "a task.created published twice")
        self.assertEqual(created, incidents)
        self.assertEqual([r[3] for r in rows if r[1] == "task.refused"],
                         [r["task"] for r in progress])
        self.assertEqual(sorted(self.queue_ids()), sorted(incidents))
        # one history entry each, for a sample
        for tid in incidents[::97]:
            self.assertEqual(len(self.task(tid)["history"]), 1, tid)


class StaleIntakeTest(RouterCase):

    def test_intake_store_replaced_is_said(self):
        # intake comes back with an empty store (a lost disk, a wrong
        # restore): its heartbeats say 0 where the router applied 3, and
        # what it publishes next would be taken for events applied. Only
        # an operator can sort that out, so the router must say it.
        for i in range(3):
            self.send(report(agency="mic", title="before %d" % i))
        self.env.wait_task("T-3")
        self.env.intake.stop()
        shutil.rmtree(os.path.join(self.env.state_dir, "intake"))
        self.env.intake.start()
        want = ("publisher intake says its newest event is 0, but 3 were "
                "applied here: its store was replaced by an older one")
        bt.wait_until(lambda: want in self.env.router.output(), 10,
                      what="the router's warning")
        self.assertEqual(self.env.router.output().count(want), 1)


# ---------------------------------------------------------------- queue

class QueueTest(RouterCase):

    routes = """\
[rule fast]
category = cyber-defense
assign = mod-cmd86
deadline = 1s
reminders = 500ms

[rule cyber]
category = cybersecurity
assign = mic-ais
deadline = 1h
reminders = 30m

[rule infosec]
category = information-security
assign = mic-ais
deadline = 2h
reminders = 1h

[rule toxic]
category = toxic-information
assign = cpd
deadline = 3h
reminders = 1h
"""

    def test_queue(self):
        cats = ["toxic-information", "cybersecurity", "information-security",
                "cyber-defense", "cybersecurity", "information-security",
                "toxic-information", "cybersecurity"]
        agency = {"toxic-information": "cpd", "cybersecurity": "mic-ais",
                  "information-security": "mic-ais",
                  "cyber-defense": "mod-cmd86"}
        acks = [self.send(report(agency="mic", category=c, severity="low"))
                for c in cats]
        tids = ["T-%d" % a["seq"] for a in acks]
        self.expect(*[("task.created", agency[c], t)
                      for c, t in zip(cats, tids)])
        fast = tids[3]
        # close two: neither is listed any more
        self.send(command("complete", task=tids[6], reason="done"))
        self.expect(("task.closed", "cpd", tids[6]))
        self.send(command("cancel", task=tids[7], reason="no"))
        self.expect(("task.closed", "mic-ais", tids[7]))
        open_ = [t for t in tids if t not in (tids[6], tids[7])]

        before = time.time() * 1000
        q = self.env.queue()
        self.assertEqual(sorted(t["task"] for t in q), sorted(open_))
        keys = [(t["due_at"], t["task"]) for t in q]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(q[0]["task"], fast)
        self.assertEqual([t["task"] for t in q],
                         [fast, tids[1], tids[4], tids[2], tids[5], tids[0]])
        self.assertEqual(len(q), len(set(t["task"] for t in q)))
        self.assertTrue(all(t["state"] == "open" for t in q))
        due_fast = q[0]["due_at"]
        self.assertLess(before, due_fast + 10 * S)

        # filters, keeping the order
        self.assertEqual([t["task"] for t in
                          self.env.queue("--agency", "mic-ais")],
                         [tids[1], tids[4], tids[2], tids[5]])
        self.assertEqual([t["task"] for t in self.env.queue("--agency",
                                                            "cpd")],
                         [tids[0]])
        self.assertEqual(self.env.queue("--agency", "nobody"), [])
        self.assertEqual([t["task"] for t in self.env.queue(
            "--category", "information-security")], [tids[2], tids[5]])
        self.assertEqual([t["task"] for t in self.env.queue(
            "--agency", "mic-ais", "--category", "cybersecurity")],
            [tids[1], tids[4]])
        r = self.env.batonctl("queue", "--category", "weather")
        self.assertEqual(r.returncode, 2)

        # --overdue: nothing before the 1 s deadline, then only that one
        early = self.env.queue("--overdue")
        if time.time() * 1000 < due_fast:   # batonctl's now was earlier
            self.assertEqual(early, [])
        overdue = bt.wait_until(lambda: self.env.queue("--overdue"), 10,
                                interval=0.1, what="an overdue task")
        self.assertGreaterEqual(time.time() * 1000, due_fast)
        self.assertEqual([t["task"] for t in overdue], [fast])
        self.assertEqual(self.env.queue("--overdue", "--agency", "mic-ais"),
                         [])
        r = self.env.batonctl("queue", "--overdue")
        self.assertEqual(r.returncode, 0)
        self.assertIn(fast, r.out)
        self.assertIn("OVERDUE by", r.out)
        self.assertIn("1 open task\n", r.out)
        r = self.env.batonctl("queue")
        self.assertIn("%d open tasks\n" % len(open_), r.out)
        # overdue and then completed: off the queue
        self.send(command("complete", task=fast, reason="late but done"))
        self.expect(("task.closed", "mod-cmd86", fast))
        self.assertEqual(self.env.queue("--overdue"), [])


if __name__ == "__main__":
    bt.main()
