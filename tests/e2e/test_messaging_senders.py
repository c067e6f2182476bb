"""The real senders: email to an SMTP server started here (aiosmtpd, plain and STARTTLS with AUTH),
SMS to an HMAC-signed webhook served here; failed sends are retried from the durable queue, also
across a kill -9 of the daemon."""
from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import json
import re
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import GENEROUS_LIMITS, free_port
from signin_helpers import make_signin_pool

PASSWORD = "Correct-Horse-9"
WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789"


class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "data": envelope.content.decode("utf-8", "replace"),
                              "auth": session.auth_data, "tls": session.ssl is not None})
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} emails after {timeout} s"
            time.sleep(0.05)
        return self.messages


def sign_up(cognito, sp, **attributes) -> str:
    name = sp.username()
    cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD,
                    UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()])
    return name


def smtp_certificates(tmp_path) -> tuple[str, str, str]:
    """A test CA and a server certificate for 127.0.0.1 / localhost signed by it: (ca, cert, key)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject: str, key, issuer_name, issuer_key, ca: bool):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp test CA")])
    ca_cert = build("smtp test CA", ca_key, ca_name, ca_key, ca=True)
    server_cert = build("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    paths = tmp_path / "ca.pem", tmp_path / "smtp.pem", tmp_path / "smtp.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return tuple(str(p) for p in paths)


def smtp_config(port: int, security: str) -> str:
    """The daemon configuration sending email to the SMTP server on `port` (more keys may follow)."""
    return GENEROUS_LIMITS + f"""
[messaging.email]
sender = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_security = "{security}"
"""


def test_sign_up_codes_go_out_over_plain_smtp(make_daemon):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        d = make_daemon(smtp_config(port, "none"))
        cognito = d.client()
        sp = make_signin_pool(d, cognito, {"AutoVerifiedAttributes": ["email"],
                                           "EmailConfiguration": {"From": "Example App <app@example.com>"}})
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        name = sign_up(cognito, sp, email=email)
        mail = inbox.wait()[0]
        assert mail["from"] == "app@example.com" and mail["to"] == [email]
        assert "Subject: Your verification code" in mail["data"]
        code = re.search(r"Your verification code is (\d{6})\.", mail["data"]).group(1)
        cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code)
        assert d.outbox(sp.pool_id) == [], "with SMTP configured nothing stays in the dev outbox"
        assert re.search(r'portcullis_messages_sent_total\{medium="EMAIL"\} 1\b', d.metrics()), d.metrics()
    finally:
        controller.stop()


def test_smtp_with_starttls_and_auth(make_daemon, tmp_path):
    ca, cert, key = smtp_certificates(tmp_path)
    import ssl
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer" and auth_data.password == b"s3cret-pw"
        logins.append((mechanism, ok))
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        (tmp_path / "smtp-password").write_text("s3cret-pw\n")
        d = make_daemon(smtp_config(port, "starttls") + f"""smtp_username = "mailer"
smtp_password_file = "{tmp_path / 'smtp-password'}"
smtp_ca_file = "{ca}"
from = "no-reply@portcullis.test"
""")
        cognito = d.client()
        sp = make_signin_pool(d, cognito, {"AutoVerifiedAttributes": ["email"]})
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        sign_up(cognito, sp, email=email)
        mail = inbox.wait()[0]
        assert mail["tls"], "the message travelled after STARTTLS"
        assert logins and all(ok for _, ok in logins), logins
        assert mail["from"] == "no-reply@portcullis.test" and mail["to"] == [email]
    finally:
        controller.stop()


class Webhook:
    """An SMS gateway stand-in: records signed POSTs; answers 500 while `failing` is set."""

    def __init__(self):
        self.calls: list[dict] = []
        self.failing = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls.append({"body": body, "timestamp": self.headers.get("X-Portcullis-Timestamp"),
                                   "signature": self.headers.get("X-Portcullis-Signature"),
                                   "failed": hook.failing})
                self.send_response(500 if hook.failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            ok = [c for c in self.calls if not c["failed"]]
            if ok:
                return ok[0]
            assert time.monotonic() < deadline, f"no successful webhook call after {timeout} s: {self.calls}"
            time.sleep(0.05)


def webhook_config(hook: Webhook, tmp_path) -> str:
    (tmp_path / "webhook-secret").write_text(WEBHOOK_SECRET)
    return GENEROUS_LIMITS + f"""
[messaging.sms]
sender = "webhook"
webhook_url = "{hook.url}"
webhook_secret_file = "{tmp_path / 'webhook-secret'}"
"""


def check_signature(call: dict) -> dict:
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{call['timestamp']}.".encode() + call["body"], hashlib.sha256)
    assert hmac.compare_digest(call["signature"], "v1=" + expected.hexdigest()), call
    assert abs(int(call["timestamp"]) - time.time()) < 120
    return json.loads(call["body"])


def test_sms_codes_go_to_the_signed_webhook(make_daemon, tmp_path):
    hook = Webhook()
    try:
        d = make_daemon(webhook_config(hook, tmp_path))
        cognito = d.client()
        sp = make_signin_pool(d, cognito, {"AutoVerifiedAttributes": ["phone_number"]})
        name = sp.username()
        out = cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD,
                              UserAttributes=[{"Name": "phone_number", "Value": "+12065550123"}])
        assert out["CodeDeliveryDetails"] == {"Destination": "+*******0123", "DeliveryMedium": "SMS",
                                              "AttributeName": "phone_number"}
        payload = check_signature(hook.delivered())
        assert payload["to"] == "+12065550123" and payload["pool_id"] == sp.pool_id
        assert payload["purpose"] == "sign_up"
        code = re.fullmatch(r"Your verification code is (\d{6})\. ", payload["message"]).group(1)
        cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code)
        attrs = {a["Name"]: a["Value"] for a in
                 cognito.admin_get_user(UserPoolId=sp.pool_id, Username=name)["UserAttributes"]}
        assert attrs["phone_number_verified"] == "true"
    finally:
        hook.server.shutdown()


def test_failed_sends_are_retried_from_the_durable_queue_across_kill_9(make_daemon, tmp_path):
    hook = Webhook()
    hook.failing = True
    try:
        d = make_daemon(webhook_config(hook, tmp_path))
        cognito = d.client()
        sp = make_signin_pool(d, cognito, {"AutoVerifiedAttributes": ["phone_number"]})
        cognito.sign_up(ClientId=sp.public.client_id, Username=sp.username(), Password=PASSWORD,
                        UserAttributes=[{"Name": "phone_number", "Value": "+12065550199"}])
        deadline = time.monotonic() + 15
        while len(hook.calls) < 2:  # the first attempt and at least one retry failed
            assert time.monotonic() < deadline, hook.calls
            time.sleep(0.05)
        assert re.search(r'portcullis_message_send_failures_total\{medium="SMS"\} [1-9]', d.metrics())
        d.proc.send_signal(signal.SIGKILL)  # the message is still queued: not sent, not lost
        d.proc.wait()
        hook.failing = False
        d.start()
        payload = check_signature(hook.delivered(timeout=30))
        assert payload["to"] == "+12065550199"
        time.sleep(1.5)  # a delivered message is not sent again
        assert len([c for c in hook.calls if not c["failed"]]) == 1
    finally:
        hook.server.shutdown()


def test_bad_messaging_settings_stop_the_daemon_at_start(make_daemon):
    from conftest import DaemonDied

    d = make_daemon(GENEROUS_LIMITS + '\n[messaging.sms]\nsender = "webhook"\n', start=False)
    with pytest.raises(DaemonDied, match="messaging.sms.webhook_url"):
        d.start()
