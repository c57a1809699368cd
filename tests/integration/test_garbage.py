#!/usr/bin/python3
"""baton-intake never crashes on garbage, and answers each body exactly once.

Random bytes, empty and multi-part messages, every truncation of a valid
body, deep nesting, lying length headers, random field soup, bit flips, and
frames larger than ZeroMQ's max_message_size. After each batch the daemon
still runs, acknowledges a valid report, and `batonctl verify` passes; at
the end the log holds exactly the bodies that were acknowledged, numbered
1..N, and intake stops cleanly on SIGTERM.

The random parts use a fixed seed (BATON_SEED overrides it; it is printed).
"""
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import Raw, raw_map, report  # noqa: E402

SEED = int(os.environ.get("BATON_SEED", "20261125"))
CHUNK = 200             # bodies in flight at once


class GarbageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        print("seed %d (BATON_SEED=%d to repeat)" % (SEED, SEED),
              file=sys.stderr)
        cls.env = bt.BatonEnv(max_message_size="1M")
        cls.acked = {}          # (agency, id) -> seq: what must be stored
        try:
            cls.env.start_intake()
            cls.client = cls.env.client()
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.env.intake.stop()       # exit 0 and STOPPING=1
            log = cls.env.log()
            got = {(r["agency"], r["id"]): r["seq"] for r in log}
            assert len(got) == len(log), "an (agency, id) is logged twice"
            assert sorted(r["seq"] for r in log) == \
                list(range(1, len(log) + 1)), "log seqs are not 1..N"
            assert got == cls.acked, (
                "the log differs from what was acknowledged: only logged "
                "%r, only acked %r" % (
                    sorted(set(got) - set(cls.acked))[:5],
                    sorted(set(cls.acked) - set(got))[:5]))
            cls.env.verify()
        finally:
            cls.env.close()

    def setUp(self):
        self.rng = random.Random("%d %s" % (SEED, self.id()))
        if not self.env.intake.running():
            self.fail("intake is not running:\n" + self.env.intake.output())

    def tearDown(self):
        self.assertAlive()

    # ---- helpers

    def record_ack(self, body, a):
        """An ack for body (a dict, or msgpack bytes): remember it."""
        if isinstance(body, (bytes, bytearray)):
            body = bt.unpack(bytes(body))
        key = (body.get("agency"), body.get("id"))
        self.assertEqual(a["id"], body.get("id"), a)
        if key in self.acked:
            self.assertIs(a["duplicate"], True, a)
            self.assertEqual(a["seq"], self.acked[key], a)
        else:
            self.assertIs(a["duplicate"], False, a)
            self.acked[key] = a["seq"]

    def assertAlive(self, client=None):
        """Still running, acks a valid report, and the log verifies."""
        self.assertTrue(self.env.intake.running(),
                        "intake died:\n" + self.env.intake.output())
        d = report(id=bt.uid("alive"))
        a = (client or self.client).request(d)
        self.assertEqual(a["type"], "ack", a)
        self.record_ack(d, a)
        self.env.verify()

    def assertNoMore(self, client=None, wait=0.3):
        frames = (client or self.client).recv_frames(timeout=wait)
        self.assertIsNone(frames, "an extra answer: %r" % (frames,))

    def exchange(self, bodies, client=None):
        """Send every body (pipelined, CHUNK at a time); exactly one answer
        each, in order. Returns the answers."""
        c = client or self.client
        answers = []
        for i in range(0, len(bodies), CHUNK):
            part = bodies[i:i + CHUNK]
            for b in part:
                c.send(b)
            for n, b in enumerate(part):
                frames = c.recv_frames()
                self.assertIsNotNone(
                    frames, "no answer to body %d of %d (%r...)"
                    % (i + n, len(bodies), bytes(b[:40]) if isinstance(
                        b, (bytes, bytearray)) else b))
                self.assertEqual(len(frames), 1, frames)
                answers.append(bt.unpack(frames[0]))
        self.assertNoMore(c)
        return answers

    def assertNack(self, a, code="invalid", id=None):
        self.assertEqual(a.get("type"), "nack", a)
        self.assertEqual(set(a), {"v", "type", "id", "code", "error"}, a)
        self.assertEqual(a["code"], code, a)
        self.assertEqual(a["id"], id, a)
        self.assertTrue(a["error"], a)

    # ---- tests

    def test_random_bytes(self):
        bodies = []
        for i in range(2000):
            r = self.rng.random()
            if r < 0.02:
                n = self.rng.randrange(FRAME, 2 * FRAME)
            elif r < 0.2:
                n = self.rng.randrange(64, 4096)
            else:
                n = self.rng.randrange(0, 64)
            b = bytearray(self.rng.getrandbits(8) for _ in range(min(n, 4096)))
            if n > 4096:
                b = bytes(b) * (n // 4096) + bytes(n % 4096)
            b = bytearray(b)
            if b and self.rng.random() < 0.5:
                # a map header, to get past the first check more often
                b[0] = self.rng.choice([0x80 + self.rng.randrange(16),
                                        0xde, 0xdf])
            bodies.append(bytes(b))
        for b, a in zip(bodies, self.exchange(bodies)):
            self.assertEqual(a.get("type"), "nack", (b[:40], a))
            self.assertIn(a["code"], ("invalid", "too_large"), a)
            if len(b) > FRAME:
                self.assertEqual(a["code"], "too_large", a)

    def test_empty_frame(self):
        (a,) = self.exchange([b""])
        self.assertNack(a)

    def test_multipart(self):
        body = bt.pack(report())
        for parts in ([b"x"] * 50, [body] * 50, [body, body],
                      [body, b""], [b"", body, body], [b"", b"", body],
                      [b"", b""], [b"\xc0"] * 3):
            with self.subTest(parts=len(parts), first=parts[0][:8]):
                self.client.send(parts)
                frames = self.client.recv_frames()
                self.assertIsNotNone(frames, "no answer")
                # a leading empty frame reads as REQ's delimiter
                if parts[0] == b"":
                    self.assertEqual(frames[0], b"")
                self.assertNack(bt.unpack(frames[-1]))
                self.assertNoMore()

    def test_truncated_prefixes(self):
        d = {"id": bt.uid("trunc")}
        id_end = len(bt.pack(d))            # fixmap header + "id" + value
        d.update(report(id=d["id"], body="details " * 20, locality="HN",
                        occurred_at=1764059400000, drill=True))
        full = bt.pack(d)
        bodies = [full[:n] for n in range(len(full))]
        for n, a in enumerate(self.exchange(bodies)):
            self.assertNack(a, id=d["id"] if n >= id_end else None)
            if n:
                self.assertIn("truncated", a["error"], (n, a))
        (a,) = self.exchange([full])
        self.assertEqual(a["type"], "ack", a)
        self.record_ack(d, a)
        (a,) = self.exchange([full + b"\x00"])
        self.assertNack(a, id=d["id"])

    def test_truncated_large_body(self):
        d = {"id": bt.uid("trunc")}
        d.update(report(id=d["id"], body="b" * bt.BODY_MAX))
        full = bt.pack(d)
        cuts = sorted(set(self.rng.randrange(len(full)) for _ in range(200)))
        for n, a in zip(cuts, self.exchange([full[:n] for n in cuts])):
            self.assertEqual(a["type"], "nack", (n, a))

    def test_deep_nesting(self):
        deep = [
            b"\x91" * 10000 + b"\xc0",                 # fixarray
            b"\xdc\x00\x01" * 10000 + b"\xc0",         # array16
            b"\x81\xa1k" * 10000 + b"\xc0",            # fixmap
            b"\xde\x00\x01\xa1k" * 10000 + b"\xc0",     # map16
        ]
        nested_value = raw_map([("v", Raw(b"\x91" * 10000 + b"\xc0"))])
        nested_title = raw_map([("v", 1), ("type", "report"),
                                ("title", Raw(b"\x81\xa1k" * 10000 +
                                              b"\xc0"))])
        unclosed = b"\x91" * 10000                      # no innermost value
        bodies = deep + [nested_value, nested_title, unclosed]
        for a in self.exchange(bodies):
            self.assertNack(a)

    def test_lying_lengths(self):
        hdr = raw_map([("v", 1), ("type", "report")])
        bodies = [
            b"\xdf\xff\xff\xff\xff",               # map of 2^32-1 entries
            b"\xdf\xff\xff\xff\xff\xa1v\x01",
            b"\xde\xff\xff",                       # map16 of 65535
            b"\xdd\xff\xff\xff\xff",               # array of 2^32-1
            b"\xdb\xff\xff\xff\xff",               # str of 4 GiB
            b"\xc6\xff\xff\xff\xff",               # bin of 4 GiB
            b"\xc9\xff\xff\xff\xff\x01",           # ext of 4 GiB
            b"\x8f",                               # 15 entries, none there
            b"\xde\x00\x20",                       # 32 entries, none there
            b"\x81\xdb\xff\xff\xff\xffid",         # key str32 of 4 GiB
            b"\x81\xa2id\xdb\xff\xff\xff\xff",     # id value str32 4 GiB
            b"\x81\xa5title\xda\xff\xff",          # str16 65535, absent
            b"\x81\xa5title\xc5\xff\xff",          # bin16 65535, absent
            b"\x81\xa1v\xcf\xff",                  # uint64 cut short
            b"\x81\xa1v\xcb\x00",                  # float64 cut short
            b"\x82\xa1v\x01\xa4type\xdd\xff\xff\xff\xff",
            b"\xc1",                               # never used
            b"\x81\xa1v\xc1",                      # never used, as value
            hdr[:1] + b"\xc1" + hdr[1:],           # as a key
        ]
        answers = self.exchange(bodies)
        for b, a in zip(bodies, answers):
            with self.subTest(body=b[:12].hex()):
                self.assertNack(a)

    def test_big_frames_dropped(self):
        """Frames over max_message_size are dropped with the connection."""
        victim = self.env.client()
        for size in (10 * 1024 * 1024, 1024 * 1024 + 1):
            with self.subTest(size=size):
                d = report(body="x" * size)
                victim.send(d)
                self.assertIsNone(victim.recv_frames(timeout=2.0),
                                  "an answer to a %d-byte frame" % size)
                self.assertTrue(self.env.intake.running(),
                                self.env.intake.output())
                fresh = self.env.client()
                self.assertAlive(client=fresh)
                fresh.close()
        # the dropped client reconnects by itself and is served again
        d = report()
        a = victim.request(d, timeout=10)
        self.assertEqual(a["type"], "ack", a)
        self.record_ack(d, a)
        victim.close()

    def test_frame_at_max_message_size(self):
        """A frame exactly max_message_size long reaches intake:
        too_large, not a dropped connection."""
        c = self.env.client()
        d = report(body="")
        base = len(bt.pack(d))
        d["body"] = "x" * (1024 * 1024 - base - 4)     # str32 header
        data = bt.pack(d)
        self.assertEqual(len(data), 1024 * 1024)
        (a,) = self.exchange([data], client=c)
        self.assertEqual(a["type"], "nack", a)
        self.assertEqual(a["code"], "too_large", a)
        c.close()

    FIELDS = ["v", "type", "id", "kind", "category", "severity", "title",
              "body", "locality", "task", "period", "occurred_at", "drill",
              "agency", "op", "until", "to", "reason", "seq", "x", ""]
    GOOD = {
        "v": [1], "type": ["report", "command"],
        "kind": ["incident", "progress", "completion", "periodic"],
        "category": ["cybersecurity", "cyber-defense"],
        "severity": ["low", "critical"], "period": ["2026-Q3", "2026"],
        "op": ["complete", "extend", "reassign", "cancel"],
        "agency": ["fuzz-a", "fuzz-b"], "to": ["fuzz-b"],
        "occurred_at": [0, 1764059400000], "until": [1795000000000],
        "drill": [True, False],
    }

    def random_value(self, key):
        rng = self.rng
        r = rng.random()
        if r < 0.55 and key in self.GOOD:
            return rng.choice(self.GOOD[key])
        if r < 0.7 and key in ("id", "title", "body", "locality", "task",
                               "reason"):
            return "%s-%d" % (key, rng.randrange(10 ** 6))
        return rng.choice([
            None, True, False, 0, -1, 2 ** 63, 2 ** 64 - 1, -2 ** 63, 1.5,
            "", "x" * rng.choice([1, 64, 65, 129, 257, 1025]),
            "\u1ea1", b"bin", [1, "a"], {"k": "v"}, [[[]]],
        ])

    def test_field_soup(self):
        """Random maps of known and unknown keys with random values: one
        answer each, and the acked ones are exactly what gets logged."""
        rng = self.rng
        bodies = []
        for _ in range(1500):
            if rng.random() < 0.5:
                # soup: random keys, random values
                keys = rng.sample(self.FIELDS, rng.randrange(0, 12))
                for k in ("v", "type", "id", "agency"):
                    if k not in keys and rng.random() < 0.8:
                        keys.append(k)
                d = {k: self.random_value(k) for k in keys}
            else:
                # a valid body with up to two keys changed, added or removed
                if rng.random() < 0.7:
                    d = report(kind=rng.choice(self.GOOD["kind"]),
                               agency=rng.choice(self.GOOD["agency"]))
                else:
                    d = bt.command(rng.choice(self.GOOD["op"]),
                                   agency=rng.choice(self.GOOD["agency"]))
                for _ in range(rng.randrange(0, 3)):
                    k = rng.choice(self.FIELDS)
                    if rng.random() < 0.3:
                        d.pop(k, None)
                    else:
                        d[k] = self.random_value(k)
            items = list(d.items())
            rng.shuffle(items)
            d = dict(items)
            if isinstance(d.get("id"), str) and rng.random() < 0.9:
                d["id"] = bt.uid("soup")
            bodies.append(d)
        acks = 0
        for d, a in zip(bodies, self.exchange(bodies)):
            self.assertIn(a.get("type"), ("ack", "nack"), a)
            if a["type"] == "ack":
                acks += 1
                self.record_ack(d, a)
            else:
                self.assertIn(a["code"], ("invalid", "unsupported_version"),
                              (d, a))
        print("field soup: %d of %d acknowledged" % (acks, len(bodies)),
              file=sys.stderr)

    def test_bit_flips(self):
        """Valid bodies with a few bytes changed: one answer each; whatever
        is acknowledged is logged (and nothing else)."""
        bodies = []
        for i in range(1500):
            d = report(id=bt.uid("flip"), body="b" * self.rng.randrange(40),
                       agency="flip-a")
            b = bytearray(bt.pack(d))
            for _ in range(self.rng.randrange(1, 4)):
                b[self.rng.randrange(len(b))] = self.rng.getrandbits(8)
            bodies.append(bytes(b))
        acks = 0
        for b, a in zip(bodies, self.exchange(bodies)):
            self.assertIn(a.get("type"), ("ack", "nack"), a)
            if a["type"] == "ack":
                acks += 1
                self.record_ack(b, a)
        print("bit flips: %d of %d acknowledged" % (acks, len(bodies)),
              file=sys.stderr)


FRAME = bt.FRAME_MAX

if __name__ == "__main__":
    bt.main()
