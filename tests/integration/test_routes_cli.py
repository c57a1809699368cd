#!/usr/bin/python3
"""The routing rules from the command line: check, reload, test.

  check      `baton-router --check` names FILE:LINE and exits non-zero for
             each kind of mistake in a routes file, and says OK for a good
             one
  reload     SIGHUP with a broken routes file keeps the rules in force
             (later reports are still routed by them; the error is
             logged with file and line); SIGHUP with a fixed file applies
             the new rules to the reports after it, and only to them
  test       `batonctl routes test FILE.json` prints the rules a report
             matches (name, line, assignee, deadline) and exits 1 with a
             clear message for a report that is no incident or is invalid
"""
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report  # noqa: E402

GOOD = """\
[rule cyber]
category = cybersecurity
assign = agency-one
deadline = 24h
reminders = 2h
"""

# (routes.conf text, the line named, words the message must hold)
BROKEN = [
    ("[rule a]\ncategory = cybersecurity\ncolour = red\nassign = x\n",
     3, ["colour"]),
    ("[rule a]\ncategory = cybersecurity\n", 1, ["no assign"]),
    ("[rule a]\nassign = x\ndeadline = 3bd\n", 3, ["3bd"]),
    ("[rule a]\nassign = x\n\n[rule a]\nassign = y\n", 4, ["duplicate", "a"]),
    ("[rule a]\nassign = x\nseverity = huge\n", 3, ["huge"]),
    ("[rule a]\nassign = x\ndeadline = 2h\nreminders = 3h\n", 4,
     ["reminder", "3h"]),
    ("[rule a]\nassign = x\n[defaults]\ndeadline = 1h\n", 3, ["[defaults]"]),
    ("; a comment\n[rulea]\nassign = x\n", 2, ["rulea"]),
    ("[rule a]\nassign = x\nescalation = office@12h\n", 3, ["office@12h"]),
]


