#!/usr/bin/python3
"""auth = curve: who may submit, speak for whom, command, subscribe.

Every test makes real CurveZMQ keys with `batonctl keygen` (the server's
pair and one per agency), writes an agencies.conf that registers some of
them with their roles, and starts baton-intake (and, where needed, the
router and baton-notify) with auth = curve on tcp://127.0.0.1. Clients
are pyzmq sockets with CURVE, as an agency's own software would be.

  keys         a registered key submits without an agency field and is
               logged as its agency; no CURVE at all, an unknown key, and
               a client with the wrong server key get no answer, nothing
               is stored, and intake logs each
  spoofing     an agency field naming another agency: forbidden; naming
               its own: accepted
  commands     a command from an agency's key: forbidden; batonctl
               complete over the operator key ([batonctl] key): accepted
               and applied by the router
  reload       a key taken out of agencies.conf and SIGHUP: the next
               connection with it gets nothing; a broken file keeps the
               keys in force
  rate         a flood from one agency is answered busy, another agency's
               reports go through meanwhile
  limits       a body longer than [intake] max_body: too_large
  feed         the feed takes the office's key and refuses an agency's
  bus          the daemons' own sockets over tcp://: CURVE with the
               daemons' key; intake, router, deadline and notify work
               together through it; a subscriber without CURVE or with an
               agency's key reads nothing, and the refusal is logged
  files        the ipc:// socket files are owner-only; --check refuses a
               server key file that others may read
  tamper       one byte of a stored record changed with a raw LMDB write:
               batonctl verify names that record
"""
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report, wait_until  # noqa: E402
import zmq  # noqa: E402

NO_ANSWER = 1.5     # seconds a refused client waits before we say "nothing"


def keygen(d, *args):
    r = subprocess.run([bt.BATONCTL_BIN, "keygen"] + list(args),
                       capture_output=True, text=True, cwd=d)
    if r.returncode != 0:
        raise AssertionError("keygen %s: %s%s" % (args, r.stdout, r.stderr))
    return r.stdout


class Keys:
    """A directory of keys: the server's and one per name."""

    def __init__(self, names):
        self.dir = bt.make_tmpdir("baton-keys-")
        keygen(self.dir, "--server", "--out", "server.key")
        self.server = os.path.join(self.dir, "server.key")
        self.server_pub = self.server + ".pub"
        self.public = {}
        for n in names:
            out = keygen(self.dir, n)
            self.public[n] = [ln.split("=", 1)[1].strip()
                              for ln in out.splitlines()
                              if ln.startswith("key = ")][0]

    def path(self, name):
        return os.path.join(self.dir, name + ".key")

    def curve(self, name):
        return (self.path(name), self.server_pub)


