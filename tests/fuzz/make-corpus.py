#!/usr/bin/python3
"""make-corpus.py - write the fuzz targets' seed corpus and msgpack dictionary.

    /usr/bin/python3 tests/fuzz/make-corpus.py      (python3-msgpack, -zmq)

Writes tests/fuzz/corpus/<target>/seed-* (replacing the seeds it wrote
before; other files there, such as crash-* regressions, are left alone) and
tests/fuzz/msg.dict and bus.dict. The seeds are real, valid inputs: every
message type's body as docs/protocol.md describes it, bus records of every
event, the bundled config/*.conf files and variants of them that reach the
keys and sections the bundled ones leave out; plus a few bodies that must be
refused (hostile counts, a wrong version). Output is deterministic: run it
again after a protocol or format change and commit what changed.
"""
import os
import shutil
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

T0 = 1795662000000          # 2026-11-26 10:00 +07
DAY = 86400000
HOUR = 3600000


def pack(body):
    return msgpack.packb(body, use_bin_type=True)


def record(topic, body):
    """A stored bus record: topic length, topic, body (lib/bus.h)."""
    t = topic.encode()
    return bytes([len(t)]) + t + pack(body)


# ---- message bodies (docs/protocol.md) ----

REPORTS = {
    "report-incident": {
        "v": 1, "type": "report", "id": "r-1001", "kind": "incident",
        "category": "cybersecurity", "severity": "critical",
        "title": "Defacement of a ministry portal",
        "body": "The portal shows a foreign banner since 09:40.",
        "locality": "HN", "occurred_at": T0 - HOUR, "agency": "mic"},
    "report-incident-drill": {
        "v": 1, "type": "report", "id": "drill-7", "kind": "incident",
        "category": "cyber-defense", "severity": "low", "title": "Drill",
        "drill": True},
    "report-progress": {
        "v": 1, "type": "report", "id": "r-1002", "kind": "progress",
        "category": "cybersecurity", "title": "Portal restored",
        "task": "T-1042", "body": ""},
    "report-completion": {
        "v": 1, "type": "report", "id": "r-1003", "kind": "completion",
        "category": "information-security", "title": "Closed: leak found",
        "task": "T-1043-2", "severity": "medium"},
    "report-periodic": {
        "v": 1, "type": "report", "id": "p-2026-q3", "kind": "periodic",
        "category": "information-security",
        "title": "Quarterly report on the four key areas",
        "period": "2026-Q3", "agency": "mps-a05"},
    "report-utf8": {
        "v": 1, "type": "report", "id": "r-\u00e9", "kind": "incident",
        "category": "toxic-information", "severity": "high",
        "title": "Tin gi\u1ea3 m\u1ea1o tr\u00ean m\u1ea1ng x\u00e3 h\u1ed9i \U0001F4E2",
        "locality": "H\u00e0 N\u1ed9i"},
}

COMMANDS = {
    "command-complete": {
        "v": 1, "type": "command", "id": "c-1", "op": "complete",
        "task": "T-1042", "reason": "Verified by the office"},
    "command-extend": {
        "v": 1, "type": "command", "id": "c-2", "op": "extend",
        "task": "T-1042", "until": T0 + 3 * DAY, "reason": "Forensics"},
    "command-reassign": {
        "v": 1, "type": "command", "id": "c-3", "op": "reassign",
        "task": "T-1042", "to": "mps-a05", "reason": "Criminal case",
        "agency": "office"},
    "command-cancel": {
        "v": 1, "type": "command", "id": "c-4", "op": "cancel",
        "task": "T-1044", "reason": "Duplicate of T-1042"},
    "command-wait": {
        "v": 1, "type": "command", "id": "c-5", "op": "wait",
        "task": "T-1042", "reason": "Waiting for the provider"},
    "command-resume": {
        "v": 1, "type": "command", "id": "c-6", "op": "resume",
        "task": "T-1042", "reason": "Provider answered"},
    "command-retry": {
        "v": 1, "type": "command", "id": "c-7", "op": "retry",
        "task": "T-1042", "reason": "Mail server back",
        "delivery": "T-1042/2/escalation-1:mps-a05:email"},
}

