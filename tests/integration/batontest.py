"""batontest - the integration tests' harness: real daemons in a temp dir.

Every test script imports this module. It

  - finds the binaries ($BATON_BUILD, default <repo>/build) and the source
    tree ($BATON_SOURCE, default the repo this file is in);
  - makes a private temporary directory with a baton.conf whose state_dir
    and every endpoint live inside it (ipc://, so that tests run in
    parallel never clash on a port);
  - starts baton-intake, baton-router (and bus-tap, on either daemon's
    bus) with a real sd_notify socket and waits for READY=1; stops each
    with SIGTERM and checks exit status 0 and STOPPING=1; kills it with
    SIGKILL for crash tests;
  - gives the router the routes file a test chooses ([baton] routes;
    default the bundled config/routes.conf);
  - talks to intake as an outside client would (pyzmq DEALER/REQ, msgpack);
  - runs batonctl and parses `log --json`, `verify`, `queue --json` and
    `task ID --json`.

Nothing outlives the test: every child gets SIGKILL when the test process
exits, however it exits (atexit, SIGTERM handler, and PR_SET_PDEATHSIG via
setpriv for the case where the test process itself is SIGKILLed), and the
temporary directory is removed unless BATON_KEEP_TMP=1.

Only the standard library plus python3-zmq and python3-msgpack.
"""

import atexit
import itertools
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

