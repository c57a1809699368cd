#!/usr/bin/python3
"""baton-notify against the real daemons and real servers.

Every test starts intake, the router (with a routes file of its own whose
deadlines are seconds long), baton-deadline and baton-notify, with an
agencies file pointing at real receivers on 127.0.0.1: an SMTP server
(Debian's python3-aiosmtpd) and an HTTP receiver (the standard library's),
both from sinks.py, and SUB sockets on the office alert feed.

  channels     one critical incident, its task-assigned, reminder, overdue
               and escalation alerts: the SMTP server gets exactly the
               expected messages (recipients, Message-ID from the delivery
               id, subject, a body naming task and deadline); the webhook
               gets each alert once, signed (HMAC-SHA256 with the agency's
               secret), with Idempotency-Key = alert id; a feed subscriber
               with a prefix gets only its alerts; an agency with feed = no
               has none; every alert has its journal entry; batonctl
               deliveries shows every row sent
  backoff      a webhook answering 503: attempts with growing gaps, then a
               200: sent, once; a webhook that keeps failing: dead after
               max_attempts, listed by batonctl deliveries --state dead;
               batonctl retry (an operator command through intake, in its
               log) brings it back and it is delivered; a 401 is dead at
               once
  restart      baton-notify stopped while a delivery is retrying: after
               the restart it is still there and is delivered; nothing
               recorded sent is sent again by a clean restart
  slow         a webhook that never answers (12 alerts, more than its 8
               slots, of 10 in all): another agency's webhook, the feed
               and the mail are delivered at once all the same
  breaker      a receiver failing for 8 deliveries: its breaker opens
               (logged), and when it answers again all 8 go, once each
  reload       a broken agencies.conf: --check names its line, SIGHUP
               keeps the set in force; a good one applies to what comes
               next
  starttls     a mail server that requires STARTTLS, its certificate made
               by openssl: trusted through [notify] ca, the mail goes over
               TLS; without ca, nothing is sent and the delivery is dead
               with a certificate error
  refusal      a completion of an unknown task: the office is told
               (alert.refused.office, email)
  catch-up     1,200 tasks made while baton-notify is down (more than the
               1,000-message ZeroMQ queue), taken in from the router's
               replay: each task-assigned alert on the feed once
  usage        batonctl retry and deliveries refuse bad arguments with one
               line and exit 2; retry of a delivery that is not dead, or
               unknown, exits 1 and changes nothing
"""
import json
import logging
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import report, wait_until  # noqa: E402
from sinks import (SmtpSink, HttpSink, signature_ok, body_json,  # noqa: E402
                   tls_certificate)
import zmq  # noqa: E402

SECRET = "test-secret-0123456789"

FAST_ROUTES = """\
[defaults]
office = office
deadline = 72h
reminders = 24h
escalation = office@+0

[rule fast]
category = cybersecurity
assign = mps-a05
deadline = 3s
reminders = 2s
escalation = office@+1s
notify = mic

[rule slow]
category = information-security
assign = mic-ais
deadline = 72h
reminders = 24h
escalation = office@+0
"""


def agencies_text(webhook_url, ais_url=None):
    text = """\
[agency mps-a05]
name = Department A05
email = duty@a05.example, lead@a05.example
webhook = %s
webhook_secret = %s

[agency mic]
name = Ministry of Information and Communications
email = mic@mic.example
feed = no

[agency office]
name = Steering Committee Office
email = office@office.example

[agency hanoi]
email = hanoi@hanoi.example
""" % (webhook_url, SECRET)
    if ais_url:
        text += """
[agency mic-ais]
webhook = %s
webhook_secret = %s
""" % (ais_url, SECRET)
    return text


class Feed:
    """A SUB socket on the feed with the given prefixes; every message as
    (topic, body)."""

    def __init__(self, env, *prefixes):
        self.sock = env.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.connect(env.feed)
        for p in prefixes or ("alert.",):
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.got = []

    def drain(self, timeout=0.2):
        while self.sock.poll(int(timeout * 1000)):
            topic, body = self.sock.recv_multipart()
            self.got.append((topic.decode(), bt.unpack(body)))
            timeout = 0.05
        return self.got

    def wait_for(self, count, timeout=15.0):
        return wait_until(lambda: len(self.drain()) >= count and self.got,
                          timeout, what="%d alerts on the feed" % count)

    def close(self):
        self.sock.close(0)