ANSWERS = {
    "ack": {"v": 1, "type": "ack", "id": "r-1001", "seq": 42,
            "accepted_at": T0, "duplicate": False},
    "ack-duplicate": {"v": 1, "type": "ack", "id": "r-1001", "seq": 2**40,
                      "accepted_at": T0, "duplicate": True},
    "nack": {"v": 1, "type": "nack", "id": "r-1001", "code": "invalid",
             "error": "title: longer than 256 bytes"},
    "nack-nil-id": {"v": 1, "type": "nack", "id": None, "code": "too_large",
                    "error": "body larger than 98304 bytes"},
}

REPLAYS = {
    "replay": {"v": 1, "type": "replay", "from": 1},
    "replay-end": {"v": 1, "type": "replay-end", "last": 123456},
}

TASK = {
    "v": 1, "type": "task", "task": "T-1042", "state": "open",
    "change": "created", "agency": "mps-a05", "category": "cybersecurity",
    "severity": "critical", "title": "Defacement of a ministry portal",
    "created_at": T0, "due_at": T0 + DAY, "plan": 1,
    "rule": "critical-cyber-incidents", "reminders": [12 * HOUR, 2 * HOUR],
    "escalate_to": ["mps-a05", "office", "committee"],
    "escalate_after": [0, 12 * HOUR, 48 * HOUR], "notify": ["mic"],
    "origin_agency": "mic", "origin_id": "r-1001", "origin_seq": 41,
    "cause_seq": 41, "changed_at": T0}

EVENTS = {
    "report.accepted": dict(REPORTS["report-incident"], accepted_at=T0),
    "command.accepted": dict(COMMANDS["command-extend"], agency="office",
                             accepted_at=T0),
    "task.created": TASK,
    "task.updated": dict(TASK, state="in-progress", change="progress",
                         plan=2, by="mps-a05", note="Portal restored",
                         cause_seq=57, changed_at=T0 + HOUR),
    "task.closed": dict(TASK, state="done", change="completed", cause_seq=60,
                        by="office", reason="Verified", drill=True),
    "task.refused": {"v": 1, "type": "refusal", "task": "T-1042",
                     "agency": "mic", "id": "r-1009", "cause_seq": 77,
                     "reason": "T-1042 is not assigned to mic"},
    "alert.task-assigned": {
        "v": 1, "type": "alert", "alert_id": "T-1042/1/assigned",
        "kind": "task-assigned", "task": "T-1042", "agency": "mps-a05",
        "title": "Defacement of a ministry portal", "due_at": T0 + DAY,
        "fired_at": T0, "late": False, "drill": False, "plan": 1,
        "category": "cybersecurity", "severity": "critical",
        "rule": "critical-cyber-incidents", "notify": ["mic"]},
    "alert.reminder": {
        "v": 1, "type": "alert", "alert_id": "T-1042/1/reminder-1",
        "kind": "reminder", "task": "T-1042", "agency": "mps-a05",
        "title": "Defacement", "due_at": T0 + DAY, "fired_at": T0 + 12 * HOUR,
        "planned_at": T0 + 12 * HOUR, "late": True, "drill": False},
    "alert.overdue": {
        "v": 1, "type": "alert", "alert_id": "T-1042/1/overdue",
        "kind": "overdue", "task": "T-1042", "agency": "mps-a05",
        "title": "Defacement", "due_at": T0 + DAY, "fired_at": T0 + DAY,
        "late": False},
    "alert.escalation": {
        "v": 1, "type": "alert", "alert_id": "T-1042/2/escalation-1",
        "kind": "escalation", "task": "T-1042", "agency": "mps-a05",
        "title": "Defacement", "due_at": T0 + DAY,
        "fired_at": T0 + DAY + 12 * HOUR, "late": False, "drill": False,
        "level": 1, "to": "office", "plan": 2},
    "alert.missing-report": {
        "v": 1, "type": "alert",
        "alert_id": "P-quarterly-key-areas-mic-2026-Q3/1/missing",
        "kind": "missing-report", "task": "P-quarterly-key-areas-mic-2026-Q3",
        "agency": "mic", "title": "Quarterly report on the four key areas",
        "due_at": T0, "fired_at": T0, "late": False,
        "category": "information-security", "period": "2026-Q3"},
    "alert.refused": {
        "v": 1, "type": "alert", "alert_id": "refused/77",
        "kind": "refused", "task": "T-1042", "agency": "office",
        "title": "A report on a task that is not mic's", "fired_at": T0,
        "late": False, "reason": "T-1042 is not assigned to mic"},
}

