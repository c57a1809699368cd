#!/usr/bin/python3
"""The systemd units, sysusers.d and tmpfiles.d files, as installed.

What is checked is what `make install` ships: the test runs `cmake
--install $BATON_BUILD` into a temporary DESTDIR and looks at that tree,
with the paths the build was configured with (CMAKE_INSTALL_PREFIX; the
units are made from systemd/*.in by configure_file()).

- `systemd-analyze verify` passes on every unit, silently. verify checks
  that ExecStart= names an executable, and the binaries are in the DESTDIR,
  not yet at their final place: so it runs on a copy of each installed unit
  whose ExecStart= has the DESTDIR put in front of its path, after the test
  has checked that the binary is there. Nothing else in the copy changes.
- `systemd-analyze security --offline=yes` on each unit: the overall
  exposure is at most the score recorded in docs/operations.md, and every
  check it marks as not met is one of the few accepted below (the host's
  root, AF_UNIX, the network for the two daemons that need it, what libzmq
  needs, and the char-rtc read access that ProtectClock= itself grants).
  The test is shown to bite: each hardening line taken out of a unit in
  turn must make it fail, through systemd-analyze or, for the four lines
  systemd-analyze does not score, through the settings check.
- The life cycle settings the daemons rely on (Type=notify, the watchdog,
  the directories, ordering, PartOf=/WantedBy=) are there, and so are the
  two allowances without which libzmq dies in the sandbox (found by
  running the units under systemd with systemd/try-units.sh, which this
  test cannot do: it needs root and boots a systemd of its own).
- systemd-sysusers and systemd-tmpfiles, run with --root on the tree, make
  the baton user and the state and runtime directories with their modes.

Needs systemd-analyze, systemd-sysusers and systemd-tmpfiles (Debian
package systemd, which tools/install-deps.sh installs): without them the
test fails, it does not skip.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batontest as bt  # noqa: E402

DAEMONS = ("intake", "router", "deadline", "notify")
SERVICES = ["baton-%s.service" % d for d in DAEMONS]
UNITS = SERVICES + ["baton.target"]

# The overall exposure of `systemd-analyze security --offline=yes` (systemd
# 252), as recorded in docs/operations.md. A unit may do better, not worse.
SCORES = {
    "baton-intake.service": 1.2,
    "baton-router.service": 0.3,
    "baton-deadline.service": 0.3,
    "baton-notify.service": 1.2,
}

# The checks each unit is allowed not to meet, and why.
ALWAYS_OPEN = {
    "RootDirectory=/RootImage=",        # runs in the host's root
    "RestrictAddressFamilies=~AF_UNIX",  # ipc://, journald, sd_notify
    "DeviceAllow=",                     # char-rtc:r, added by ProtectClock=
    "SystemCallFilter=~@resources",     # sched_setscheduler, for libzmq
}
NETWORK_OPEN = {                        # agencies, SMTP, webhooks, the feed
    "RestrictAddressFamilies=~AF_(INET|INET6)",
    "RestrictAddressFamilies=~AF_NETLINK",  # getifaddrs(), for libzmq
    "PrivateNetwork=",
    "IPAddressDeny=",
}
ACCEPTED = {
    "baton-intake.service": ALWAYS_OPEN | NETWORK_OPEN,
    "baton-router.service": ALWAYS_OPEN,
    "baton-deadline.service": ALWAYS_OPEN,
    "baton-notify.service": ALWAYS_OPEN | NETWORK_OPEN,
}

# The sandbox of every service. Taking any of these out must fail the test.
HARDENING = [
    "UMask", "NoNewPrivileges", "CapabilityBoundingSet",
    "AmbientCapabilities", "ProtectSystem", "ProtectHome", "PrivateTmp",
    "PrivateDevices", "DevicePolicy", "PrivateUsers", "PrivateIPC",
    "PrivateMounts", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock",
    "ProtectHostname", "ProtectProc", "ProcSubset", "KeyringMode",
    "RemoveIPC", "LockPersonality", "MemoryDenyWriteExecute",
    "RestrictRealtime", "RestrictSUIDSGID", "RestrictNamespaces",
    "RestrictAddressFamilies", "SystemCallArchitectures",
    "SystemCallFilter", "User",
]
NO_NETWORK = ["PrivateNetwork", "IPAddressDeny"]   # router, deadline
# Hardening that systemd-analyze 252 does not score (a default, or implied
# by another line): the settings check holds these.
UNSCORED = {
    "AmbientCapabilities": "",
    "DevicePolicy": "closed",
    "PrivateIPC": "yes",
    "KeyringMode": "private",
}

# What each daemon subscribes to: it starts after them.
AFTER = {
    "intake": [],
    "router": ["baton-intake.service"],
    "deadline": ["baton-router.service"],
    "notify": ["baton-intake.service", "baton-router.service",
               "baton-deadline.service"],
}

ANALYZE = shutil.which("systemd-analyze")
SYSUSERS = shutil.which("systemd-sysusers")
TMPFILES = shutil.which("systemd-tmpfiles")


def parse_unit(path):
    """{section: [(key, value)]}, keys in order, repeats kept."""
    sections, cur = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                cur = sections.setdefault(line.strip("[]"), [])
                continue
            k, _, v = line.partition("=")
            cur.append((k.strip(), v.strip()))
    return sections


def values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def one(sections, section, key):
    vs = values(sections, section, key)
    return vs[-1] if vs else None


def cmake_cache(build):
    cache = {}
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", line.rstrip("\n"))
            if m:
                cache[m.group(1)] = m.group(2)
    return cache


def security(path):
    """(overall exposure, [names of checks not met]) of one unit file."""
    text = subprocess.run([ANALYZE, "security", "--offline=yes", path],
                          capture_output=True, text=True, timeout=60)
    js = subprocess.run([ANALYZE, "security", "--offline=yes",
                         "--json=short", path],
                        capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", text.stdout)
    if text.returncode != 0 or js.returncode != 0 or not m:
        raise AssertionError("systemd-analyze security %s failed: %s%s"
                             % (path, text.stdout[-2000:], text.stderr))
    return float(m.group(1)), sorted(c["name"] for c in json.loads(js.stdout)
                                     if not c["set"])


class Installed:
    """The tree `cmake --install` makes, and verify-ready copies of the
    units (ExecStart= prefixed with the DESTDIR)."""

    def __init__(self):
        self.dir = bt.make_tmpdir("baton-sd-")
        self.root = os.path.join(self.dir, "root")
        env = dict(os.environ, DESTDIR=self.root)
        r = subprocess.run(["cmake", "--install", bt.BUILD], env=env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("cmake --install %s failed: %s%s"
                                 % (bt.BUILD, r.stdout, r.stderr))
        cache = cmake_cache(bt.BUILD)
        self.prefix = cache["CMAKE_INSTALL_PREFIX"]
        self.unitdir = cache["BATON_SYSTEMD_UNITDIR"]
        self.sysusersdir = cache["BATON_SYSUSERSDIR"]
        self.tmpfilesdir = cache["BATON_TMPFILESDIR"]
        self.units = os.path.join(self.dir, "units")
        os.mkdir(self.units)
        for u in UNITS:
            src = self.path(self.unitdir, u)
            with open(src) as f:
                text = f.read()
            text = re.sub(r"(?m)^ExecStart=(/\S+)",
                          lambda m: "ExecStart=" + self.path(m.group(1)),
                          text)
            with open(os.path.join(self.units, u), "w") as f:
                f.write(text)

    def path(self, *parts):
        """A path of the installed system, inside the DESTDIR."""
        return os.path.join(self.root, os.path.join(*parts).lstrip("/"))

    def unit(self, name):
        """The unit as installed."""
        return self.path(self.unitdir, name)

    def copy(self, name):
        """The verify-ready copy."""
        return os.path.join(self.units, name)


def settings_problems(path, name):
    """What is missing or wrong in one installed unit, as sentences."""
    s = parse_unit(path)
    bad = []

    def want(section, key, value):
        got = one(s, section, key)
        if got != value:
            bad.append("[%s] %s=%s, not %r" % (section, key, value, got))

    if name == "baton.target":
        wants = " ".join(values(s, "Unit", "Wants")).split()
        if sorted(wants) != sorted(SERVICES):
            bad.append("[Unit] Wants= the four services, not %r" % wants)
        want("Install", "WantedBy", "multi-user.target")
        return bad
    d = name[len("baton-"):-len(".service")]
    want("Unit", "PartOf", "baton.target")
    want("Install", "WantedBy", "baton.target")
    after = " ".join(values(s, "Unit", "After")).split()
    for a in AFTER[d]:
        if a not in after:
            bad.append("[Unit] After=%s missing" % a)
    for key, value in [
            ("Type", "notify"), ("NotifyAccess", "main"),
            ("WatchdogSec", "30s"), ("Restart", "on-failure"),
            ("ExecReload", "/bin/kill -HUP $MAINPID"),
            ("User", "baton"), ("Group", "baton"),
            ("StateDirectory", "baton/" + d), ("StateDirectoryMode", "0700"),
            ("RuntimeDirectory", "baton"),
            ("RuntimeDirectoryPreserve", "yes"),
            ("ConfigurationDirectory", "baton")] + list(UNSCORED.items()):
        want("Service", key, value)
    if not one(s, "Service", "RestartSec"):
        bad.append("[Service] RestartSec= missing")
    # What the daemons need to run at all in the sandbox, found by running
    # them under systemd 252 (systemd/try-units.sh): libzmq calls
    # pthread_setschedparam() in each of its threads and aborts if it fails
    # (SIGSYS without it), and getifaddrs() (netlink) on every tcp:// bind.
    filters = values(s, "Service", "SystemCallFilter")
    if "sched_setscheduler" not in filters[-1:]:
        bad.append("[Service] SystemCallFilter=sched_setscheduler is not "
                   "the last filter: libzmq is killed without it")
    families = (one(s, "Service", "RestrictAddressFamilies") or "").split()
    if d in ("intake", "notify") and "AF_NETLINK" not in families:
        bad.append("[Service] RestrictAddressFamilies= without AF_NETLINK: "
                   "libzmq aborts on a tcp:// bind")
    start = one(s, "Service", "ExecStart") or ""
    if not re.match(r"^/\S+/baton-%s -c /\S+/baton/baton\.conf$" % d, start):
        bad.append("[Service] ExecStart=%r is not PATH/baton-%s -c "
                   "PATH/baton/baton.conf" % (start, d))
    return bad


class SystemdTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [n for n, p in (("systemd-analyze", ANALYZE),
                                  ("systemd-sysusers", SYSUSERS),
                                  ("systemd-tmpfiles", TMPFILES)) if not p]
        if missing:
            raise AssertionError("%s not found: run tools/install-deps.sh "
                                 "(Debian package systemd)"
                                 % ", ".join(missing))
        bt.check_binaries(bt.INTAKE_BIN, bt.ROUTER_BIN, bt.DEADLINE_BIN,
                          bt.NOTIFY_BIN)
        cls.inst = Installed()

    def test_layout(self):
        """Units, sysusers.d, tmpfiles.d, binaries, config and docs where
        the units and systemd look for them."""
        inst = self.inst
        for u in UNITS:
            self.assertTrue(os.path.isfile(inst.unit(u)), u)
            with open(inst.unit(u)) as f:
                self.assertIsNone(re.search(r"@[A-Z_]+@", f.read()),
                                  "%s: a @VARIABLE@ left unsubstituted" % u)
        self.assertTrue(os.path.isfile(inst.path(inst.sysusersdir,
                                                 "baton.conf")))
        self.assertTrue(os.path.isfile(inst.path(inst.tmpfilesdir,
                                                 "baton.conf")))
        for d in DAEMONS:
            s = parse_unit(inst.unit("baton-%s.service" % d))
            binary, _, conf = one(s, "Service", "ExecStart").split()
            self.assertTrue(os.access(inst.path(binary), os.X_OK), binary)
            self.assertTrue(os.path.isfile(inst.path(conf)), conf)
            doc = one(s, "Unit", "Documentation")
            self.assertTrue(doc.startswith("file:"), doc)
            self.assertTrue(os.path.isfile(inst.path(doc[len("file:"):])),
                            doc)
        docdir = os.path.dirname(inst.path(doc[len("file:"):]))
        for f in ("operations.md", "security.md", "protocol.md",
                  "README.md"):
            self.assertTrue(os.path.isfile(os.path.join(docdir, f)), f)

    def test_verify(self):
        """systemd-analyze verify: exit 0 and not a word, for each unit."""
        for u in UNITS:
            with self.subTest(unit=u):
                r = subprocess.run([ANALYZE, "verify", self.inst.copy(u)],
                                   cwd=self.inst.units, capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual((r.returncode, r.stdout + r.stderr),
                                 (0, ""))

    def test_verify_bites(self):
        """verify does look: a typo and a missing binary are reported."""
        bad = os.path.join(self.inst.dir, "bad")
        os.mkdir(bad)
        shutil.copy(self.inst.copy("baton.target"), bad)
        src = self.inst.copy("baton-router.service")
        with open(src) as f:
            text = f.read()
        for what, broken in [
                ("typo", text.replace("ProtectHome=", "ProtectHomes=")),
                ("binary", re.sub(r"(?m)^ExecStart=\S+",
                                  "ExecStart=/nonexistent/baton-router",
                                  text))]:
            with self.subTest(what=what):
                path = os.path.join(bad, "baton-router.service")
                with open(path, "w") as f:
                    f.write(broken)
                r = subprocess.run([ANALYZE, "verify", path], cwd=bad,
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertNotEqual(r.stdout + r.stderr, "")

    def test_settings(self):
        for u in UNITS:
            with self.subTest(unit=u):
                self.assertEqual(settings_problems(self.inst.unit(u), u), [])
                if u in SERVICES:
                    s = parse_unit(self.inst.unit(u))
                    keys = {k for k, _ in s["Service"]}
                    need = HARDENING + (NO_NETWORK if u in (
                        "baton-router.service", "baton-deadline.service")
                        else [])
                    self.assertEqual([k for k in need if k not in keys], [])

    def test_security(self):
        """Each unit's exposure is at most its recorded score, and nothing
        but the accepted checks is left open."""
        for u in SERVICES:
            with self.subTest(unit=u):
                score, open_ = security(self.inst.unit(u))
                self.assertLessEqual(score, SCORES[u])
                self.assertLessEqual(score, 2.0)
                self.assertEqual(sorted(set(open_) - ACCEPTED[u]), [])

    def test_security_bites(self):
        """Every hardening line, taken out, fails the test."""
        mut = os.path.join(self.inst.dir, "mutants")
        os.mkdir(mut)
        for u in SERVICES:
            with open(self.inst.unit(u)) as f:
                lines = f.read().split("\n")
            keys = HARDENING + (NO_NETWORK if u in (
                "baton-router.service", "baton-deadline.service") else [])
            for key in keys:
                drop = [i for i, ln in enumerate(lines)
                        if ln.startswith(key + "=")]
                self.assertTrue(drop, "%s: no %s=" % (u, key))
                path = os.path.join(mut, u)
                with open(path, "w") as f:
                    f.write("\n".join(ln for i, ln in enumerate(lines)
                                      if i not in drop))
                with self.subTest(unit=u, without=key):
                    score, open_ = security(path)
                    caught = (score > SCORES[u] or
                              bool(set(open_) - ACCEPTED[u]))
                    if key in UNSCORED:
                        caught = bool(settings_problems(path, u))
                    self.assertTrue(caught, "%s without %s= still passes"
                                    % (u, key))

    def test_scores_recorded(self):
        """docs/operations.md records the scores this test holds."""
        with open(os.path.join(bt.SOURCE, "docs", "operations.md")) as f:
            doc = f.read()
        for u in SERVICES:
            m = re.search(r"^\| `%s` \| ([0-9.]+) " % re.escape(u), doc,
                          re.M)
            self.assertIsNotNone(m, "%s: no row in the table" % u)
            self.assertEqual(float(m.group(1)), SCORES[u], u)

    def test_sysusers_tmpfiles(self):
        """sysusers.d makes the baton user; tmpfiles.d its directories."""
        root = os.path.join(self.inst.dir, "sysroot")
        shutil.copytree(self.inst.root, root, symlinks=True)
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        r = subprocess.run([SYSUSERS, "--root=" + root], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        users = {}
        with open(os.path.join(root, "etc", "passwd")) as f:
            for line in f:
                p = line.rstrip("\n").split(":")
                users[p[0]] = p
        self.assertIn("baton", users)
        uid, gid = int(users["baton"][2]), int(users["baton"][3])
        self.assertLess(uid, 1000)              # a system user
        self.assertEqual(users["baton"][5], "/var/lib/baton")
        self.assertTrue(users["baton"][6].endswith("nologin"))
        with open(os.path.join(root, "etc", "group")) as f:
            self.assertIn("baton:x:%d:" % gid, f.read())

        r = subprocess.run([TMPFILES, "--root=" + root, "--create"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        for d, mode, owner in [("var/lib/baton", 0o755, 0),
                               ("var/lib/baton/intake", 0o700, uid),
                               ("var/lib/baton/router", 0o700, uid),
                               ("var/lib/baton/deadline", 0o700, uid),
                               ("var/lib/baton/notify", 0o700, uid),
                               ("run/baton", 0o750, uid)]:
            st = os.stat(os.path.join(root, d))
            self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid),
                             (mode, owner), d)


if __name__ == "__main__":
    bt.main()
