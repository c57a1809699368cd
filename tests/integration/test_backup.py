#!/usr/bin/python3
"""batonctl backup: every store copied live, each a usable snapshot.

intake and the router run and take reports while `batonctl backup DIR`
copies their stores; a configuration whose state_dir is DIR then reads the
copies with batonctl as it reads the live stores: the log verifies, and
holds at least what was acknowledged before the copy began; the router's
copy knows the tasks made from it. A second backup into the same directory
is refused and changes nothing; stores of daemons that never ran are
skipped, not errors.
"""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report  # noqa: E402


class BackupTest(unittest.TestCase):

    def setUp(self):
        self.env = bt.BatonEnv()
        self.env.start_intake()
        self.env.start_router()

    def tearDown(self):
        self.env.close()

    def test_backup_while_running(self):
        env = self.env
        c = env.client()
        before = bt.submit_many(c, [report(severity="high")
                                    for _ in range(300)])
        env.wait_task("T-%d" % before[-1]["seq"])
        more = []
        t = threading.Thread(target=lambda: more.extend(bt.submit_many(
            env.client(), [report() for _ in range(1000)])))
        t.start()
        dest = os.path.join(env.dir, "backup")
        r = env.batonctl("backup", dest)
        t.join(30)
        self.assertEqual(r.returncode, 0, r.out + r.err)
        self.assertIn("deadline no store (not run yet): skipped", r.out)
        self.assertIn("2 stores copied", r.out)
        self.assertEqual(len(more), 1000)

        conf = os.path.join(env.dir, "restored.conf")
        with open(env.conf) as f, open(conf, "w") as out:
            for line in f:
                if line.startswith("state_dir ="):
                    line = "state_dir = %s\n" % dest
                out.write(line)
        v = bt.subprocess.run([bt.BATONCTL_BIN, "-c", conf, "verify"],
                              capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        n = int(v.stdout.split(": ")[1].split(" records")[0])
        self.assertGreaterEqual(n, 300)
        self.assertLessEqual(n, 1300)
        q = bt.subprocess.run([bt.BATONCTL_BIN, "-c", conf, "task",
                               "T-%d" % before[-1]["seq"]],
                              capture_output=True, text=True)
        self.assertEqual(q.returncode, 0, q.stdout + q.stderr)

        again = env.batonctl("backup", dest)
        self.assertEqual(again.returncode, 1)
        self.assertIn("File exists", again.err)
        v2 = bt.subprocess.run([bt.BATONCTL_BIN, "-c", conf, "verify"],
                               capture_output=True, text=True)
        self.assertEqual(v2.stdout, v.stdout)

    def test_usage(self):
        for args in (["backup"], ["backup", "a", "b"], ["backup", "--x"]):
            r = self.env.batonctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.out, r.err))
            self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)


if __name__ == "__main__":
    bt.main()