EXTRA_EVENTS = {
    "task.updated-waiting": ("task.updated", dict(
        TASK, state="waiting", change="waiting", waiting_since=T0 + HOUR,
        business=True, working_hours=True, period="2026-Q3")),
    "task.created-no-lists": ("task.created", {
        k: v for k, v in TASK.items()
        if k not in ("reminders", "escalate_to", "escalate_after", "notify",
                     "severity", "origin_agency", "origin_id", "changed_at")}),
}

# Bodies the decoder must refuse, each for one of its rules.
REFUSED = {
    "refused-version-2": pack(dict(REPORTS["report-incident"], v=2)),
    "refused-huge-map": b"\xdf\xff\xff\xff\xff\xa1v\x01",
    "refused-huge-array": b"\x83\xa1v\x01\xa4type\xa4task"
    b"\xa9reminders\xdd\xff\xff\xff\xff",
    "refused-huge-str": b"\x82\xa1v\x01\xa2id\xdb\xff\xff\xff\xf0abc",
    "refused-duplicate-key": b"\x83\xa1v\x01\xa2id\xa1a\xa2id\xa1b",
    "refused-not-a-map": pack([1, "report"]),
    "refused-truncated": pack(REPORTS["report-incident"])[:40],
    "refused-ext": b"\x82\xa1v\x01\xa4type\xd6\x01abcd",
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if n.startswith("seed-"):
                os.unlink(os.path.join(d, n))


def conf(name):
    with open(os.path.join(SOURCE, "config", name), "rb") as f:
        return f.read()


# ---- configuration variants ----

CONFIG = {
    "minimal": "[baton]\n",
    "full": """[baton]
state_dir = state
auth = curve
agencies = /etc/baton/agencies.conf
routes = ../routes.conf
calendar = calendar.conf
map_size = 1GiB

[intake]
submit = tcp://0.0.0.0:7400
publish = ipc:///run/baton/intake.pub
replay = inproc://replay
max_message_size = 65536B
max_batch = 65536

[notify]
feed = tcp://127.0.0.1:7410
office = office
smtp = smtps://mail.example:465
smtp_from = baton@example.org
smtp_starttls = no
smtp_user = baton
smtp_password = s3cret
max_attempts = 1000
max_age = 365d
retry_min = 100ms
retry_max = 7d
timeout = 1h
max_inflight = 1024
""",
    "keys-new": """[baton]
server_key = keys/server.key
server_public = keys/server.pub

[intake]
rate = 0
burst = 1
max_body = 64K

[batonctl]
key = operator.key
""",
    "comments": """\xef\xbb\xbf; a BOM, comments and blanks
# hash comment
[baton]   ; trailing comment
  state_dir = /var/lib/baton
map_size = 2T
[deadline]
publish = ipc:///tmp/d.pub
replay = ipc:///tmp/d.replay
[router]
publish = tcp://127.0.0.1:7420
replay = tcp://127.0.0.1:7421
""",
    "errors": "[baton]\nmap_size = 64X\nnope = 1\n[nope]\n",
    "long-line": "[baton]\nstate_dir = /" + "x" * 250 + "\n",
}

ROUTES = {
    "minimal": "[rule all]\nassign = office\n",
    "business": """[defaults]
office = office
deadline = 3bd
reminders = 24h, 2h
escalation = office@+0, committee@+2d
working_hours = yes

[rule critical]
severity = >= critical
kind = incident, progress
assign = mps-a05
deadline = 16bh
reminders = 12h

[rule rest]
assign = mic-ais
working_hours = no
""",
    "matchers": """[rule a]
kind = incident
category = cybersecurity, cyber-defense, toxic-information
severity = low, medium
locality = HN, HCM, DN
agency = mic, mps-a05
drill = no
assign = hanoi-pc
deadline = 90s
reminders = 60s, 30s, 1s
escalation = office@+0, committee@+0, mic@+1h
notify = mic, office
continue = true

[rule b]
drill = true
assign = office
continue = false
""",
    "schedules": """[defaults]
deadline = 72h

[schedule weekly]
agency = mic
every = week
due = 2d
category = toxic-information
title = Weekly summary of toxic information taken down

[schedule monthly]
agency = hanoi, hcm
every = month
due = 5bd
category = cybersecurity
title = Monthly
reminders = 1d
escalation = office@+1d
notify = office

[schedule yearly]
agency = cpd
every = year
due = 30d
category = cyber-defense
title = Yearly report
working_hours = yes

[schedule daily]
agency = mps-a05
every = day
due = 2h
category = cybersecurity
title = Daily

[schedule drill]
agency = mps-a05, mod-cmd86
every = 20m
from = 2026-11-26T08:05:00Z
until = 2026-11-26T12:05:00Z
due = 5m
category = cyber-defense
title = Drill situation report
""",
    "errors": "[rule x]\nassign = office\n[rule x]\nassign = mic\n",
}

CALENDARS = {
    "utc": "[calendar]\ntimezone = UTC\n",
    "new-york": """[calendar]
timezone = America/New_York
workdays = sun, sat
hours = 00:00-24:00

[holidays]
2026-03-08 = DST starts
2026-11-01..2026-11-02 = DST ends
""",
    "lord-howe": """[holidays]
2100-12-31 = last day
1970-01-01 = first day
[calendar]
timezone = Australia/Lord_Howe
hours = 23:30-24:00
workdays = mon
""",
    "kolkata": """[calendar]
timezone = Asia/Kolkata
workdays = mon, tue, wed, thu, fri, sat
hours = 09:30-18:15
[holidays]
2026-01-26 = Republic Day
2026-01-01..2026-12-31 = all year
""",
    "london": """[calendar]
timezone = Europe/London
hours = 00:30-01:30
""",
    "errors": "[calendar]\ntimezone = ../../etc/passwd\n",
}

AGENCIES = {
    "minimal": "[agency office]\n",
    "webhooks": """[agency a]
name = Agency A
email = a@example.org, b@example.org, c@example.org, d@example.org, e@x.y, f@x.y, g@x.y, h@x.y
webhook = https://user:pw@hooks.example.org:8443/baton?x=1#f
webhook_secret = 0123456789abcdef0123456789abcdef
feed = no

[agency b.c_d-e]
webhook = http://[::1]:7480/hooks/b
webhook_secret = sixteen-chars-ok
feed = true
""",
    "errors": "[agency a]\nwebhook = http://x/\n[agency a]\n",
}


def agency_keys():
    """A variant with CurveZMQ keys and roles (lib/agency.h)."""
    try:
        from zmq.utils import z85
        k1 = z85.encode(bytes(range(32))).decode()
        k2 = z85.encode(bytes(range(32, 64))).decode()
    except ImportError:
        k1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        k2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    return ("[agency op]\nrole = operator\nkey = %s, %s\n\n"
            "[agency office]\nrole = office\n" % (k1, k2))


def main():
    for t in ("msg", "bus", "config", "routes", "calendar", "agency"):
        clear(t)

    bodies = {}
    bodies.update(REPORTS)
    bodies.update(COMMANDS)
    bodies.update(ANSWERS)
    bodies.update(REPLAYS)
    for topic, body in EVENTS.items():
        bodies["event-" + topic] = body
    for name, (topic, body) in EXTRA_EVENTS.items():
        bodies["event-" + name] = body
    for name, body in bodies.items():
        write("msg", name, pack(body))
    for name, data in REFUSED.items():
        write("msg", name, data)
    # fuzz_msg also reads a topic from the first bytes: a few records.
    for topic in ("task.created", "alert.escalation", "report.accepted"):
        write("msg", "record-" + topic, record(topic, EVENTS[topic]))

    for topic, body in EVENTS.items():
        write("bus", topic, record(topic, body))
    for name, (topic, body) in EXTRA_EVENTS.items():
        write("bus", name, record(topic, body))
    write("bus", "hb", record("hb", {}))
    write("bus", "long-topic", bytes([255]) + b"t" * 255 + pack({}))

    write("config", "baton.conf", conf("baton.conf"))
    for name, text in CONFIG.items():
        write("config", name, text.encode())
    write("routes", "routes.conf", conf("routes.conf"))
    for name, text in ROUTES.items():
        write("routes", name, text.encode())
    write("calendar", "calendar.conf", conf("calendar.conf"))
    for name, text in CALENDARS.items():
        write("calendar", name, text.encode())
    write("agency", "agencies.conf", conf("agencies.conf"))
    for name, text in AGENCIES.items():
        write("agency", name, text.encode())
    write("agency", "keys", agency_keys().encode())

    write_dict(os.path.join(HERE, "msg.dict"))
    shutil.copyfile(os.path.join(HERE, "msg.dict"),
                    os.path.join(HERE, "bus.dict"))
    return 0


# ---- the msgpack dictionary: keys and enum values as the wire has them ----

KEYS = """v type id kind category severity title body locality task period
occurred_at drill agency op until to reason seq accepted_at duplicate code
error from last state change created_at due_at plan rule reminders
escalate_to escalate_after notify origin_agency origin_id origin_seq
cause_seq by note changed_at business working_hours waiting_since alert_id
fired_at planned_at late level delivery""".split()

VALUES = """report command ack nack replay replay-end task refusal alert
incident progress completion periodic cybersecurity information-security
cyber-defense toxic-information low medium high critical complete extend
reassign cancel wait resume retry invalid unauthorized forbidden too_large
unsupported_version busy internal open in-progress waiting done cancelled
created completed extended reassigned resumed task-assigned reminder overdue
escalation missing-report refused 2026 2026-Q3 2026-H2 2026-07 2026-W05
2026-W53 office mic""".split()

TOPICS = """report.accepted command.accepted task.created task.updated
task.closed task.refused alert.task-assigned alert.reminder alert.overdue
alert.escalation alert.missing-report alert.refused hb""".split()

MARKERS = {
    "nil": b"\xc0", "false": b"\xc2", "true": b"\xc3", "v1": b"\xa1v\x01",
    "u64max": b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
    "i64min": b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
    "i64max": b"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff",
    "neg1": b"\xff", "u32": b"\xce\x00\x01\x00\x00",
    "map16": b"\xde\x00\x28", "map32": b"\xdf\xff\xff\xff\xff",
    "arr16": b"\xdc\x00\x10", "arr32": b"\xdd\xff\xff\xff\xff",
    "str8": b"\xd9\x80", "str16": b"\xda\x01\x00", "str32": b"\xdb\x00\x01\x00\x00",
    "bin8": b"\xc4\x01", "ext8": b"\xc7\x01\x01", "fixext1": b"\xd4\x01",
    "float64": b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", "reserved": b"\xc1",
    "utf8_overlong": b"\xc0\xaf", "utf8_surrogate": b"\xed\xa0\x80",
    "utf8_4byte": b"\xf0\x9f\x93\xa2", "nul": b"\x00",
}


def escape(b):
    return "".join(chr(c) if 0x20 <= c < 0x7f and c not in (0x22, 0x5c)
                   else "\\x%02x" % c for c in b)


def write_dict(path):
    lines = ["# msg.dict - msgpack keys, values and type markers of "
             "docs/protocol.md.",
             "# Written by make-corpus.py: edit that, not this."]
    for k in KEYS:
        lines.append('key_%s="%s"' % (k, escape(pack(k))))
    for v in VALUES:
        name = v.replace("-", "_").replace(".", "_")
        lines.append('val_%s="%s"' % (name, escape(pack(v))))
    for t in TOPICS:
        name = t.replace("-", "_").replace(".", "_")
        raw = t.encode()
        lines.append('topic_%s="%s"' % (name, escape(bytes([len(raw)]) + raw)))
    for name, b in MARKERS.items():
        lines.append('mp_%s="%s"' % (name, escape(b)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
