"""A real SMTP server for the email tests (aiosmtpd), on a free loopback port.

    python smtp_test.py --mode save --folder DIR [--tls CERT KEY] [--auth USER:PASSWORD]

Modes: `save` keeps each accepted mail as DIR/<n>.eml plus DIR/<n>.json (envelope);
`reject` answers RCPT TO with 550; `defer` answers RCPT TO with 451; `silent`
accepts TCP connections and never says a word (for timeouts).
Prints `READY <port>` on stdout once it accepts connections, then serves until killed.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, mode, folder):
        self.mode = mode
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if self.mode == "defer":
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.folder, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json.tmp", "w") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "auth": session.authenticated,
                },
                f,
            )
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as %d" % n


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["save", "reject", "defer", "silent"], default="save")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    args = parser.parse_args()
    # A child inherits its parent thread's signal mask; a test runner's thread may block SIGTERM.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.makedirs(args.folder, exist_ok=True)

    kwargs = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = bool(args.tls)

    if args.mode == "silent":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        print("READY %d" % listener.getsockname()[1], flush=True)
        held = []
        parent = os.getppid()
        listener.settimeout(0.2)
        while os.getppid() == parent:
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except socket.timeout:
                pass
        return 0

    port = free_port()
    controller = Controller(Handler(args.mode, args.folder), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("READY %d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.2):
        # The parent test went away: do not outlive it.
        if os.getppid() != parent:
            break
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