class NotifyTest(unittest.TestCase):

    def setUp(self):
        self.smtp = SmtpSink()
        self.http = HttpSink()
        self.ais = HttpSink()
        self.feeds = []
        self.env = None

    def tearDown(self):
        for f in self.feeds:
            f.close()
        if self.env:
            self.env.close()
        self.smtp.close()
        self.http.close()
        self.ais.close()

    def start(self, routes=FAST_ROUTES, agencies=True, **notify):
        """Write the routes and agencies files, start the four daemons."""
        d = bt.make_tmpdir("baton-notify-files-")
        routes_path = os.path.join(d, "routes.conf")
        with open(routes_path, "w") as f:
            f.write(routes)
        agencies_path = None
        if agencies:
            agencies_path = os.path.join(d, "agencies.conf")
            with open(agencies_path, "w") as f:
                f.write(agencies_text(self.http.url("/hooks/mps-a05"),
                                      self.ais.url("/hooks/mic-ais")))
        conf = {"smtp": self.smtp.url, "smtp_starttls": "no",
                "retry_min": "200ms", "retry_max": "800ms",
                "max_attempts": "4", "timeout": "3s"}
        conf.update(notify)
        self.env = env = bt.BatonEnv(routes=routes_path,
                                     agencies=agencies_path, notify=conf)
        env.start_intake()
        env.start_router()
        env.start_deadline()
        env.start_notify()
        return env

    def feed(self, *prefixes):
        f = Feed(self.env, *prefixes)
        self.feeds.append(f)
        return f

    def deliveries(self, *args):
        r = self.env.batonctl("deliveries", "--json", *args)
        self.assertEqual(r.returncode, 0, r.err)
        return [json.loads(ln) for ln in r.out.splitlines() if ln.strip()]

    def wait_delivery(self, delivery, state, timeout=15.0):
        def ready():
            rows = [d for d in self.deliveries() if d["delivery"] == delivery]
            return rows[0] if rows and rows[0]["state"] == state else None
        try:
            return wait_until(ready, timeout, interval=0.1,
                              what="delivery %s %s" % (delivery, state))
        except AssertionError:
            rows = [d for d in self.deliveries() if d["delivery"] == delivery]
            raise AssertionError("delivery %s never %s: %r\n%s" % (
                delivery, state, rows, self.env.notify.output(3000)))

    def submit(self, **fields):
        c = self.env.client()
        a = c.request(report(**fields))
        self.assertEqual(a["type"], "ack", a)
        return a

    # -- tests

    def test_channels(self):
        env = self.start()
        every = self.feed()
        mine = self.feed("alert.reminder.mps-a05")
        office = self.feed("alert.escalation.office")
        time.sleep(0.5)     # the SUB sockets are connected
        self.submit(agency="hanoi", category="cybersecurity",
                    severity="critical", title="Tấn công mã hóa dữ liệu")

        # task-assigned, reminder-1, overdue, escalation-1.
        ids = ["T-1/1/assigned", "T-1/1/reminder-1", "T-1/1/overdue",
               "T-1/1/escalation-1"]
        hooks = self.http.wait_for(4, timeout=20)
        time.sleep(0.5)
        self.assertEqual(len(self.http.received()), 4)
        self.assertEqual(sorted(r["headers"]["Idempotency-Key"]
                                for r in hooks), sorted(ids))
        for r in hooks:
            self.assertTrue(signature_ok(r, SECRET), r["headers"])
            self.assertEqual(r["path"], "/hooks/mps-a05")
            b = body_json(r)
            self.assertEqual(b["alert_id"], r["headers"]["Idempotency-Key"])
            self.assertEqual(b["task"], "T-1")
            self.assertEqual(b["agency"], "mps-a05")
            self.assertEqual(b["recipient"], "mps-a05")

        # Email: A05 for each alert, mic for assigned and overdue (the
        # rule's notify list), the office for the escalation.
        want = {
            ("T-1/1/assigned", "mps-a05"), ("T-1/1/assigned", "mic"),
            ("T-1/1/reminder-1", "mps-a05"),
            ("T-1/1/overdue", "mps-a05"), ("T-1/1/overdue", "mic"),
            ("T-1/1/escalation-1", "mps-a05"),
            ("T-1/1/escalation-1", "office"),
        }
        rcpts = {"mps-a05": ["duty@a05.example", "lead@a05.example"],
                 "mic": ["mic@mic.example"],
                 "office": ["office@office.example"]}
        msgs = self.smtp.wait_for(len(want), timeout=20)
        time.sleep(0.5)
        msgs = self.smtp.received()
        self.assertEqual(len(msgs), len(want))
        got = set()
        for m in msgs:
            mid = m["message_id"]
            alert = m["message"]["X-Baton-Alert"]
            agency = [a for a, r in rcpts.items() if r == m["to"]]
            self.assertEqual(len(agency), 1, m["to"])
            got.add((alert, agency[0]))
            local = "%s=3A%s=3Aemail" % (alert, agency[0])
            self.assertTrue(mid.startswith("<" + local + "@"), mid)
            self.assertIn("Tấn công mã hóa dữ liệu", m["subject"])
            self.assertIn("T-1", m["body"])
            self.assertIn("batonctl task T-1", m["body"])
            self.assertIn("Due:", m["body"])
        self.assertEqual(got, want)
        self.assertEqual(len({m["message_id"] for m in msgs}), len(msgs))

        # The feed: every alert per recipient that takes it; mic does not.
        every.drain(0.5)
        topics = sorted(t for t, _ in every.got)
        self.assertEqual(topics, sorted([
            "alert.task-assigned.mps-a05", "alert.reminder.mps-a05",
            "alert.overdue.mps-a05", "alert.escalation.mps-a05",
            "alert.escalation.office"]))
        for t, b in every.got:
            self.assertEqual(b["task"], "T-1")
            self.assertEqual(b["agency"], "mps-a05")
            self.assertEqual(t.split(".")[1], b["kind"])
        self.assertEqual([(t, b["alert_id"]) for t, b in mine.drain()],
                         [("alert.reminder.mps-a05", "T-1/1/reminder-1")])
        self.assertEqual([(t, b["alert_id"]) for t, b in office.drain()],
                         [("alert.escalation.office", "T-1/1/escalation-1")])

        rows = self.deliveries()
        self.assertTrue(rows)
        self.assertEqual({r["state"] for r in rows}, {"sent"}, rows)
        self.assertEqual(len([r for r in rows if r["channel"] == "journal"]),
                         4)
        out = env.notify.output(tail=200000)
        for i in ids:
            self.assertIn("ALERT_ID=%s TASK_ID=T-1 AGENCY=mps-a05" % i, out)
        r = env.batonctl("deliveries", "--state", "sent", "--agency", "mic")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("T-1/1/overdue:mic:email", r.out)
        self.assertNotIn("mps-a05", r.out)

    def test_backoff_dead_and_retry(self):
        # The slow rule: no reminder comes to add attempts of its own.
        env = self.start()
        self.ais.status = 503
        self.submit(agency="hanoi", category="information-security",
                    title="backoff")
        hook = "T-1/1/assigned:mic-ais:webhook"
        # Three failures, then the receiver recovers: sent on the fourth.
        self.ais.wait_for(3, timeout=15)
        self.ais.status = 200
        row = self.wait_delivery(hook, "sent")
        self.assertEqual(row["attempts"], 4)
        reqs = self.ais.received()
        self.assertEqual([r["headers"]["Idempotency-Key"] for r in reqs],
                         ["T-1/1/assigned"] * 4)
        self.assertEqual([r["status"] for r in reqs], [503, 503, 503, 200])
        gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
        # retry_min 200ms doubling, half of it jitter: gap 3 > gap 1.
        self.assertGreater(gaps[2], gaps[0], gaps)
        self.assertGreaterEqual(gaps[0], 0.09, gaps)

        # A receiver that keeps failing: dead after 4 attempts.
        self.ais.status = 503
        self.submit(agency="hanoi", category="information-security",
                    title="leak")
        dead = "T-2/1/assigned:mic-ais:webhook"
        row = self.wait_delivery(dead, "dead", timeout=20)
        self.assertEqual(row["attempts"], 4)
        self.assertIn("503", row["error"])
        self.assertEqual(len(self.ais.received()), 8)
        r = env.batonctl("deliveries", "--state", "dead")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn(dead, r.out)
        self.assertIn("1 dead", r.out)

        # The operator's retry goes through intake and revives it.
        self.ais.status = 200
        r = env.batonctl("retry", dead, "--reason", "receiver fixed")
        self.assertEqual(r.returncode, 0, r.out + r.err)
        row = self.wait_delivery(dead, "sent")
        self.assertEqual(len(self.ais.received()), 9)
        log = env.log()
        cmds = [x for x in log if x.get("op") == "retry"]
        self.assertEqual(len(cmds), 1, log)
        self.assertEqual(cmds[0]["delivery"], dead)
        self.assertEqual(cmds[0]["reason"], "receiver fixed")

        # A 401 will not change by itself: dead after one attempt.
        self.ais.status = 401
        a = self.submit(agency="hanoi", category="information-security",
                        title="another leak")
        # A task's id is its report's intake seq: the retry took seq 3.
        row = self.wait_delivery("T-%d/1/assigned:mic-ais:webhook"
                                 % a["seq"], "dead")
        self.assertEqual(row["attempts"], 1)
        self.assertIn("401", row["error"])

    def test_starttls(self):
        # A mail server that requires STARTTLS, with a certificate of its
        # own CA: trusted through [notify] ca, the mail goes over TLS.
        ctx, cert = tls_certificate(bt.make_tmpdir("baton-tls-"))
        tls = SmtpSink(tls=ctx)
        self.addCleanup(tls.close)
        self.start(smtp=tls.url, smtp_starttls="yes", ca=cert)
        self.submit(agency="hanoi", category="cybersecurity",
                    title="over TLS")
        self.wait_delivery("T-1/1/assigned:mps-a05:email", "sent")
        got = tls.wait_for(1)
        self.assertTrue(all(m["tls"] for m in got), got)
        self.assertIn("over TLS", got[0]["subject"])

    def test_starttls_untrusted(self):
        # The same server without its CA: no mail goes out in the clear
        # or to an unverified server, and the delivery says why.
        ctx, _ = tls_certificate(bt.make_tmpdir("baton-tls-"))
        # aiosmtpd logs the handshake curl rightly breaks off: expected.
        quiet = logging.getLogger("mail.log")
        self.addCleanup(quiet.setLevel, quiet.level)
        quiet.setLevel(logging.CRITICAL)
        tls = SmtpSink(tls=ctx)
        self.addCleanup(tls.close)
        self.start(smtp=tls.url, smtp_starttls="yes")
        self.submit(agency="hanoi", category="cybersecurity",
                    title="not over an unverified TLS")
        row = self.wait_delivery("T-1/1/assigned:mps-a05:email", "dead",
                                 timeout=20)
        self.assertIn("certificate", row["error"].lower())
        self.assertEqual(tls.received(), [])
        # A ca file that cannot be read is refused at once, not found out
        # by every attempt failing.
        missing = os.path.join(self.env.dir, "no-such-ca.pem")
        with open(self.env.conf) as f:
            text = f.read()
        self.assertIn("[notify]\n", text)
        with open(self.env.conf, "w") as f:
            f.write(text.replace("[notify]\n",
                                 "[notify]\nca = %s\n" % missing, 1))
        r = bt.subprocess.run([bt.NOTIFY_BIN, "-c", self.env.conf,
                               "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("[notify] ca %s: No such file" % missing, r.stderr)

    def test_restart_mid_retry(self):
        env = self.start()
        self.ais.status = 503
        self.submit(agency="hanoi", category="information-security",
                    title="restart")
        hook = "T-1/1/assigned:mic-ais:webhook"
        self.ais.wait_for(1)
        self.wait_delivery(hook, "retrying")
        env.notify.stop()
        rows = {d["delivery"]: d for d in self.deliveries()}
        self.assertEqual(rows[hook]["state"], "retrying")
        self.assertEqual(rows["T-1/1/assigned:mic-ais:feed"]["state"],
                         "sent")
        self.ais.status = 200
        before = len(self.ais.received())
        env.start_notify()
        self.wait_delivery(hook, "sent")
        self.assertEqual(len(self.ais.received()), before + 1)
        # Nothing recorded sent is sent again by a clean restart.
        f = self.feed()
        env.notify.stop()
        env.start_notify()
        time.sleep(1.0)
        self.assertEqual(len(self.ais.received()), before + 1)
        self.assertEqual(f.drain(), [])
        self.assertEqual({d["state"] for d in self.deliveries()}, {"sent"})

    def test_slow_webhook(self):
        # mic-ais's receiver accepts connections and never answers.
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        self.ais.stop()
        self.ais.port = hole.getsockname()[1]
        try:
            # 10 slots: without the cap of 8 per destination, mic-ais
            # would take them all.
            env = self.start(timeout="5s", max_inflight="10")
            f = self.feed("alert.task-assigned.")
            time.sleep(0.5)
            for i in range(12):     # more than mic-ais's 8 slots
                self.submit(agency="hanoi", category="information-security",
                            title="stuck %d" % i)
            t0 = time.monotonic()
            self.submit(agency="hanoi", category="cybersecurity",
                        severity="high", title="urgent")
            # A05's webhook, the feed and the mail do not wait for mic-ais.
            self.http.wait_for(1, timeout=3)
            self.assertLess(time.monotonic() - t0, 2.0)
            f.wait_for(12 + 1, timeout=3)
            self.smtp.wait_for(2, timeout=3)        # A05 and mic
            rows = self.deliveries("--agency", "mic-ais")
            hooks = [r for r in rows if r["channel"] == "webhook"]
            self.assertEqual(len(hooks), 12)
            self.assertTrue(all(r["state"] == "pending" for r in hooks),
                            hooks)
        finally:
            hole.close()

    def test_breaker(self):
        env = self.start(max_attempts="50")
        self.ais.status = 503
        for i in range(8):
            self.submit(agency="hanoi", category="information-security",
                        title="breaker %d" % i)
        wait_until(lambda: "failed 5 times in a row: no attempts to it"
                   in env.notify.output(), 10, what="the breaker opening")
        self.ais.status = 200
        wait_until(lambda: len([d for d in self.deliveries("--agency",
                                                           "mic-ais")
                                if d["channel"] == "webhook" and
                                d["state"] == "sent"]) == 8, 20,
                   what="8 webhooks sent after the receiver recovered")
        self.assertIn("answers again: its deliveries resume",
                      env.notify.output())
        ok = [r for r in self.ais.received() if r["status"] == 200]
        self.assertEqual(len(ok), 8)
        self.assertEqual(len({r["headers"]["Idempotency-Key"] for r in ok}),
                         8)

    def test_reload_and_check(self):
        env = self.start()
        path = [ln.split("=", 1)[1].strip() for ln in open(env.conf)
                if ln.startswith("agencies =")][0]
        good = open(path).read()

        # A mistake: --check names the file and line; SIGHUP keeps the set.
        with open(path, "w") as f:
            f.write(good + "\n[agency broken]\nemail = not-an-address\n")
        bad_line = good.count("\n") + 3
        r = bt.subprocess.run([bt.NOTIFY_BIN, "-c", env.conf, "--check"],
                              capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:%d:" % (path, bad_line), r.stderr)
        env.notify.proc.send_signal(bt.signal.SIGHUP)
        wait_until(lambda: "keeping the agencies in force"
                   in env.notify.output(), 5, what="the refusal logged")
        self.submit(agency="hanoi", category="information-security",
                    title="before")
        self.ais.wait_for(1)

        # A good file: mic-ais loses its webhook and gains an address.
        with open(path, "w") as f:
            f.write(agencies_text(self.http.url("/hooks/mps-a05")) +
                    "\n[agency mic-ais]\nemail = ais@ais.example\n")
        r = bt.subprocess.run([bt.NOTIFY_BIN, "-c", env.conf, "--check"],
                              capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        env.notify.proc.send_signal(bt.signal.SIGHUP)
        wait_until(lambda: "reloaded 5 agencies" in env.notify.output(), 5,
                   what="the reload logged")
        a = self.submit(agency="hanoi", category="information-security",
                        title="after")
        msgs = self.smtp.wait_for(1)
        self.assertEqual(msgs[-1]["to"], ["ais@ais.example"])
        self.assertIn("T-%d/1/assigned" % a["seq"],
                      msgs[-1]["message"]["X-Baton-Alert"])
        time.sleep(0.5)
        self.assertEqual(len(self.ais.received()), 1)
        self.assertTrue(env.notify.running())

    def test_refusal(self):
        env = self.start()
        f = self.feed("alert.refused.")
        time.sleep(0.5)
        self.submit(agency="hanoi", kind="completion", task="T-99",
                    category="cybersecurity", title="done")
        got = f.wait_for(2)
        topics = sorted(t for t, _ in got)
        self.assertEqual(topics, ["alert.refused.hanoi",
                                  "alert.refused.office"])
        b = got[0][1]
        self.assertEqual(b["kind"], "refused")
        self.assertEqual(b["task"], "T-99")
        self.assertIn("reason", b)
        self.assertNotIn("due_at", b)
        msgs = self.smtp.wait_for(2)
        self.assertEqual(sorted(m["to"][0] for m in msgs),
                         ["hanoi@hanoi.example", "office@office.example"])
        self.assertTrue(all("Refused" in m["subject"] for m in msgs))
        self.assertTrue(env.notify.running)

    def test_catch_up(self):
        env = self.start(agencies=False)
        env.notify.stop()
        n = 1200
        c = env.client()
        bt.submit_many(c, [report(agency="hanoi",
                                  category="information-security",
                                  title="leak %d" % i) for i in range(n)])
        wait_until(lambda: env.task("T-%d" % n), 30, what="the last task")
        # The router is down while notify starts and the feed's subscriber
        # joins: notify takes every task in from the router's replay.
        env.router.stop()
        f = self.feed("alert.task-assigned.")
        env.start_notify()
        time.sleep(0.5)
        env.start_router()
        f.wait_for(n, timeout=60)
        f.drain(0.5)
        got = [(t, b["alert_id"]) for t, b in f.got]
        self.assertEqual(len(got), n)
        self.assertEqual(set(got), {("alert.task-assigned.mic-ais",
                                     "T-%d/1/assigned" % (i + 1))
                                    for i in range(n)})
        rows = self.deliveries("--state", "sent")
        self.assertEqual(len(rows), 2 * n)      # feed, journal

    def test_usage(self):
        env = self.start()
        self.submit(agency="hanoi", category="cybersecurity",
                    severity="high", title="usage")
        self.wait_delivery("T-1/1/assigned:mps-a05:feed", "sent")
        for args in (["retry"], ["retry", "a", "b"],
                     ["deliveries", "--state", "gone"],
                     ["deliveries", "--agency", "bad name"],
                     ["watch", "task."]):
            r = env.batonctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.out, r.err))
            self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        log_before = len(env.log())
        for bad in ("T-1/1/assigned:mps-a05:feed", "T-1/1/nothing:x:email",
                    "no-such-alert"):
            r = env.batonctl("retry", bad)
            self.assertEqual(r.returncode, 1, (bad, r.out, r.err))
            self.assertTrue(r.err.startswith("batonctl: "), r.err)
        self.assertEqual(len(env.log()), log_before)


if __name__ == "__main__":
    bt.main()
