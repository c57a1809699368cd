#!/usr/bin/python3
"""PROTOCOL.md section 1 against a running baton-intake.

Every rule gets a body that breaks it. A refusal must be a nack with the
right code, an error text naming the field, the id echoed when it was
readable (nil when not), and nothing stored: the next valid report gets the
previous sequence + 1 and `batonctl log --json` has no record of the refused
id. The good paths check the ack, idempotency and what lands in the log.

One intake serves the whole file (setUpClass); every test uses fresh ids.
"""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402
from batontest import DROP, Raw, raw_map, raw_str, report, command  # noqa

ECHO = object()          # expect the nack to echo the body's id
NIL = None               # expect id nil
ANY = object()           # too_large: either (the frame is not read)

BAD_TYPES = {            # name -> a value of that msgpack type
    "int": 1,
    "negative int": -1,
    "float": 1.5,
    "nil": None,
    "bool": True,
    "bin": b"abc",
    "array": ["a"],
    "map": {"a": "b"},
}
STRING_TYPES_BAD = dict(BAD_TYPES)
INT_TYPES_BAD = {k: v for k, v in BAD_TYPES.items() if k != "int"}
INT_TYPES_BAD["str"] = "123"
BOOL_TYPES_BAD = {k: v for k, v in BAD_TYPES.items() if k != "bool"}
BOOL_TYPES_BAD["str"] = "true"
BOOL_TYPES_BAD["int 0"] = 0


