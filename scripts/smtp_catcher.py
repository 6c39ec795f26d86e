"""A real SMTP server that keeps every mail it accepts as a file: the hub's mail catcher.

Started by scripts/backing.sh (port 2525, folder .backing/mail) for scripts/run.sh, and by
the notifications tests on ports of their own. Built on aiosmtpd (Debian's
python3-aiosmtpd, which scripts/backing.sh installs), so the client side speaks to a real
SMTP implementation: EHLO, MAIL, RCPT, DATA, pipelining, 8BITMIME, SMTPUTF8.

Each accepted mail is written once per recipient, as
    <dir>/<recipient, lowercased>/<arrival time in ns>-<random>.eml
(the message as received, headers and MIME body), written to a hidden temporary name and
renamed, so a reader never sees half a file. Tests read a recipient's folder.

Usage: python3 scripts/smtp_catcher.py --port 2525 --dir .backing/mail [--host 127.0.0.1]
           [--tls-cert CERT --tls-key KEY [--implicit-tls]]
           [--auth-user USER --auth-password-file FILE]
           [--reject PREFIX] [--defer PREFIX --defer-times N]
With a certificate, STARTTLS is offered and required before MAIL, or, with --implicit-tls,
TLS is spoken from the first byte (SMTPS, RFC 8314) and STARTTLS is not offered; with a
user, AUTH (PLAIN, LOGIN) is required, over TLS only, and anyone else is refused (535).
Faults, for the tests: a recipient whose address starts with the --reject prefix is refused
for good (550, quoting the address, as real servers do); one starting with the --defer
prefix is told to try later (451, quoting it) its first N times (greylisting), then
accepted. Each such refusal is counted in <dir>/<recipient>/.refused (one line each).
It prints "listening on HOST:PORT" once it accepts connections, and stops on SIGTERM/SIGINT.
"""

import argparse
import hmac
import os
import re
import signal
import ssl
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

UNSAFE = re.compile(r"[^a-z0-9@._+-]")


def mailbox_name(address):
    """The folder name of an address: lowercased, anything unusual replaced by '_'."""
    name = UNSAFE.sub("_", address.lower())
    return name if name not in ("", ".", "..") else "_"


class Folder:
    """aiosmtpd handler: each mail to each recipient becomes one file."""

    def __init__(self, root, reject=None, defer=None, defer_times=0):
        self.root = root
        self.reject = reject
        self.defer = defer
        self.defer_times = defer_times
        self.deferred = {}

    def refused(self, address, reply):
        box = os.path.join(self.root, mailbox_name(address))
        os.makedirs(box, exist_ok=True)
        with open(os.path.join(box, ".refused"), "a", encoding="utf-8") as f:
            f.write(reply + "\n")
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        low = address.lower()
        if self.reject and low.startswith(self.reject):
            return self.refused(address, f"550 5.1.1 <{address}>: mailbox unavailable")
        if self.defer and low.startswith(self.defer):
            seen = self.deferred.get(low, 0)
            if seen < self.defer_times:
                self.deferred[low] = seen + 1
                return self.refused(address, f"451 4.7.1 <{address}>: greylisted, try again later")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        stamp = time.time_ns()
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        for rcpt in envelope.rcpt_tos:
            box = os.path.join(self.root, mailbox_name(rcpt))
            os.makedirs(box, exist_ok=True)
            name = f"{stamp}-{uuid.uuid4().hex}.eml"
            tmp = os.path.join(box, f".{name}.tmp")
            with open(tmp, "wb") as f:
                f.write(content)
            os.rename(tmp, os.path.join(box, name))
        return "250 Message accepted for delivery"


class Account:
    """aiosmtpd authenticator: one user and password."""

    def __init__(self, user, password):
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self.user)
            and hmac.compare_digest(auth_data.password, self.password)
        )
        return AuthResult(success=ok)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="folder the mails are written to")
    parser.add_argument("--tls-cert", help="PEM certificate: offer and require STARTTLS")
    parser.add_argument("--tls-key", help="its PEM private key")
    parser.add_argument(
        "--implicit-tls", action="store_true", help="TLS from the first byte instead of STARTTLS"
    )
    parser.add_argument("--auth-user", help="require AUTH as this user")
    parser.add_argument("--auth-password-file", help="the user's password, in a file")
    parser.add_argument("--reject", help="refuse (550) recipients starting with this")
    parser.add_argument("--defer", help="defer (451) recipients starting with this")
    parser.add_argument("--defer-times", type=int, default=1, help="how often each (default 1)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    options = {}
    implicit = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            implicit = context
        else:
            options.update(tls_context=context, require_starttls=True)
    if args.auth_user:
        with open(args.auth_password_file, encoding="utf-8") as f:
            password = f.read().rstrip("\n")
        options.update(
            authenticator=Account(args.auth_user, password),
            auth_required=True,
            # Under implicit TLS every connection is encrypted, but aiosmtpd only knows
            # of its own STARTTLS: it would refuse AUTH there.
            auth_require_tls=implicit is None,
        )
    handler = Folder(
        args.dir,
        reject=args.reject and args.reject.lower(),
        defer=args.defer and args.defer.lower(),
        defer_times=args.defer_times,
    )
    controller = Controller(handler, hostname=args.host, port=args.port, ssl_context=implicit, **options)
    controller.start()
    print(f"listening on {args.host}:{args.port}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
