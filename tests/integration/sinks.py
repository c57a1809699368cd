"""sinks - real servers for baton-notify to deliver to, on 127.0.0.1.

SmtpSink is Debian's aiosmtpd (python3-aiosmtpd) in a thread: a real SMTP
server that keeps every message it accepts, and with a certificate one
that requires STARTTLS (tls_certificate() makes one with openssl). HttpSink is the standard
library's HTTP server in a thread: it keeps every POST (path, headers,
body), answers with the status the test sets, and can be stopped and
started again on the same port to play a receiver that is down.

Only the standard library, python3-aiosmtpd and what batontest imports.
"""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller

from batontest import wait_until


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content,
                                       policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append({
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": msg,
                "message_id": msg["Message-ID"],
                "subject": str(msg["Subject"]),
                "body": msg.get_content(),
                "tls": session.ssl is not None,
            })
        return "250 OK"


class SmtpSink:
    """A real SMTP server on 127.0.0.1; .messages are what it accepted.
    With tls (an ssl.SSLContext), it offers STARTTLS and requires it."""

    def __init__(self, tls=None):
        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        extra = {"tls_context": tls, "require_starttls": True} if tls else {}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1",
                                     port=self.port, **extra)
        self.controller.start()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def received(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, count, timeout=10.0):
        wait_until(lambda: len(self.received()) >= count, timeout,
                   what="%d messages at the SMTP sink" % count)
        return self.received()

    def close(self):
        self.controller.stop()


def tls_certificate(directory):
    """A self-signed certificate for 127.0.0.1 made by openssl in directory:
    (an ssl server context holding it, the certificate's PEM path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


class HttpSink:
    """A real HTTP receiver on 127.0.0.1:port. .requests are the POSTs it
    answered; .status is what it answers (200 unless a test sets it)."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.requests = []
        self.status = 200
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.start()

    def start(self):
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with sink.lock:
                    sink.requests.append({
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "at": time.monotonic(),
                        "status": sink.status,
                    })
                    status = sink.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1",
                                                       self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        """Stop listening: connections are refused until start()."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def received(self):
        with self.lock:
            return list(self.requests)

    def wait_for(self, count, timeout=10.0):
        wait_until(lambda: len(self.received()) >= count, timeout,
                   what="%d requests at the HTTP sink" % count)
        return self.received()

    def close(self):
        self.stop()


def signature_ok(request, secret):
    """Whether a webhook request's X-Baton-Signature is the HMAC-SHA256
    of its body under secret."""
    want = "sha256=" + hmac.new(secret.encode(), request["body"],
                                hashlib.sha256).hexdigest()
    got = request["headers"].get("X-Baton-Signature", "")
    return hmac.compare_digest(want, got)


def body_json(request):
    return json.loads(request["body"])