class ProtocolTest(unittest.TestCase):

    env = None

    @classmethod
    def setUpClass(cls):
        cls.env = bt.BatonEnv()
        try:
            cls.env.start_intake()
            cls.client = cls.env.client()
            cls.last_seq = cls.probe_seq()
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.env.intake.running():
                cls.env.intake.stop()     # exit 0 and STOPPING=1
            cls.env.verify()
        finally:
            cls.env.close()

    def setUp(self):
        if not self.env.intake.running():
            self.fail("intake is not running (crashed in an earlier "
                      "test?):\n" + self.env.intake.output())

    # ---- helpers

    @classmethod
    def probe_seq(cls):
        """Submit a valid report; its seq."""
        a = cls.client.request(report(id=bt.uid("probe")))
        assert a.get("type") == "ack", a
        return a["seq"]

    def ask(self, body, timeout=bt.ANSWER_TIMEOUT):
        return self.client.request(body, timeout)

    def accept(self, body, client=None):
        """body must be acked as a new message (seq = last + 1)."""
        a = (client or self.client).request(body)
        expected = type(self).last_seq + 1
        if a.get("type") == "ack" and not a.get("duplicate"):
            type(self).last_seq = a["seq"]
        self.assertEqual(a.get("type"), "ack", "refused: %r" % (a,))
        self.assertEqual(a["seq"], expected, a)
        self.assertIs(a["duplicate"], False, a)
        return a

    def refuse(self, body, field, code="invalid", id=ECHO, client=None):
        """body must be refused with code, naming field, storing nothing."""
        if isinstance(body, dict):
            body_id = body.get("id")
        else:
            body_id = getattr(body, "body_id", None)
        a = (client or self.client).request(body)
        if a.get("type") == "ack" and not a.get("duplicate"):
            type(self).last_seq = a["seq"]      # stay in step after a bug
        self.assertEqual(a.get("type"), "nack", "not refused: %r" % (a,))
        self.assertEqual(set(a), {"v", "type", "id", "code", "error"}, a)
        self.assertEqual(a["v"], 1, a)
        self.assertEqual(a["code"], code, a)
        self.assertIsInstance(a["error"], str, a)
        self.assertTrue(a["error"], a)
        if field is not None:
            self.assertRegex(a["error"], r"(^|\W)%s(\W|$)" % re.escape(field),
                             "error does not name %r: %r" % (field, a))
        if id is ECHO:
            self.assertEqual(a["id"], body_id, a)
        elif id is not ANY:
            self.assertEqual(a["id"], id, a)
        # nothing stored: the next report follows the last one directly
        seq = self.probe_seq()
        expected = type(self).last_seq + 1
        type(self).last_seq = seq
        self.assertEqual(seq, expected,
                         "a refused body took a sequence number")
        if isinstance(body_id, str):
            self.assertNotIn(body_id, {r.get("id") for r in self.env.log()},
                             "the refused id is in the log")
        return a

    def refuse_raw(self, data, field, code="invalid", id=NIL):
        r = Raw(data)
        return self.refuse(r, field, code=code, id=id)

    def logged(self, agency, id):
        return [r for r in self.env.log()
                if r.get("agency") == agency and r.get("id") == id]

    # ================================================================ shape

    def test_not_a_map(self):
        for v in ([1, 2], 1, "report", None, True, b"bin", 1.5):
            with self.subTest(v=v):
                self.refuse(Raw(bt.pack(v)), None, id=NIL)

    def test_not_a_map_error_text(self):
        a = self.refuse(Raw(bt.pack(["v", 1])), None, id=NIL)
        self.assertIn("map", a["error"])

    def test_empty_map(self):
        self.refuse({}, "v", id=NIL)

    def test_key_not_a_string(self):
        body = raw_map([("v", 1), (1, "x"), ("type", "report")])
        self.refuse_raw(body, None)

    def test_key_is_bin(self):
        body = raw_map([("v", 1), (b"type", "report")])
        self.refuse_raw(body, None)

    def test_trailing_bytes(self):
        d = report()
        self.refuse_raw(bt.pack(d) + b"\xc0", None, id=d["id"])
        self.refuse_raw(bt.pack(d) + bt.pack(d), None, id=d["id"])

    def test_too_many_keys(self):
        items = [("v", 1), ("type", "report")] + \
            [("k%d" % i, i) for i in range(40)]
        self.refuse_raw(raw_map(items), None)

    # ================================================================ v

    def test_v_missing(self):
        self.refuse(report(v=DROP), "v")

    def test_v_2_unsupported(self):
        self.refuse(report(v=2), "v", code="unsupported_version")

    def test_v_0_and_huge_unsupported(self):
        for v in (0, 255, 2 ** 64 - 1):
            with self.subTest(v=v):
                self.refuse(report(v=v), "v", code="unsupported_version")

    @staticmethod
    def id_first(d):
        """The same body with "id" as its first key."""
        out = {"id": d["id"]}
        out.update(d)
        return out

    def test_v_wrong_types(self):
        for name, v in dict(INT_TYPES_BAD, **{"str 1": "1"}).items():
            with self.subTest(type=name):
                self.refuse(self.id_first(report(v=v)), "v")

    def test_v_any_integer_encoding(self):
        for raw in (bt.raw_uint(1, 1), bt.raw_uint(1, 2), bt.raw_uint(1, 4),
                    bt.raw_uint(1, 8), bt.raw_int(1, 1), bt.raw_int(1, 8)):
            with self.subTest(raw=raw.hex()):
                d = report()
                items = [(k, raw if k == "v" else v) for k, v in d.items()]
                self.accept(raw_map(items))

    # ================================================================ type

    def test_type_missing(self):
        self.refuse(report(type=DROP), "type")

    def test_type_unknown(self):
        for t in ("reprot", "Report", "", "ack", "nack", "replay",
                  "report.accepted"):
            with self.subTest(type=t):
                self.refuse(report(type=t), "type")

    def test_type_wrong_types(self):
        for name, v in STRING_TYPES_BAD.items():
            with self.subTest(type=name):
                self.refuse(self.id_first(report(type=v)), "type")

    def test_id_echoed_after_a_bad_value(self):
        # The id is readable even when a key before it is broken: the
        # decoder promises "the id is read before anything else can go
        # wrong" (lib/msg.c), so the nack must echo it.
        cases = {
            "array value": ("title", ["a"]),
            "map value": ("title", {"a": 1}),
            "nested array": ("v", [[1, [2]], {"k": [3]}]),
            "unknown key, array": ("extra", [1, 2, 3]),
            "ext value": ("title", Raw(b"\xd4\x01\x00")),
        }
        for name, (k, v) in cases.items():
            with self.subTest(case=name):
                d = report()
                items = [(k, v)] + [(kk, vv) for kk, vv in d.items()
                                    if kk != k]
                r = Raw(raw_map(items))
                r.body_id = d["id"]
                self.refuse(r, k)
        with self.subTest(case="duplicate key before id"):
            d = report()
            items = [("title", "a"), ("title", "b")] + \
                [(kk, vv) for kk, vv in d.items() if kk != "title"]
            r = Raw(raw_map(items))
            r.body_id = d["id"]
            self.refuse(r, "title")

    # ================================================================ required

    def test_report_required_fields(self):
        for f in ("kind", "category", "title", "agency"):
            with self.subTest(field=f):
                self.refuse(report(**{f: DROP}), f)

    def test_report_id_missing(self):
        self.refuse(report(id=DROP), "id", id=NIL)

    def test_incident_needs_severity(self):
        self.refuse(report(kind="incident", severity=DROP), "severity")

    def test_progress_and_completion_need_task(self):
        for kind in ("progress", "completion"):
            with self.subTest(kind=kind):
                self.refuse(report(kind=kind, task=DROP), "task")

    def test_periodic_needs_period(self):
        self.refuse(report(kind="periodic", period=DROP), "period")

    def test_agency_required_with_auth_none(self):
        a = self.refuse(report(agency=DROP), "agency")
        self.assertEqual(a["code"], "invalid")

    # ================================================================ types

    def test_string_fields_wrong_types(self):
        for f in ("kind", "category", "severity", "title", "body", "locality",
                  "task", "period", "agency"):
            for name, v in STRING_TYPES_BAD.items():
                with self.subTest(field=f, type=name):
                    self.refuse(report(**{f: v}), f)

    def test_id_wrong_types(self):
        for name, v in STRING_TYPES_BAD.items():
            with self.subTest(type=name):
                self.refuse(report(id=v), "id", id=NIL)

    def test_occurred_at_wrong_types(self):
        for name, v in INT_TYPES_BAD.items():
            with self.subTest(type=name):
                self.refuse(report(occurred_at=v), "occurred_at")

    def test_occurred_at_out_of_range(self):
        for v in (2 ** 63, 2 ** 64 - 1):
            with self.subTest(v=v):
                self.refuse(report(occurred_at=v), "occurred_at")

    def test_occurred_at_boundaries_accepted(self):
        for v in (0, 1, 2 ** 63 - 1):
            with self.subTest(v=v):
                d = report(occurred_at=v)
                self.accept(d)
                self.assertEqual(self.logged("ministry-a", d["id"])[0]
                                 ["occurred_at"], v)

    def test_drill_wrong_types(self):
        for name, v in BOOL_TYPES_BAD.items():
            with self.subTest(type=name):
                self.refuse(report(drill=v), "drill")

    def test_command_fields_wrong_types(self):
        for f in ("op", "task", "reason", "agency"):
            for name, v in STRING_TYPES_BAD.items():
                with self.subTest(field=f, type=name):
                    self.refuse(command(**{f: v}), f)
        for name, v in STRING_TYPES_BAD.items():
            with self.subTest(field="to", type=name):
                self.refuse(command("reassign", to=v), "to")
        for name, v in INT_TYPES_BAD.items():
            with self.subTest(field="until", type=name):
                self.refuse(command("extend", until=v), "until")

    # ================================================================ enums

    def test_enum_bad_values(self):
        cases = {
            "kind": ("Incident", "incidents", "", "alert", "incident "),
            "category": ("cyber security", "Cybersecurity", "",
                         "information_security", "cyber"),
            "severity": ("urgent", "High", "", "none"),
        }
        for f, values in cases.items():
            for v in values:
                with self.subTest(field=f, value=v):
                    self.refuse(report(**{f: v}), f)

    def test_enum_good_values(self):
        for cat in ("cybersecurity", "information-security",
                    "cyber-defense", "toxic-information"):
            for sev in ("low", "medium", "high", "critical"):
                with self.subTest(category=cat, severity=sev):
                    self.accept(report(category=cat, severity=sev))

    def test_op_bad_values(self):
        for v in ("Complete", "close", "", "extend "):
            with self.subTest(op=v):
                self.refuse(command(op=v), "op")

    # ================================================================ lengths

    def _boundary(self, field, maxlen, minlen=1, make=report, **extra):
        ok = make(**dict(extra, **{field: "x" * maxlen}))
        self.accept(ok)
        self.refuse(make(**dict(extra, **{field: "x" * (maxlen + 1)})),
                    field)
        if minlen == 1:
            self.refuse(make(**dict(extra, **{field: ""})), field)
            self.accept(make(**dict(extra, **{field: "x"})))
        else:
            self.accept(make(**dict(extra, **{field: ""})))

    def test_id_length(self):
        self.accept(report(id="i" * bt.ID_MAX))
        self.accept(report(id="j"))
        self.refuse(report(id="i" * (bt.ID_MAX + 1)), "id", id=NIL)
        self.refuse(report(id=""), "id", id=NIL)

    def test_title_length(self):
        self._boundary("title", bt.TITLE_MAX)

    def test_title_length_counts_bytes(self):
        # "ạ" is 3 bytes in UTF-8: 85 of them and one "a" make 256 bytes.
        self.accept(report(title="\u1ea1" * 85 + "a"))
        self.refuse(report(title="\u1ea1" * 86), "title")

    def test_body_length(self):
        self._boundary("body", bt.BODY_MAX, minlen=0)

    def test_locality_length(self):
        self._boundary("locality", bt.LOCALITY_MAX)

    def test_task_length(self):
        self._boundary("task", bt.TASK_MAX, kind="progress")
        self._boundary("task", bt.TASK_MAX, make=command)

    def test_reason_length(self):
        self._boundary("reason", bt.REASON_MAX, make=command)

    def test_agency_length(self):
        self.accept(report(agency="a" * bt.AGENCY_MAX))
        self.refuse(report(agency="a" * (bt.AGENCY_MAX + 1)), "agency")
        self.refuse(report(agency=""), "agency")

    def test_agency_characters(self):
        self.accept(report(agency="Min.of-Info_2"))
        for v in ("a b", "a/b", "a:b", "bộ", "a\tb", "a*", "report.*x#",
                  "a\nb"):
            with self.subTest(agency=v):
                self.refuse(report(agency=v), "agency")

    def test_to_shape(self):
        self.accept(command("reassign", to="b" * bt.AGENCY_MAX))
        for v in ("", "b" * (bt.AGENCY_MAX + 1), "a b", "bộ", "x/y"):
            with self.subTest(to=v):
                self.refuse(command("reassign", to=v), "to")

    def test_period_formats_accepted(self):
        for p in ("2026", "2026-Q1", "2026-Q4", "2026-H1", "2026-H2",
                  "2026-01", "2026-12", "2026-W01", "2026-W53", "0000",
                  "2026-07-01", "20261126T080000Z"):
            with self.subTest(period=p):
                self.accept(report(kind="periodic", period=p))

    def test_period_formats_refused(self):
        for p in ("", "26", "202", "20261", "2026-", "2026-Q0", "2026-Q5",
                  "2026-H0", "2026-H3", "2026-00", "2026-13", "2026-1",
                  "2026-W00", "2026-W54", "2026-W5", "2026-W100", "2026/07",
                  "2026-q3", "2026-h1", "2026-w05", "abcd", "2026-07-32",
                  "2026-7-01", "2026-11-26T08:00:00Z", "20261126T080000",
                  "20261126T250000Z", "2026-Q3 ", " 2026",
                  "x" * (bt.PERIOD_MAX + 1)):
            with self.subTest(period=p):
                self.refuse(report(kind="periodic", period=p), "period")

    def test_period_on_other_kinds_is_checked_too(self):
        self.refuse(report(kind="incident", period="2026-Q9"), "period")

    # ================================================================ text

    BAD_UTF8 = {
        "lone continuation": b"a\x80b",
        "0xff": b"\xff",
        "overlong /": b"\xc0\xaf",
        "overlong NUL": b"\xc0\x80",
        "overlong 3-byte": b"\xe0\x80\xaf",
        "surrogate": b"\xed\xa0\x80",
        "above U+10FFFF": b"\xf4\x90\x80\x80",
        "truncated 3-byte": b"ok\xe2\x82",
        "truncated at end": b"\xe1",
        "0xf5": b"\xf5\x80\x80\x80",
    }

    def _raw_report(self, field, raw_value, **over):
        d = report(**over)
        items = [(k, raw_value if k == field else v) for k, v in d.items()]
        if field not in d:
            items.append((field, raw_value))
        data = raw_map(items)
        r = Raw(data)
        r.body_id = d["id"] if field != "id" else None
        return r

    def test_invalid_utf8_refused(self):
        for f in ("title", "body", "locality", "agency", "kind"):
            for name, b in self.BAD_UTF8.items():
                with self.subTest(field=f, bytes=name):
                    self.refuse(self._raw_report(f, raw_str(b)), f)

    def test_invalid_utf8_in_id(self):
        r = self._raw_report("id", raw_str(b"id-\xff"))
        self.refuse(r, "id", id=NIL)

    def test_invalid_utf8_in_command(self):
        d = command()
        items = [(k, raw_str(b"\xed\xb0\x80") if k == "reason" else v)
                 for k, v in d.items()]
        r = Raw(raw_map(items))
        r.body_id = d["id"]
        self.refuse(r, "reason")

    def test_valid_utf8_accepted(self):
        d = report(title="T\u1ea5n c\u00f4ng m\u1ea1ng \U0001F512",
                   body="\u0111\u1ed9c h\u1ea1i \u2013 \U00010348",
                   locality="H\u00e0-N\u1ed9i")
        self.accept(d)
        rec = self.logged("ministry-a", d["id"])[0]
        self.assertEqual(rec["title"], d["title"])
        self.assertEqual(rec["body"], d["body"])
        self.assertEqual(rec["locality"], d["locality"])

    def test_nul_refused(self):
        for f in ("title", "body", "locality", "task", "kind", "agency"):
            with self.subTest(field=f):
                self.refuse(report(kind="progress", **{f: "a\x00b"})
                            if f != "kind" else
                            report(kind="incident\x00"), f)
        self.refuse(report(id="id\x00x"), "id", id=NIL)
        self.refuse(command(reason="why\x00"), "reason")

    def test_string_encodings_accepted(self):
        # str8 / str16 / str32 for short values are still strings.
        for enc in (lambda b: Raw(b"\xd9" + bytes([len(b)]) + b),
                    lambda b: Raw(b"\xda\x00" + bytes([len(b)]) + b),
                    bt.raw_str32):
            d = report()
            items = [(k, enc(v.encode()) if k == "title" else v)
                     for k, v in d.items()]
            self.accept(raw_map(items))

    # ================================================================ keys

    def test_unknown_key(self):
        for k in ("titel", "Title", "extra", "", "seq", "accepted_at",
                  "duplicate", "code", "error", "from", "last"):
            with self.subTest(key=k):
                a = self.refuse(report(**{k: "x"}),
                                k if k else None)
                self.assertEqual(a["code"], "invalid")

    def test_unknown_key_with_container_value(self):
        self.refuse(report(extra=[1, 2]), "extra")
        self.refuse(report(extra={"a": 1}), "extra")

    def test_command_keys_in_report(self):
        self.refuse(report(op="complete"), "op")
        self.refuse(report(until=1), "until")
        self.refuse(report(to="ministry-b"), "to")
        self.refuse(report(reason="r"), "reason")

    def test_report_keys_in_command(self):
        for k, v in (("kind", "incident"), ("category", "cybersecurity"),
                     ("severity", "low"), ("title", "t"), ("body", "b"),
                     ("locality", "HN"), ("period", "2026"),
                     ("occurred_at", 1), ("drill", True)):
            with self.subTest(key=k):
                self.refuse(command(**{k: v}), k)

    def test_duplicate_key(self):
        for k, v1, v2 in (("title", "a", "b"), ("title", "a", "a"),
                          ("severity", "low", "high"), ("v", 1, 1),
                          ("agency", "ministry-a", "ministry-b")):
            with self.subTest(key=k):
                d = report()
                items = [(kk, v1 if kk == k else vv) for kk, vv in d.items()]
                items.append((k, v2))
                r = Raw(raw_map(items))
                r.body_id = d["id"]
                self.refuse(r, k)

    def test_duplicate_id(self):
        d = report()
        items = list(d.items()) + [("id", d["id"])]
        r = Raw(raw_map(items))
        r.body_id = d["id"]
        self.refuse(r, "id")

    # ================================================================ commands

    def test_each_op_accepted(self):
        for op in ("complete", "extend", "reassign", "cancel"):
            with self.subTest(op=op):
                d = command(op)
                a = self.accept(d)
                rec = self.logged("office", d["id"])
                self.assertEqual(len(rec), 1)
                rec = rec[0]
                self.assertEqual(rec["type"], "command")
                self.assertEqual(rec["topic"], "command.accepted")
                self.assertEqual(rec["op"], op)
                self.assertEqual(rec["task"], "T-1")
                self.assertEqual(rec["reason"], "because")
                self.assertEqual(rec["seq"], a["seq"])
                if op == "extend":
                    self.assertEqual(rec["until"], d["until"])
                else:
                    self.assertNotIn("until", rec)
                if op == "reassign":
                    self.assertEqual(rec["to"], "ministry-b")
                else:
                    self.assertNotIn("to", rec)

    def test_command_required_fields(self):
        for op in ("complete", "extend", "reassign", "cancel"):
            for f in ("op", "task", "reason", "agency"):
                with self.subTest(op=op, field=f):
                    d = command(op)
                    del d[f]
                    self.refuse(d, f)
            with self.subTest(op=op, field="id"):
                self.refuse(command(op, id=DROP), "id", id=NIL)

    def test_extend_needs_until(self):
        self.refuse(command("extend", until=DROP), "until")

    def test_reassign_needs_to(self):
        self.refuse(command("reassign", to=DROP), "to")

    def test_fields_of_another_op_refused(self):
        for op in ("complete", "reassign", "cancel"):
            with self.subTest(op=op, field="until"):
                self.refuse(command(op, until=1795000000000), "until")
        for op in ("complete", "extend", "cancel"):
            with self.subTest(op=op, field="to"):
                self.refuse(command(op, to="ministry-b"), "to")

    def test_until_range(self):
        self.accept(command("extend", until=0))
        self.accept(command("extend", until=2 ** 63 - 1))
        self.refuse(command("extend", until=2 ** 63), "until")
        self.refuse(command("extend", until=-5), "until")

    # ============================================================ good paths

    def test_each_kind_accepted_and_logged(self):
        full = {"body": "details", "locality": "HN", "occurred_at":
                1764059400000, "drill": True}
        for kind in ("incident", "progress", "completion", "periodic"):
            with self.subTest(kind=kind):
                d = report(kind=kind, category="cyber-defense", **full)
                if kind != "incident":
                    d["severity"] = "low"
                a = self.accept(d)
                recs = self.logged("ministry-a", d["id"])
                self.assertEqual(len(recs), 1, recs)
                rec = recs[0]
                self.assertEqual(rec["seq"], a["seq"])
                self.assertEqual(rec["topic"], "report.accepted")
                self.assertEqual(rec["accepted_at"], a["accepted_at"])
                for k in ("type", "kind", "category", "severity", "title",
                          "body", "locality", "occurred_at", "drill",
                          "agency"):
                    self.assertEqual(rec[k], d[k], k)
                for k in ("task", "period"):
                    self.assertEqual(rec.get(k), d.get(k), k)

    def test_minimal_reports(self):
        for kind in ("incident", "progress", "completion", "periodic"):
            with self.subTest(kind=kind):
                d = report(kind=kind)
                self.accept(d)
                rec = self.logged("ministry-a", d["id"])[0]
                self.assertIs(rec["drill"], False)
                self.assertNotIn("body", rec)
                self.assertNotIn("occurred_at", rec)

    def test_severity_optional_for_other_kinds(self):
        for kind in ("progress", "completion", "periodic"):
            with self.subTest(kind=kind):
                self.accept(report(kind=kind))
                self.accept(report(kind=kind, severity="critical"))

    def test_drill_false_accepted(self):
        self.accept(report(drill=False))

    def test_ack_fields(self):
        before = int(time.time() * 1000)
        d = report()
        a = self.accept(d)
        after = int(time.time() * 1000)
        self.assertEqual(set(a), {"v", "type", "id", "seq", "accepted_at",
                                  "duplicate"}, a)
        self.assertEqual(a["v"], 1)
        self.assertEqual(a["type"], "ack")
        self.assertEqual(a["id"], d["id"])
        self.assertIsInstance(a["seq"], int)
        self.assertIs(a["duplicate"], False)
        self.assertGreaterEqual(a["accepted_at"], before - 1000)
        self.assertLessEqual(a["accepted_at"], after + 1000)

    def test_req_socket(self):
        req = self.env.client(bt.zmq.REQ)
        d = report()
        a = self.accept(d, client=req)
        self.assertEqual(a["id"], d["id"])
        # a second exchange on the same REQ socket works too (strict
        # send/recv alternation: the answer carried the delimiter)
        a2 = req.request(d)
        self.assertEqual(a2["seq"], a["seq"])
        self.assertIs(a2["duplicate"], True)
        self.refuse(report(title=""), "title", client=req)
        req.close()

    def test_req_answer_frames(self):
        # What a DEALER sees when it speaks like REQ: delimiter, body.
        d = report()
        self.client.send([b"", bt.pack(d)])
        frames = self.client.recv_frames()
        self.assertIsNotNone(frames)
        self.assertEqual(len(frames), 2, frames)
        self.assertEqual(frames[0], b"")
        a = bt.unpack(frames[1])
        self.assertEqual(a["type"], "ack")
        self.assertEqual(a["seq"], type(self).last_seq + 1)
        type(self).last_seq = a["seq"]

    def test_tcp_submit(self):
        # A second intake whose submit endpoint is TCP on loopback.
        env = bt.BatonEnv(submit="tcp")
        try:
            env.start_intake()
            c = env.client()
            a = c.request(report())
            self.assertEqual(a["type"], "ack")
            self.assertEqual(a["seq"], 1)
            env.intake.stop()
            env.verify()
        finally:
            env.close()

    def test_resent_id(self):
        d = report()
        a = self.accept(d)
        for _ in range(3):
            b = self.ask(d)
            self.assertEqual(b["type"], "ack")
            self.assertEqual(b["seq"], a["seq"])
            self.assertEqual(b["accepted_at"], a["accepted_at"])
            self.assertIs(b["duplicate"], True)
        # another socket resending gets the same
        other = self.env.client()
        b = other.request(d)
        self.assertEqual((b["seq"], b["duplicate"]), (a["seq"], True))
        other.close()
        self.assertEqual(len(self.logged("ministry-a", d["id"])), 1)
        # nothing was stored for the resends
        self.assertEqual(self.probe_seq(), a["seq"] + 1)
        type(self).last_seq = a["seq"] + 1

    def test_resent_id_with_other_content(self):
        d = report(title="first")
        a = self.accept(d)
        b = self.ask(report(id=d["id"], title="second", kind="periodic"))
        self.assertEqual((b["type"], b["seq"], b["duplicate"]),
                         ("ack", a["seq"], True))
        recs = self.logged("ministry-a", d["id"])
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["title"], "first")

    def test_resent_id_in_one_batch(self):
        # Sent back to back, the copies are likely committed in one round.
        d = report()
        for _ in range(5):
            self.client.send(d)
        answers = [self.client.recv() for _ in range(5)]
        self.assertNotIn(None, answers)
        seqs = {a["seq"] for a in answers}
        self.assertEqual(seqs, {type(self).last_seq + 1}, answers)
        self.assertEqual(sorted(a["duplicate"] for a in answers),
                         [False, True, True, True, True])
        type(self).last_seq += 1
        self.assertEqual(len(self.logged("ministry-a", d["id"])), 1)

    def test_refused_id_can_be_used_later(self):
        d = report(title="")
        self.refuse(d, "title")
        d["title"] = "fixed"
        self.accept(d)

    def test_same_id_other_agency(self):
        d = report(agency="ministry-a")
        a = self.accept(d)
        d2 = dict(d, agency="province-b")
        b = self.accept(d2)
        self.assertEqual(b["seq"], a["seq"] + 1)
        self.assertEqual(len(self.logged("ministry-a", d["id"])), 1)
        self.assertEqual(len(self.logged("province-b", d["id"])), 1)
        # and a command with that id from a third agency
        c = self.accept(command(id=d["id"], agency="office"))
        self.assertEqual(c["seq"], b["seq"] + 1)

    def test_pipelined_answers(self):
        ids = [bt.uid() for _ in range(50)]
        for i in ids:
            self.client.send(report(id=i))
        answers = [self.client.recv() for _ in ids]
        self.assertNotIn(None, answers)
        self.assertEqual([a["id"] for a in answers], ids)
        first = type(self).last_seq + 1
        self.assertEqual(sorted(a["seq"] for a in answers),
                         list(range(first, first + len(ids))))
        type(self).last_seq = first + len(ids) - 1

    def test_mixed_batch(self):
        # Good and bad bodies interleaved: each gets its own answer.
        bodies = []
        for i in range(20):
            bodies.append(report() if i % 2 == 0 else report(title=""))
        for b in bodies:
            self.client.send(b)
        answers = [self.client.recv() for _ in bodies]
        self.assertNotIn(None, answers)
        self.assertEqual([a["id"] for a in answers], [b["id"] for b in bodies])
        self.assertEqual([a["type"] for a in answers], ["ack", "nack"] * 10)
        acks = [a["seq"] for a in answers if a["type"] == "ack"]
        first = type(self).last_seq + 1
        self.assertEqual(sorted(acks), list(range(first, first + 10)))
        type(self).last_seq = first + 9
        logged = {r["id"] for r in self.env.log()}
        for b in bodies[1::2]:
            self.assertNotIn(b["id"], logged)

    # ================================================================ size

    def test_frame_over_96k_is_too_large(self):
        d = report(body="x" * (100 * 1024))
        self.refuse(d, None, code="too_large", id=ANY)

    def test_frame_size_boundary(self):
        # Exactly FRAME_MAX bytes: read (and refused for the body length);
        # one byte more: too_large without being read.
        def frame(total):
            d = report(body="")
            base = len(bt.pack(d))
            # body str32 header is 5 bytes vs 1 for "", so adjust by 4
            d["body"] = "x" * (total - base - 4)
            data = bt.pack(d)
            self.assertEqual(len(data), total)
            return d
        a = self.refuse(frame(bt.FRAME_MAX), "body")
        self.assertEqual(a["code"], "invalid")
        self.refuse(frame(bt.FRAME_MAX + 1), None, code="too_large", id=ANY)

    def test_largest_valid_report(self):
        d = report(id="i" * bt.ID_MAX, title="t" * bt.TITLE_MAX,
                   body="b" * bt.BODY_MAX, locality="l" * bt.LOCALITY_MAX,
                   task="k" * bt.TASK_MAX, agency="a" * bt.AGENCY_MAX,
                   occurred_at=2 ** 63 - 1, drill=True)
        self.accept(d)
        rec = self.logged("a" * bt.AGENCY_MAX, d["id"])[0]
        self.assertEqual(len(rec["body"]), bt.BODY_MAX)

    # ================================================================ batonctl

    def test_batonctl_submit(self):
        i = bt.uid("ctl")
        r = self.env.batonctl("submit", "--json", "-a", "ministry-a",
                              "-i", i, "-k", "incident", "-C",
                              "cybersecurity", "-s", "low", "-t", "by ctl")
        self.assertEqual(r.returncode, 0, r.out + r.err)
        a = json.loads(r.out)
        self.assertEqual((a["type"], a["id"], a["duplicate"]),
                         ("ack", i, False))
        self.assertEqual(a["seq"], type(self).last_seq + 1)
        type(self).last_seq = a["seq"]
        r = self.env.batonctl("submit", "-a", "ministry-a", "-i",
                              bt.uid("ctl"), "-k", "incident", "-C",
                              "cybersecurity", "-t", "no severity")
        self.assertEqual(r.returncode, 1, r.out + r.err)
        self.assertIn("severity", r.out)

    def test_verify_while_running(self):
        out = self.env.verify()
        self.assertIn("verified", out)


if __name__ == "__main__":
    bt.main()