def router_check(conf):
    r = subprocess.run([bt.ROUTER_BIN, "-c", conf, "--check"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


class CheckTest(unittest.TestCase):

    def setUp(self):
        bt.check_binaries(bt.ROUTER_BIN)
        self.dir = bt.make_tmpdir()
        self.routes = os.path.join(self.dir, "routes.conf")
        self.env = bt.BatonEnv(routes=self.routes)

    def tearDown(self):
        self.env.close()

    def write(self, text):
        with open(self.routes, "w") as f:
            f.write(text)

    def test_good(self):
        self.write(GOOD)
        rc, out, err = router_check(self.env.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: OK, 1 rules" % self.routes, out)
        # and the bundled file
        bundled = bt.BatonEnv()
        try:
            rc, out, err = router_check(bundled.conf)
        finally:
            bundled.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: OK, 10 rules" % bt.BUNDLED_ROUTES, out)

    def test_broken(self):
        for text, line, words in BROKEN:
            with self.subTest(text=text):
                self.write(text)
                rc, out, err = router_check(self.env.conf)
                self.assertNotEqual(rc, 0, out)
                self.assertNotIn("OK", out)
                first = err.splitlines()[0] if err else ""
                self.assertRegex(first, "^%s:%d: \\S"
                                 % (re.escape(self.routes), line))
                for w in words:
                    self.assertIn(w, first)

    def test_missing(self):
        rc, out, err = router_check(self.env.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(self.routes, err)
        self.assertIn("No such file", err)


class ReloadTest(unittest.TestCase):

    def setUp(self):
        self.dir = bt.make_tmpdir()
        self.routes = os.path.join(self.dir, "routes.conf")
        self.write(GOOD)
        self.env = bt.BatonEnv(routes=self.routes)
        self.env.start_intake()
        self.env.start_router()
        self.client = self.env.client()

    def tearDown(self):
        try:
            if self.env.router.running():
                self.env.router.stop()
        finally:
            self.env.close()

    def write(self, text):
        tmp = self.routes + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.routes)

    def incident(self):
        a = self.client.request(report(agency="mic",
                                       category="cybersecurity"))
        self.assertEqual(a["type"], "ack")
        tid = "T-%d" % a["seq"]
        return self.env.wait_task(tid)

    def hup(self, expect):
        """SIGHUP; wait until the router's log says expect (once more
        than before)."""
        before = self.env.router.output(tail=10 ** 7).count(expect)
        self.env.router.proc.send_signal(signal.SIGHUP)
        bt.wait_until(lambda: self.env.router.output(tail=10 ** 7)
                      .count(expect) > before, 10, interval=0.05,
                      what="'%s' in the router's log" % expect)

    def test_reload(self):
        pid = self.env.router.pid
        t1 = self.incident()
        self.assertEqual((t1["agency"], t1["rule"]), ("agency-one", "cyber"))

        # broken: the old rules stay
        self.write(GOOD.replace("assign", "asign"))
        self.hup("keeping the 1 rules and the calendar in force")
        log = self.env.router.output()
        self.assertRegex(log, "%s:3: [^\n]*asign" % re.escape(self.routes))
        t2 = self.incident()
        self.assertEqual((t2["agency"], t2["rule"]), ("agency-one", "cyber"))
        self.assertEqual(t2["due_at"] - t2["created_at"], 24 * 3600 * 1000)

        # fixed, with other rules: applied to later reports
        self.write(GOOD.replace("agency-one", "agency-two")
                   .replace("[rule cyber]", "[rule cyber-2]")
                   .replace("24h", "12h"))
        self.hup("reloaded 1 rules and 0 schedules from %s" % self.routes)
        t3 = self.incident()
        self.assertEqual((t3["agency"], t3["rule"]),
                         ("agency-two", "cyber-2"))
        self.assertEqual(t3["due_at"] - t3["created_at"], 12 * 3600 * 1000)
        # and not to the tasks already made
        for t in (t1, t2):
            self.assertEqual(self.env.task(t["task"]), t)
        self.assertEqual(self.env.router.pid, pid)
        self.assertTrue(self.env.router.running())

        # a deleted file: kept as well
        os.unlink(self.routes)
        self.hup("keeping the 1 rules and the calendar in force")
        t4 = self.incident()
        self.assertEqual(t4["agency"], "agency-two")


class RoutesTestTest(unittest.TestCase):
    """`batonctl routes test` against the bundled rules."""

    def setUp(self):
        self.env = bt.BatonEnv()
        with open(bt.BUNDLED_ROUTES) as f:
            self.lines = {m.group(1): i for i, l in enumerate(f, 1)
                          for m in [re.match(r"\[rule (\S+)\]", l)] if m}

    def tearDown(self):
        self.env.close()

    def run_test(self, text, name="r.json"):
        path = self.env.write_file(name, text)
        return self.env.batonctl("routes", "test", path), path

    def rule_line(self, i, name, cont=False):
        return "%d. rule %s (line %d)%s\n" % (i, name, self.lines[name],
                                              ", continue" if cont else "")

    def test_critical(self):
        r, _ = self.run_test('{"agency": "mic", "category": "cybersecurity",'
                             ' "severity": "critical", "title": "KIS down"}')
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("matches 1 rule of %s:\n" % bt.BUNDLED_ROUTES, r.out)
        self.assertIn(self.rule_line(1, "critical-cyber-incidents"), r.out)
        self.assertIn("   assign to   mps-a05\n", r.out)
        self.assertIn("   deadline    1d after acceptance\n", r.out)
        self.assertIn("   reminders   12h before 2h before\n", r.out)
        self.assertIn("   escalation  mps-a05 at +0s, office at +12h, "
                      "committee at +2d\n", r.out)
        self.assertIn("   notify      mic\n", r.out)
        self.assertNotIn("2. rule", r.out)

    def test_continue(self):
        r, _ = self.run_test('{"agency": "mic", "category": '
                             '"information-security", "severity": "low", '
                             '"locality": "HN", "title": "leak"}')
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("matches 2 rules", r.out)
        self.assertIn(self.rule_line(1, "infosec-hanoi", cont=True), r.out)
        self.assertIn(self.rule_line(2, "infosec"), r.out)
        self.assertEqual(re.findall(r"assign to   (\S+)", r.out),
                         ["hanoi-pc", "mic-ais"])

    def test_drill(self):
        r, _ = self.run_test('{"agency": "mic", "category": '
                             '"toxic-information", "severity": "low", '
                             '"title": "exercise", "drill": true}')
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn(self.rule_line(1, "drill-evaluation", cont=True), r.out)
        self.assertIn(self.rule_line(2, "toxic-information"), r.out)
        self.assertEqual(re.findall(r"assign to   (\S+)", r.out),
                         ["office", "cpd"])
        self.assertIn("   deadline    1w after acceptance\n", r.out)

    def test_stdin(self):
        r = subprocess.run(
            [bt.BATONCTL_BIN, "-c", self.env.conf, "routes", "test", "-"],
            input=b'{"agency": "mod", "category": "cyber-defense", '
                  b'"severity": "high", "title": "t"}',
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.rule_line(1, "cyber-defense-urgent"),
                      r.stdout.decode())

    def test_refused(self):
        cases = [
            # (file text, words stderr must hold)
            ('{"agency": "mps-a05", "kind": "progress", "task": "T-1", '
             '"category": "cybersecurity", "title": "t"}',
             ["only incident reports are routed"]),
            ('{"agency": "mic", "kind": "periodic", "period": "2026-Q3", '
             '"category": "cybersecurity", "title": "t"}',
             ["only incident reports are routed"]),
            ('{"agency": "mic", "category": "cybersecurity", '
             '"severity": "huge", "title": "t"}',
             ["intake would refuse it", "invalid", "severity"]),
            ('{"agency": "mic", "category": "weather", "severity": "low", '
             '"title": "t"}', ["intake would refuse it", "category"]),
            ('{"agency": "mic", "category": "cybersecurity", "title": "t"}',
             ["intake would refuse it", "severity"]),
            ('{"agency": "mic", "category": "cybersecurity", '
             '"severity": "low", "title": "t", "colour": "red"}',
             ["intake would refuse it", "colour"]),
            ('{"category": "cybersecurity", "severity": "low", "title": "t"}',
             ["agency"]),
            ('{"agency": "mic", "category": "cybersecurity", '
             '"severity": "low", "title": "t", "tags": ["a"]}',
             ["tags", "strings, integers and booleans"]),
            ('{"agency": "mic",\n "category": cybersecurity}', [":2:"]),
            ('["a", "list"]', ["expected a JSON object"]),
            ('', []),
        ]
        for text, words in cases:
            with self.subTest(text=text):
                r, path = self.run_test(text)
                self.assertEqual(r.returncode, 1, r.out + r.err)
                self.assertEqual(r.out, "")
                # the file, or the key in it that is wrong
                self.assertRegex(r.err, "^batonctl: (%s|tags)[:]"
                                 % re.escape(path))
                for w in words:
                    self.assertIn(w, r.err)
        r = self.env.batonctl("routes", "test",
                              os.path.join(self.env.dir, "missing.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.json", r.err)
        r = self.env.batonctl("routes", "check")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    bt.main()
