"""A real SMTP server for the e2e suites (Debian's python3-aiosmtpd, run with /usr/bin/python3).

    /usr/bin/python3 smtp_server.py PORT DIR [CERT KEY USER PASSWORD]

Listens on 127.0.0.1:PORT and writes every message it accepts to DIR as NNNNNN.json
({"mail_from", "rcpt_tos", "data", "tls", "auth_user"}: the raw message as received), written to
a temporary name and renamed, so a reader never sees half a file. With CERT and KEY it offers
STARTTLS and requires it, and requires AUTH (PLAIN/LOGIN) as USER with PASSWORD. Prints "ready"
on stdout once it accepts connections; stops on SIGTERM.
"""
import asyncio
import json
import os
import signal
import sys
import threading

import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = len([n for n in os.listdir(directory) if n.endswith(".json")])

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with self.lock:
            self.count += 1
            name = os.path.join(self.directory, "%06d.json" % self.count)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": data.decode("utf-8", "replace"),
            # STARTTLS sets session.ssl; implicit TLS shows on the connection's transport
            "tls": bool(session.ssl) or server.transport.get_extra_info("ssl_object") is not None,
            "auth_user": session.auth_data.login.decode() if session.auth_data else None,
        }
        tmp = name + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, name)
        return "250 OK"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    kwargs = {}
    if len(sys.argv) >= 7:
        cert, key, user, password = sys.argv[3:7]
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        if len(sys.argv) >= 8 and sys.argv[7] == "implicit":  # smtps: TLS from the first byte
            # the connection is TLS from the first byte: AUTH may be offered at once
            kwargs = dict(ssl_context=ctx, auth_required=True, auth_require_tls=False,
                          authenticator=authenticator)
        else:
            kwargs = dict(tls_context=ctx, require_starttls=True, auth_required=True,
                          authenticator=authenticator)
    controller = Controller(Store(directory), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
