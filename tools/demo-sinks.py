#!/usr/bin/python3
"""demo-sinks - the demo's mail server and webhook receiver, on 127.0.0.1.

A real SMTP server (Debian's python3-aiosmtpd) that prints one line per
message it accepts, and an HTTP receiver that prints one line per webhook
POST with whether its X-Baton-Signature verifies against the agency's
webhook_secret in agencies.conf. Runs until SIGTERM.

usage: demo-sinks.py SMTP_PORT HTTP_PORT AGENCIES_CONF
"""
import configparser
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import signal
import sys
import threading

from aiosmtpd.controller import Controller


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Mail:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content,
                                       policy=email.policy.default)
        say("    [smtp] to %s: %s" % (", ".join(envelope.rcpt_tos),
                                      msg["Subject"]))
        return "250 OK"


def secrets(path):
    conf = configparser.ConfigParser(inline_comment_prefixes=(";",),
                                     interpolation=None)
    conf.read(path)
    return {s.split(None, 1)[1]: conf[s].get("webhook_secret")
            for s in conf.sections() if s.startswith("agency ")}


def main():
    smtp_port, http_port, agencies = int(sys.argv[1]), int(sys.argv[2]), \
        sys.argv[3]
    keys = secrets(agencies)

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            agency = self.path.rsplit("/", 1)[-1]
            key = (keys.get(agency) or "").encode()
            want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want,
                                     self.headers.get("X-Baton-Signature", ""))
            alert = json.loads(body)
            say("    [webhook] %s %s %s (signature %s)" % (
                self.path, alert["kind"], self.headers["Idempotency-Key"],
                "ok" if ok else "BAD"))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    mail = Controller(Mail(), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    web = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Hook)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    web.shutdown()
    mail.stop()


if __name__ == "__main__":
    main()