SOURCE = os.path.abspath(os.environ.get(
    "BATON_SOURCE",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
BUILD = os.path.abspath(os.environ.get("BATON_BUILD",
                                       os.path.join(SOURCE, "build")))
INTAKE_BIN = os.path.join(BUILD, "daemons", "intake", "baton-intake")
ROUTER_BIN = os.path.join(BUILD, "daemons", "router", "baton-router")
DEADLINE_BIN = os.path.join(BUILD, "daemons", "deadline", "baton-deadline")
NOTIFY_BIN = os.path.join(BUILD, "daemons", "notify", "baton-notify")
BATONCTL_BIN = os.path.join(BUILD, "tools", "batonctl", "batonctl")
BUSTAP_BIN = os.path.join(BUILD, "tests", "bus-tap")

KEEP_TMP = os.environ.get("BATON_KEEP_TMP") == "1"

BUNDLED_ROUTES = os.path.join(SOURCE, "config", "routes.conf")
BUNDLED_CALENDAR = os.path.join(SOURCE, "config", "calendar.conf")

# Limits of PROTOCOL.md and lib/msg.h, in bytes.
ID_MAX = 128
TITLE_MAX = 256
BODY_MAX = 65536
REASON_MAX = 1024
TASK_MAX = 128
AGENCY_MAX = 64
LOCALITY_MAX = 64
PERIOD_MAX = 16
FRAME_MAX = 96 * 1024

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
ANSWER_TIMEOUT = 5.0
# How long env.log() waits for intake to commit what it acknowledged.
LOG_TIMEOUT = 5.0

# ---------------------------------------------------------------- cleanup

_children = {}          # pid -> Popen, every child still to reap
_tmpdirs = []


def _kill_children():
    for p in list(_children.values()):
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
        try:
            p.wait(timeout=5)
        except Exception:
            pass
    _children.clear()


def _remove_tmpdirs():
    if KEEP_TMP:
        return
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    del _tmpdirs[:]


def _cleanup():
    _kill_children()
    _remove_tmpdirs()


atexit.register(_cleanup)


def _on_term(signum, frame):
    # A user's or a runner's SIGTERM: kill the children, remove the dirs.
    _cleanup()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)

_SETPRIV = shutil.which("setpriv")


def spawn(argv, env=None, stdout=None, stderr=None):
    """Popen that dies with us (PR_SET_PDEATHSIG through setpriv).

    The death signal follows the thread that forks: call this from the
    main thread only."""
    full = list(argv)
    if _SETPRIV:
        full = [_SETPRIV, "--pdeathsig", "KILL", "--"] + full
    p = subprocess.Popen(full, env=env, stdin=subprocess.DEVNULL,
                         stdout=stdout, stderr=stderr, close_fds=True)
    _children[p.pid] = p
    return p


def reap(p):
    _children.pop(p.pid, None)


def check_binaries(*paths):
    missing = [p for p in paths if not os.access(p, os.X_OK)]
    if missing:
        raise AssertionError(
            "not built: %s (set BATON_BUILD to the cmake build directory)"
            % ", ".join(missing))


def make_tmpdir(prefix="baton-it-"):
    """A temporary directory short enough for ipc:// and AF_UNIX paths."""
    base = tempfile.gettempdir()
    if len(base) > 40:
        base = "/tmp"
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    _tmpdirs.append(d)
    return d


# ---------------------------------------------------------------- sd_notify

class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket.

    Like systemd, it reads every datagram as it comes (in a thread): an
    unread socket fills after net.unix.max_dgram_qlen datagrams and the
    daemon's next sd_notify() would block.
    """

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []      # every datagram, as a list of lines
        self.cond = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closing:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
                if not ready:
                    continue
                data = self.sock.recv(65536)
            except (OSError, ValueError):
                return
            lines = data.decode("utf-8", "replace").split("\n")
            with self.cond:
                self.messages.append(lines)
                self.cond.notify_all()

    def seen(self, assignment):
        with self.cond:
            return any(assignment in m for m in self.messages)

    def wait_for(self, assignment, timeout):
        """Wait until a datagram carries assignment; whether one did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(assignment in m for m in self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self):
        if self.closing:
            return
        self.closing = True
        self.thread.join(timeout=5)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Process:
    """A daemon-like child with a notify socket and a stderr file."""

    _serial = itertools.count(1)

    def __init__(self, tmpdir, name, argv):
        self.tmpdir = tmpdir
        self.name = name
        self.argv = argv
        self.proc = None
        self.notify = None
        self.log_path = None
        self.starts = 0

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=READY_TIMEOUT, extra_env=None):
        assert not self.running(), "%s already running" % self.name
        n = next(Process._serial)
        self.starts += 1
        self.notify = NotifySocket(
            os.path.join(self.tmpdir, "notify-%s-%d" % (self.name, n)))
        self.log_path = os.path.join(self.tmpdir,
                                     "%s.%d.log" % (self.name, self.starts))
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify.path
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.pop("INVOCATION_ID", None)
        env.pop("JOURNAL_STREAM", None)     # log to stderr, not journald
        if extra_env:
            env.update(extra_env)
        with open(self.log_path, "wb") as log:
            self.proc = spawn(self.argv, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            if self.notify.wait_for("READY=1", 0.05):
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                reap(self.proc)
                raise AssertionError(
                    "%s exited with %s before READY=1; its output:\n%s"
                    % (self.name, rc, self.output()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                reap(self.proc)
                raise AssertionError(
                    "%s sent no READY=1 within %.0f s; its output:\n%s"
                    % (self.name, timeout, self.output()))

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM; check exit status 0 and STOPPING=1. Returns the status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                reap(self.proc)
                if check:
                    raise AssertionError(
                        "%s did not stop within %.0f s of SIGTERM; its "
                        "output:\n%s" % (self.name, timeout, self.output()))
        rc = self.proc.returncode
        reap(self.proc)
        stopping = self.notify.wait_for("STOPPING=1", 0.5)
        self.notify.close()
        self.proc = None
        if check:
            if rc != 0:
                raise AssertionError("%s exited with %s on SIGTERM; its "
                                     "output:\n%s"
                                     % (self.name, rc, self.output()))
            if not stopping:
                raise AssertionError("%s sent no STOPPING=1 on SIGTERM; "
                                     "notifications: %r"
                                     % (self.name, self.notify.messages))
        return rc

    def kill(self):
        """SIGKILL, as a crash."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        reap(self.proc)
        self.notify.close()
        self.proc = None

    def output(self, tail=8000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except (OSError, TypeError):
            return "(no output)"
        text = data.decode("utf-8", "replace")
        return text[-tail:] if len(text) > tail else text


# ---------------------------------------------------------------- the env

class BatonEnv:
    """A temp dir with baton.conf, state, endpoints, and the daemons.

    routes: the routes file the router reads ([baton] routes): None for
    the bundled config/routes.conf, or a path (use write_file() to make
    one in the temp dir; it may not exist until the router starts).
    calendar: the business calendar ([baton] calendar): "bundled" for
    config/calendar.conf (the default with the bundled routes), a path, or
    None for none.
    agencies: the agencies file baton-notify reads ([baton] agencies): a
    path, or None for none. notify: more "key = value" lines for [notify]
    (a dict), e.g. the SMTP server of a test's sink; baton, intake and
    batonctl the same for their sections (auth = curve and its keys).
    bus: "ipc" (the default) or "tcp" for the daemons' own sockets, as
    across hosts."""

    def __init__(self, submit="ipc", max_message_size="1M", max_batch=None,
                 map_size="64M", routes=None, calendar=None, agencies=None,
                 notify=None, baton=None, intake=None, batonctl=None,
                 bus="ipc"):
        check_binaries(INTAKE_BIN, BATONCTL_BIN)
        self.dir = make_tmpdir()
        self.state_dir = os.path.join(self.dir, "state")
        os.mkdir(self.state_dir)
        if submit == "ipc":
            self.submit = "ipc://" + os.path.join(self.dir, "submit")
        elif submit == "tcp":
            self.submit = "tcp://127.0.0.1:%d" % free_port()
        else:
            self.submit = submit
        def ep(name):
            if bus == "tcp":
                return "tcp://127.0.0.1:%d" % free_port()
            return "ipc://" + os.path.join(self.dir, name)
        self.publish = ep("intake.pub")
        self.replay = ep("intake.replay")
        self.router_publish = ep("router.pub")
        self.router_replay = ep("router.replay")
        self.deadline_publish = ep("deadline.pub")
        self.deadline_replay = ep("deadline.replay")
        self.feed = "ipc://" + os.path.join(self.dir, "feed")
        self.routes = os.path.abspath(routes or BUNDLED_ROUTES)
        # The bundled rules count some deadlines in business time.
        if calendar is None and routes is None:
            calendar = "bundled"
        if calendar == "bundled":
            calendar = BUNDLED_CALENDAR
        self.conf = os.path.join(self.dir, "baton.conf")
        baton = dict({"auth": "none"}, **(baton or {}))
        lines = [
            "; written by tests/integration/batontest.py",
            "[baton]",
            "state_dir = %s" % self.state_dir,
        ] + ["%s = %s" % kv for kv in baton.items()] + [
            "map_size = %s" % map_size,
            "routes = %s" % self.routes,
        ]
        if calendar is not None:
            lines.append("calendar = %s" % os.path.abspath(calendar))
        if agencies is not None:
            lines.append("agencies = %s" % os.path.abspath(agencies))
        lines += ["", "[notify]", "feed = %s" % self.feed]
        for k, v in (notify or {}).items():
            lines.append("%s = %s" % (k, v))
        lines += [
            "",
            "[router]",
            "publish = %s" % self.router_publish,
            "replay = %s" % self.router_replay,
            "",
            "[deadline]",
            "publish = %s" % self.deadline_publish,
            "replay = %s" % self.deadline_replay,
            "",
            "[intake]",
            "submit = %s" % self.submit,
            "publish = %s" % self.publish,
            "replay = %s" % self.replay,
        ]
        if max_message_size is not None:
            lines.append("max_message_size = %s" % max_message_size)
        if max_batch is not None:
            lines.append("max_batch = %s" % max_batch)
        # Load tests flood from one agency: no rate limit unless asked.
        for k, v in dict({"rate": "0"}, **(intake or {})).items():
            lines.append("%s = %s" % (k, v))
        if batonctl:
            lines += ["", "[batonctl]"] + ["%s = %s" % kv
                                           for kv in batonctl.items()]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.intake = Process(self.dir, "intake",
                              [INTAKE_BIN, "-c", self.conf])
        self.router = Process(self.dir, "router",
                              [ROUTER_BIN, "-c", self.conf])
        self.deadline = Process(self.dir, "deadline",
                                [DEADLINE_BIN, "-c", self.conf])
        self.notify = Process(self.dir, "notify",
                              [NOTIFY_BIN, "-c", self.conf])
        self.ctx = zmq.Context()
        self.clients = []
        self.taps = []

    # -- daemons

    def start_intake(self):
        return self.intake.start()

    def start_router(self):
        check_binaries(ROUTER_BIN)
        return self.router.start()

    def start_deadline(self):
        check_binaries(DEADLINE_BIN)
        return self.deadline.start()

    def start_notify(self):
        check_binaries(NOTIFY_BIN)
        return self.notify.start()

    @property
    def router_state(self):
        """The router's LMDB directory (state_dir/router)."""
        return os.path.join(self.state_dir, "router")

    def write_file(self, name, text):
        """Write text to name in the temp dir (atomically); its path."""
        path = os.path.join(self.dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        return path

    def tap(self, name="tap", delay_us=None, publisher="intake"):
        """A bus-tap subscribed to publisher "intake", "router" or
        "deadline" (not started yet)."""
        check_binaries(BUSTAP_BIN)
        state = os.path.join(self.dir, name)
        if publisher == "intake":
            pub, replay = self.publish, self.replay
        elif publisher == "router":
            pub, replay = self.router_publish, self.router_replay
        elif publisher == "deadline":
            pub, replay = self.deadline_publish, self.deadline_replay
        else:
            raise ValueError("no publisher %r" % publisher)
        argv = [BUSTAP_BIN, "--state", state, "--name", publisher,
                "--pub", pub, "--replay", replay]
        if delay_us is not None:
            argv += ["--delay-us", str(delay_us)]
        t = Tap(self, name, state, argv)
        self.taps.append(t)
        return t

    # -- clients

    def client(self, sock_type=zmq.DEALER, endpoint=None, curve=None):
        c = Client(self.ctx, endpoint or self.submit, sock_type, curve)
        self.clients.append(c)
        return c

    # -- batonctl

    def batonctl(self, *args, timeout=60):
        r = subprocess.run([BATONCTL_BIN, "-c", self.conf] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        r.out = r.stdout.decode("utf-8", "replace")
        r.err = r.stderr.decode("utf-8", "replace")
        return r

    def log(self):
        """`batonctl log --json`, as a list of dicts, in order.

        intake commits answered reports to its log at a checkpoint, up to
        [intake] checkpoint after the ACK (until then its write-ahead file
        holds them). While intake runs, this waits (LOG_TIMEOUT at most)
        until the log reaches the highest seq any of this env's clients
        was acknowledged with; a stopped or killed intake is not waited
        for."""
        want = max((c.acked for c in self.clients), default=0)
        deadline = time.monotonic() + LOG_TIMEOUT
        while True:
            recs = self.read_log()
            if (not recs and not want) or (recs and recs[-1]["seq"] >= want) \
                    or not self.intake.running() \
                    or time.monotonic() > deadline:
                return recs
            time.sleep(0.005)

    def read_log(self):
        """`batonctl log --json` now, as a list of dicts, in order."""
        r = self.batonctl("log", "--json")
        if r.returncode != 0:
            raise AssertionError("batonctl log --json exited %d: %s%s"
                                 % (r.returncode, r.out, r.err))
        recs = []
        for line in r.out.splitlines():
            if line.strip():
                recs.append(json.loads(line))
        return recs

    def verify(self):
        """`batonctl verify` must pass; returns its output."""
        r = self.batonctl("verify")
        if r.returncode != 0:
            raise AssertionError("batonctl verify exited %d: %s%s"
                                 % (r.returncode, r.out, r.err))
        return r.out

    def queue(self, *args):
        """`batonctl queue --json [args]`: the open tasks, as dicts, in
        the order printed."""
        r = self.batonctl("queue", "--json", *args)
        if r.returncode != 0:
            raise AssertionError("batonctl queue --json exited %d: %s%s"
                                 % (r.returncode, r.out, r.err))
        return [json.loads(line) for line in r.out.splitlines()
                if line.strip()]

    def task(self, task_id):
        """`batonctl task ID --json` as a dict (with "history"), or None
        when there is no such task (yet)."""
        r = self.batonctl("task", task_id, "--json")
        if r.returncode != 0:
            if "no task" in r.err or "no tasks yet" in r.err:
                return None
            raise AssertionError("batonctl task %s --json exited %d: %s%s"
                                 % (task_id, r.returncode, r.out, r.err))
        return json.loads(r.out)

    def wait_task(self, task_id, pred=None, timeout=10.0, what=None):
        """Poll until task_id exists (and pred(task) holds); the task."""
        def ready():
            t = self.task(task_id)
            if t is not None and (pred is None or pred(t)):
                return t
            return None
        return wait_until(ready, timeout, interval=0.05,
                          what=what or "task %s" % task_id)

    # -- end

    def close(self):
        """Kill what is still running and remove the directory."""
        for c in self.clients:
            c.close()
        self.clients = []
        for t in self.taps:
            t.kill()
        self.notify.kill()
        self.deadline.kill()
        self.router.kill()
        self.intake.kill()
        self.ctx.destroy(linger=0)
        if not KEEP_TMP:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.dir in _tmpdirs:
                _tmpdirs.remove(self.dir)


class Tap(Process):
    """tests/bus-tap: a subscriber that records every event it applies.

    A row is (seq, topic, agency, id): for intake's events the reporting
    agency and the report or command id; for the router's task events the
    assigned agency and the task id; for task.refused the sender and the
    task id."""

    def __init__(self, env, name, state, argv):
        super().__init__(env.dir, name, argv)
        self.state = state

    def dump(self):
        """(rows, dups, disorder): rows = [(seq, topic, agency, id)]."""
        r = subprocess.run([BUSTAP_BIN, "--state", self.state, "--dump"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise AssertionError("bus-tap --dump exited %d: %s"
                                 % (r.returncode,
                                    r.stderr.decode("utf-8", "replace")))
        rows, dups, disorder = [], None, None
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "dups":
                dups = int(parts[1])
            elif parts[0] == "disorder":
                disorder = int(parts[1])
            else:
                rows.append((int(parts[0]), parts[1], parts[2], parts[3]))
        if dups is None or disorder is None:
            raise AssertionError("bus-tap --dump: no dups/disorder lines")
        return rows, dups, disorder


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- clients

class NoAnswer(AssertionError):
    pass


def read_keyfile(path):
    """A key file of batonctl keygen: (public, secret or None), Z85 bytes."""
    keys = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith(";"):
                k, v = line.split("=", 1)
                keys[k.strip()] = v.strip().encode()
    return keys["public"], keys.get("secret")


def curve_client(sock, key, server):
    """Make sock a CURVE client with the pair in file key, of the server
    whose public key file is server."""
    pub, sec = read_keyfile(key)
    sock.curve_publickey = pub
    sock.curve_secretkey = sec
    sock.curve_serverkey = read_keyfile(server)[0]


class Client:
    """A submitting client: DEALER (one frame) or REQ. curve: (key file,
    server public key file) to connect with CURVE."""

    def __init__(self, ctx, endpoint, sock_type=zmq.DEALER, curve=None):
        self.sock_type = sock_type
        self.sock = ctx.socket(sock_type)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve:
            curve_client(self.sock, *curve)
        self.sock.connect(endpoint)
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)
        self.acked = 0          # the highest seq acknowledged to it

    def send(self, body):
        """body: a dict (packed), bytes (one raw frame) or a list of bytes
        (one multi-frame message, sent as is)."""
        if isinstance(body, list):
            self.sock.send_multipart(body)
        else:
            self.sock.send(pack(body) if isinstance(body, dict) else body)

    def recv_frames(self, timeout=ANSWER_TIMEOUT):
        """One message's frames, or None after timeout seconds."""
        if not self.poller.poll(int(timeout * 1000)):
            return None
        return self.sock.recv_multipart()

    def recv(self, timeout=ANSWER_TIMEOUT):
        """One answer, unpacked (the last frame), or None."""
        frames = self.recv_frames(timeout)
        if frames is None:
            return None
        a = unpack(frames[-1])
        if isinstance(a, dict) and a.get("type") == "ack" and \
                isinstance(a.get("seq"), int):
            self.acked = max(self.acked, a["seq"])
        return a

    def request(self, body, timeout=ANSWER_TIMEOUT):
        self.send(body)
        a = self.recv(timeout)
        if a is None:
            raise NoAnswer("no answer within %.1f s" % timeout)
        return a

    def close(self):
        self.sock.close(0)


def pack(d):
    return msgpack.packb(d, use_bin_type=True)


def unpack(b):
    return msgpack.unpackb(b, raw=False, strict_map_key=False)


# ---------------------------------------------------------------- bodies

_ids = itertools.count(1)
DROP = object()         # a value meaning "leave this key out"


def uid(prefix="r"):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_ids))


_UNSET = object()


def _apply(d, fields):
    for k, v in fields.items():
        if v is _UNSET:
            continue
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def report(id=_UNSET, agency="ministry-a", kind="incident", **fields):
    """A valid report body; fields override or (with DROP) remove keys."""
    d = {"v": 1, "type": "report", "id": uid(), "kind": "incident",
         "category": "cybersecurity", "title": "a title",
         "agency": "ministry-a"}
    if kind == "incident":
        d["severity"] = "high"
    elif kind in ("progress", "completion"):
        d["task"] = "T-1"
    elif kind == "periodic":
        d["period"] = "2026-Q3"
    return _apply(d, dict(fields, id=id, agency=agency, kind=kind))


def command(op="complete", id=_UNSET, agency="office", **fields):
    """A valid command body."""
    d = {"v": 1, "type": "command", "id": uid("c"), "op": "complete",
         "task": "T-1", "reason": "because", "agency": "office"}
    if op == "extend":
        d["until"] = 1795000000000
    elif op == "reassign":
        d["to"] = "ministry-b"
    return _apply(d, dict(fields, id=id, agency=agency, op=op))


# Hand-built msgpack, for what msgpack-python will not produce: duplicate
# keys, invalid UTF-8 in a str, chosen integer or string encodings.

class Raw(bytes):
    """Bytes already in msgpack form."""


def raw_str(b):
    """A msgpack str holding the bytes b as they are (even invalid UTF-8)."""
    n = len(b)
    if n < 32:
        h = bytes([0xa0 | n])
    elif n < 256:
        h = b"\xd9" + bytes([n])
    elif n < 65536:
        h = b"\xda" + struct.pack(">H", n)
    else:
        h = b"\xdb" + struct.pack(">I", n)
    return Raw(h + b)


def raw_str32(b):
    return Raw(b"\xdb" + struct.pack(">I", len(b)) + b)


def raw_uint(v, width):
    """v as uint8/16/32/64 (width in bytes)."""
    code = {1: 0xcc, 2: 0xcd, 4: 0xce, 8: 0xcf}[width]
    fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[width]
    return Raw(bytes([code]) + struct.pack(fmt, v))


def raw_int(v, width):
    """v as int8/16/32/64."""
    code = {1: 0xd0, 2: 0xd1, 4: 0xd2, 8: 0xd3}[width]
    fmt = {1: ">b", 2: ">h", 4: ">i", 8: ">q"}[width]
    return Raw(bytes([code]) + struct.pack(fmt, v))


def _enc(x):
    return bytes(x) if isinstance(x, Raw) else pack(x)


def raw_map(items):
    """A msgpack map from a list of (key, value) pairs, in order, duplicates
    kept; a key or value that is Raw goes in as it is."""
    n = len(items)
    if n < 16:
        h = bytes([0x80 | n])
    elif n < 65536:
        h = b"\xde" + struct.pack(">H", n)
    else:
        h = b"\xdf" + struct.pack(">I", n)
    return h + b"".join(_enc(k) + _enc(v) for k, v in items)


# ---------------------------------------------------------------- checks

def resend_due(sock, inflight, frame, now, after):
    """Send each id of inflight (id -> monotonic time it was last sent, 0.0
    for never) that is due: never sent, or sent `after` seconds ago or
    more; frame(id) is its message. Stops at a full queue. Returns how many
    of the sends were resends."""
    resends = 0
    for i, last in list(inflight.items()):
        if now - last >= after:
            try:
                sock.send(frame(i), zmq.NOBLOCK)
            except zmq.Again:
                break
            if last:
                resends += 1
            inflight[i] = now
    return resends


def check_answer(name, a, known, acks, errors):
    """Check answer a, received by client name, which resends each id until
    it is acknowledged (test_crash, tests/chaos). known: the ids it sent;
    acks: id -> (seq, accepted_at) of each id's first ACK, updated here.

    Returns (verdict, id): "resend" for a NACK busy or internal (allowed:
    resend later); "first" and "again" for the first and a later ACK of the
    id; "refused" for any other NACK and "bad" for an answer that is not an
    ACK of a known id, both appended to errors as is a later ACK that
    differs from the first or is not marked duplicate."""
    i = a.get("id")
    if a.get("type") == "nack":
        if a.get("code") in ("busy", "internal"):
            return "resend", i
        errors.append("%s: nack for %s: %r" % (name, i, a))
        return "refused", i
    if a.get("type") != "ack" or i not in known:
        errors.append("%s: unexpected answer %r" % (name, a))
        return "bad", i
    got = (a["seq"], a["accepted_at"])
    if i not in acks:
        acks[i] = got
        return "first", i
    if acks[i] != got:
        errors.append("%s: %s acked as %r, then as %r"
                      % (name, i, acks[i], got))
    elif not a["duplicate"]:
        errors.append("%s: %s acked twice as new: %r" % (name, i, a))
    return "again", i


def by_id(log):
    """{(agency, id): [records]} of a log."""
    out = {}
    for rec in log:
        out.setdefault((rec.get("agency"), rec.get("id")), []).append(rec)
    return out


def wait_until(pred, timeout, interval=0.1, what="condition"):
    """Poll pred() until it returns a true value; return it, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def main():
    """unittest.main() with verbose output and a non-zero exit on failure."""
    unittest.main(verbosity=2)


def submit_many(client, bodies, window=200, timeout=ANSWER_TIMEOUT):
    """Submit bodies through one DEALER, up to window in flight; every one
    must be acknowledged. Returns the acks, in order."""
    acks = []
    for i in range(0, len(bodies), window):
        part = bodies[i:i + window]
        for b in part:
            client.send(b)
        for b in part:
            a = client.recv(timeout)
            if a is None:
                raise NoAnswer("no answer within %.1f s" % timeout)
            if a.get("type") != "ack":
                raise AssertionError("refused: %r" % (a,))
            acks.append(a)
    return acks