class SecurityTest(unittest.TestCase):
    roles = {"hanoi": "agency", "mic": "agency", "ops-duty": "operator",
             "office": "office"}

    def setUp(self):
        self.keys = Keys(list(self.roles) + ["stranger"])
        self.agencies = os.path.join(self.keys.dir, "agencies.conf")
        self.write_agencies(self.roles)
        self.env = None

    def tearDown(self):
        if self.env:
            self.env.close()

    def write_agencies(self, roles):
        with open(self.agencies, "w") as f:
            for name, role in roles.items():
                f.write("[agency %s]\nrole = %s\nkey = %s\n\n"
                        % (name, role, self.keys.public[name]))

    def start(self, intake=None, router=False, notify=False, bus="ipc",
              deadline=False):
        self.env = env = bt.BatonEnv(
            submit="tcp", agencies=self.agencies, bus=bus,
            baton={"auth": "curve", "server_key": self.keys.server,
                   "server_public": self.keys.server_pub},
            intake=intake, batonctl={"key": self.keys.path("ops-duty")})
        env.start_intake()
        if router:
            env.start_router()
        if deadline:
            env.start_deadline()
        if notify:
            env.start_notify()
        return env

    def client(self, name, **kw):
        return self.env.client(curve=self.keys.curve(name), **kw)

    def no_answer(self, client, body):
        client.send(body)
        self.assertIsNone(client.recv(NO_ANSWER), "a refused client got "
                          "an answer")

    def intake_log(self):
        return self.env.intake.output(200000)

    # -- tests

    def test_keys(self):
        env = self.start()
        a = self.client("hanoi").request(report(agency=bt.DROP))
        self.assertEqual(a["type"], "ack", a)
        log = env.log()
        self.assertEqual([r["agency"] for r in log], ["hanoi"])

        # No CURVE at all.
        plain = env.client()
        self.no_answer(plain, report(agency="hanoi"))
        wait_until(lambda: "failed the CURVE handshake" in self.intake_log(),
                   5, what="the failed handshake logged")
        # A key agencies.conf does not know.
        self.no_answer(self.client("stranger"), report(agency=bt.DROP))
        wait_until(lambda: self.keys.public["stranger"] in self.intake_log(),
                   5, what="the unknown key logged")
        # A registered key that takes another server key for ours.
        other = Keys([])
        wrong = env.client(curve=(self.keys.path("hanoi"), other.server_pub))
        self.no_answer(wrong, report(agency=bt.DROP))
        self.assertEqual(len(env.log()), 1)
        self.assertTrue(env.intake.running())

    def test_spoofing(self):
        env = self.start()
        c = self.client("mic")
        a = c.request(report(agency="hanoi"))
        self.assertEqual((a["type"], a["code"]), ("nack", "forbidden"), a)
        self.assertIn("mic", a["error"])
        a = c.request(report(agency="mic"))
        self.assertEqual(a["type"], "ack", a)
        self.assertEqual([r["agency"] for r in env.log()], ["mic"])
        self.assertIn("NACK_CODE=forbidden", self.intake_log())

    def test_commands(self):
        env = self.start(router=True)
        a = self.client("hanoi").request(report(agency=bt.DROP,
                                                severity="high"))
        task = "T-%d" % a["seq"]
        env.wait_task(task)
        a = self.client("hanoi").request(bt.command(op="complete", task=task,
                                                    agency=bt.DROP))
        self.assertEqual((a["type"], a["code"]), ("nack", "forbidden"), a)
        a = self.client("office").request(bt.command(op="cancel", task=task,
                                                     agency=bt.DROP))
        self.assertEqual((a["type"], a["code"]), ("nack", "forbidden"), a)
        self.assertEqual(len(env.log()), 1)
        r = env.batonctl("complete", task, "--reason", "closed by the duty "
                         "officer")
        self.assertEqual(r.returncode, 0, r.out + r.err)
        t = env.wait_task(task, lambda t: t["state"] == "done")
        self.assertEqual(t["history"][-1]["by"], "ops-duty")
        self.assertEqual(env.log()[-1]["agency"], "ops-duty")
        # batonctl submit --key speaks as the key's agency.
        r2 = subprocess.run([bt.BATONCTL_BIN, "-c", env.conf, "submit",
                             "--key", self.keys.path("hanoi"), "--kind",
                             "incident", "--category", "cybersecurity",
                             "--severity", "low", "--title", "by batonctl"],
                            capture_output=True, text=True)
        self.assertEqual(r2.returncode, 0, r2.stdout + r2.stderr)
        # env.log() waits only for its own clients' ACKs; this was
        # batonctl's, and the log has it at intake's next checkpoint.
        bt.wait_until(lambda: [r["agency"] for r in env.log()][-1:] ==
                      ["hanoi"], bt.LOG_TIMEOUT,
                      what="batonctl's report in the log as hanoi's")

    def test_reload(self):
        env = self.start()
        self.assertEqual(self.client("hanoi").request(
            report(agency=bt.DROP))["type"], "ack")
        # A broken file: the keys in force stay.
        with open(self.agencies, "a") as f:
            f.write("[agency broken]\nkey = not-a-key\n")
        env.intake.proc.send_signal(bt.signal.SIGHUP)
        wait_until(lambda: "keeping the agencies and keys in force" in
                   self.intake_log(), 5, what="the refusal logged")
        self.assertEqual(self.client("hanoi").request(
            report(agency=bt.DROP))["type"], "ack")
        # hanoi's key taken out: its next connection gets nothing.
        self.write_agencies({k: v for k, v in self.roles.items()
                             if k != "hanoi"})
        env.intake.proc.send_signal(bt.signal.SIGHUP)
        wait_until(lambda: "reloaded 3 agencies" in self.intake_log(), 5,
                   what="the reload logged")
        self.no_answer(self.client("hanoi"), report(agency=bt.DROP))
        self.assertEqual(self.client("mic").request(
            report(agency=bt.DROP))["type"], "ack")
        self.assertEqual([r["agency"] for r in env.log()],
                         ["hanoi", "hanoi", "mic"])

    def test_rate(self):
        env = self.start(intake={"rate": "20", "burst": "20"})
        flood = self.client("hanoi")
        n = 300
        for i in range(n):
            flood.send(report(agency=bt.DROP, id="flood-%d" % i))
        other = self.client("mic")
        a = other.request(report(agency=bt.DROP))
        self.assertEqual(a["type"], "ack", a)
        answers = [flood.recv(5) for _ in range(n)]
        self.assertNotIn(None, answers)
        busy = [a for a in answers if a["type"] == "nack"]
        acked = [a for a in answers if a["type"] == "ack"]
        self.assertTrue(busy, "no busy answer to a flood")
        self.assertEqual({a["code"] for a in busy}, {"busy"})
        self.assertLessEqual(len(acked), 20 + 20 * 2, len(acked))
        self.assertGreaterEqual(len(acked), 20)
        self.assertEqual(len(env.log()), len(acked) + 1)

    def test_limits(self):
        env = self.start(intake={"max_body": "1K"})
        c = self.client("hanoi")
        a = c.request(report(agency=bt.DROP, body="x" * 1025))
        self.assertEqual((a["type"], a["code"]), ("nack", "too_large"), a)
        a = c.request(report(agency=bt.DROP, body="x" * 1024))
        self.assertEqual(a["type"], "ack", a)

    def test_feed(self):
        env = self.start(router=True, notify=True)
        office = env.ctx.socket(zmq.SUB)
        bt.curve_client(office, *self.keys.curve("office"))
        office.setsockopt(zmq.SUBSCRIBE, b"alert.")
        office.connect(env.feed)
        agency = env.ctx.socket(zmq.SUB)
        bt.curve_client(agency, *self.keys.curve("hanoi"))
        agency.setsockopt(zmq.SUBSCRIBE, b"")
        agency.connect(env.feed)
        time.sleep(0.5)
        self.client("hanoi").request(report(agency=bt.DROP))
        self.assertTrue(office.poll(10000), "the office's key got nothing")
        topic, _ = office.recv_multipart()
        self.assertTrue(topic.startswith(b"alert.task-assigned."), topic)
        self.assertFalse(agency.poll(1000), "an agency key read the feed")
        wait_until(lambda: "is an agency key, of hanoi" in
                   env.notify.output(), 5, what="the refusal logged")
        # batonctl watch subscribes over the operator's key.
        r = env.batonctl("watch", "--count", "1", "--timeout", "3s")
        self.assertEqual(r.returncode, 0, r.err)
        office.close(0)
        agency.close(0)

    def test_bus(self):
        env = self.start(router=True, deadline=True, notify=True, bus="tcp")
        office = env.ctx.socket(zmq.SUB)
        bt.curve_client(office, *self.keys.curve("office"))
        office.setsockopt(zmq.SUBSCRIBE, b"alert.task-assigned.")
        office.connect(env.feed)
        plain = env.ctx.socket(zmq.SUB)
        plain.setsockopt(zmq.SUBSCRIBE, b"")
        plain.connect(env.publish)
        agency = env.ctx.socket(zmq.SUB)
        bt.curve_client(agency, *self.keys.curve("hanoi"))
        agency.setsockopt(zmq.SUBSCRIBE, b"")
        agency.connect(env.publish)
        time.sleep(0.5)
        a = self.client("hanoi").request(report(agency=bt.DROP))
        self.assertEqual(a["type"], "ack", a)
        # intake -> router -> notify, each hop over CURVE.
        env.wait_task("T-%d" % a["seq"])
        self.assertTrue(office.poll(10000), "nothing reached the feed")
        self.assertFalse(plain.poll(1500), "a plain SUB read intake's bus")
        self.assertFalse(agency.poll(500), "an agency key read the bus")
        wait_until(lambda: "key %s is not the daemons'"
                   % self.keys.public["hanoi"] in self.intake_log(), 5,
                   what="intake logging the agency key on its bus")
        for s in (office, plain, agency):
            s.close(0)

    def test_files(self):
        env = self.start()
        for ep in (env.publish, env.replay):
            mode = os.stat(ep[len("ipc://"):]).st_mode
            self.assertEqual(stat.S_IMODE(mode) & 0o077, 0, oct(mode))
        os.chmod(self.keys.server, 0o640)
        r = subprocess.run([bt.INTAKE_BIN, "-c", env.conf, "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("chmod 600", r.stderr)
        os.chmod(self.keys.server, 0o600)
        r = subprocess.run([bt.INTAKE_BIN, "-c", env.conf, "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_tamper(self):
        import lmdb
        env = self.start()
        c = self.client("hanoi")
        for i in range(5):
            self.assertEqual(c.request(report(agency=bt.DROP))["type"], "ack")
        env.intake.stop()
        self.assertIn("5 records, hash chain intact", env.verify())
        path = os.path.join(env.state_dir, "intake")
        db = lmdb.open(path, max_dbs=32, readonly=False, lock=True)
        events = db.open_db(b"bus.events", create=False)
        key = (3).to_bytes(8, "big")
        with db.begin(write=True, db=events) as t:
            rec = bytearray(t.get(key))
            rec[-1] ^= 0x01
            t.put(key, bytes(rec))
        db.close()
        r = env.batonctl("verify")
        self.assertEqual(r.returncode, 1, r.out + r.err)
        self.assertIn("record 3 breaks the hash chain", r.out)


if __name__ == "__main__":
    bt.main()
