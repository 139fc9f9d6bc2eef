"""An SMTP server on 127.0.0.1 that requires TLS — STARTTLS, or TLS from the first byte with MODE
`smtps` — and then AUTH (aiosmtpd), for the test of Offstage's encrypted, authenticated SMTP.
Each accepted message is appended to OUT as one JSON line (envelope and raw content). Usage:
python3 scripts/run_smtp_tls.py PORT CERT KEY USER PASSWORD OUT [starttls|smtps]"""

import json
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]
mode = sys.argv[7] if len(sys.argv) > 7 else "starttls"


class Store:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "authenticated": session.authenticated,
                "content": envelope.content.decode("utf-8", "replace"),
            }) + "\n")
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
if mode == "smtps":
    controller = Controller(
        Store(), hostname="127.0.0.1", port=int(port), ssl_context=context,
        authenticator=authenticate, auth_required=True, auth_require_tls=False,
    )
else:
    controller = Controller(
        Store(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_required=True, auth_require_tls=True,
    )
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
