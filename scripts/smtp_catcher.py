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
It prints "listening on HOST:PORT" once it accepts connections, and stops on SIGTERM/SIGINT.
"""

import argparse
import os
import re
import signal
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller

UNSAFE = re.compile(r"[^a-z0-9@._+-]")


def mailbox_name(address):
    """The folder name of an address: lowercased, anything unusual replaced by '_'."""
    name = UNSAFE.sub("_", address.lower())
    return name if name not in ("", ".", "..") else "_"


class Folder:
    """aiosmtpd handler: each mail to each recipient becomes one file."""

    def __init__(self, root):
        self.root = root

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="folder the mails are written to")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    controller = Controller(Folder(args.dir), hostname=args.host, port=args.port)
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
