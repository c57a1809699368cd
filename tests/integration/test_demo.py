#!/usr/bin/python3
"""make demo, as a new user runs it: tools/demo.sh on this build.

The demo starts the four daemons on the bundled config/ with keys it makes,
plays the scenario and stops everything. This checks what its output must
show: every agency's report accepted, the spoofed one forbidden, the
critical incident's reminders, overdue alert and escalations on the feed
(batonctl watch), in the mail sink and at the webhook receiver with good
signatures, the refused progress report told to the office, the hash
chain verified, the drill situation report one unit did not send found
missing, and nothing left running. Run in the plain build only
(tests/CMakeLists.txt): its time is the scenario's clock, not the code's.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402


class DemoTest(unittest.TestCase):

    def test_demo(self):
        r = subprocess.run([os.path.join(bt.SOURCE, "tools", "demo.sh"),
                            bt.BUILD], capture_output=True, text=True,
                           timeout=180)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out[-4000:])
        for want in [
                "accepted: mic-2026-0412 as seq 1",
                "already accepted: mic-2026-0412",
                "refused (forbidden): agency: this key is hanoi's",
                "refused (invalid): severity: required",
                "[feed]",
                "task-assigned  to mps-a05    T-1/1/assigned",
                "reminder       to mps-a05    T-1/1/reminder-1",
                "overdue        to mps-a05    T-1/1/overdue",
                "escalation     to office     T-1/1/escalation-2",
                "refused        to office     T-1/refused/",
                "[smtp] to duty@office.baton.example",
                "Escalation 2 to office: task T-1 is overdue",
                "[webhook] /hooks/mps-a05 overdue T-1/1/overdue "
                "(signature ok)",
                "missing-report to office     P-drill-sitrep-hcm-",
                "Missing report: hcm has not reported",
                "intake log verified: 11 records, hash chain intact",
                "all stopped; demo state removed"]:
            self.assertIn(want, out)
        self.assertNotIn("signature BAD", out)
        self.assertNotIn("T-4/1/overdue", out)     # completed: nothing
        # Obligations are opened by the clock: no "New task" for them.
        self.assertNotIn("New task P-", out)
        self.assertIsNone(re.search(r"task-assigned +to \S+ +P-", out))
        self.assertIn("task-assigned  to mic", out)     # others still are
        # The units that sent their situation reports are not missing.
        self.assertNotIn("P-drill-sitrep-mps-a05-", out.split(
            "batonctl alerts")[1])
        self.assertNotIn("P-drill-sitrep-mod-cmd86-", out.split(
            "batonctl alerts")[1])
        self.assertIn(" 0 dead", out)
        left = subprocess.run(["pgrep", "-f", "baton-demo"],
                              capture_output=True, text=True)
        self.assertEqual(left.stdout, "", "demo processes left running")


if __name__ == "__main__":
    bt.main()
