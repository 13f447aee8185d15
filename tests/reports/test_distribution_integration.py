"""report_distribution against real servers on 127.0.0.1: aiosmtpd (plain and STARTTLS + AUTH) and an HTTP
receiver; what arrives is checked byte for byte against the PDF on disk."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl

import dagster as dg
import pytest
import yaml

from lumen.resources.notifiers import report_notifier_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.evidence.defs import quote_bank, risk_ledger
from lumen_assets.reports.defs import daily_report, report_distribution
from tests.support.demo_workspace import prepare_demo_workspace
from tests.support.servers import SmtpServer, free_port

pytestmark = pytest.mark.integration
DAY = "2025-10-23"


def notifier(root):
    """The report notifier as the code location binds it for this workspace's config (secrets as EnvVars)."""
    return report_notifier_resource(LumenWorkspace(root=str(root)))


def run(root, assets):
    return dg.materialize(
        assets,
        partition_key=DAY if assets[0] is not quote_bank else None,
        resources={"workspace": LumenWorkspace(root=str(root)), "report_notifier": notifier(root)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.fixture
def workspace(tmp_path):
    root = prepare_demo_workspace(tmp_path / "ws", hours=1.0)
    assert run(root, [quote_bank, risk_ledger]).success
    assert run(root, [daily_report]).success
    return root


def configure(root, distribution):
    distribution = {"backoff_s": 0.05, "backoff_max_s": 0.1, "webhook_timeout_s": 5, **distribution}
    if "smtp" in distribution:
        distribution["smtp"] = {"timeout_s": 5, **distribution["smtp"]}
    (root / "lumen.yaml").write_text(yaml.safe_dump({"reports": {"distribution": distribution}}), encoding="utf-8")


def receipts(root):
    return [json.loads(line) for line in (root / "controls/reports/receipts.jsonl").read_text(encoding="utf-8").splitlines()]


def pdf_bytes(root):
    return (root / f"controls/reports/report_{DAY}.pdf").read_bytes()


def test_smtp_and_webhook_receive_the_pdf_and_nothing_is_sent_twice(workspace, smtp_server, http_receiver):
    http_receiver.fail_next.append(503)  # one transient failure: retried
    configure(workspace, {
        "smtp": {"host": smtp_server.host, "port": smtp_server.port, "starttls": False,
                 "username_env": None, "password_env": None, "sender": "lumen@system.local"},
        "recipients": [
            {"channel": "smtp", "name": "Binoche", "address": "binoche@example.com"},
            {"channel": "smtp", "name": "Research Team", "address": "agi.research@lab.local"},
            {"channel": "webhook", "name": "ops", "url": http_receiver.url},
        ],
    })
    first = run(workspace, [report_distribution])
    assert first.success
    assert [e.passed for e in first.get_asset_check_evaluations()] == [True]

    assert sorted(m["To"] for m in smtp_server.messages) == ["Binoche <binoche@example.com>", "Research Team <agi.research@lab.local>"]
    for message in smtp_server.messages:
        (attachment,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
        assert attachment.get_payload(decode=True) == pdf_bytes(workspace)
    (posted,) = http_receiver.requests
    assert base64.b64decode(posted["json"]["attachment"]["data"]) == pdf_bytes(workspace)
    assert posted["json"]["report"]["date"] == DAY

    assert run(workspace, [report_distribution]).success
    assert len(smtp_server.messages) == 2 and len(http_receiver.requests) == 1
    got = [(r["recipient"], r["status"], r["attempts"]) for r in receipts(workspace)]
    assert got == [("smtp:Binoche", "sent", 1), ("smtp:Research Team", "sent", 1), ("webhook:ops", "sent", 2)]


def test_a_permanently_failing_webhook_gets_a_failed_receipt_and_a_warn_check(workspace, http_receiver):
    http_receiver.fail_next += [404]
    configure(workspace, {"recipients": [{"channel": "outbox", "name": "ops"},
                                         {"channel": "webhook", "name": "gone", "url": http_receiver.url}]})
    result = run(workspace, [report_distribution])
    assert result.success  # a delivery failure is a WARN check, not a failed run
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["not_delivered"].value == ["webhook:gone"]
    assert [(r["recipient"], r["status"], r["attempts"]) for r in receipts(workspace)] == [
        ("outbox:ops", "sent", 1), ("webhook:gone", "failed", 1)]
    assert "HTTP 404" in receipts(workspace)[1]["reason"]


# --- STARTTLS + AUTH --------------------------------------------------------------------------------------


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_smtp(tmp_path):
    """aiosmtpd that requires STARTTLS and AUTH (user lumen / password from the test)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", free_port())
    server.logins = []  # type: ignore[attr-defined]

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
            from email import message_from_bytes

            server.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(smtp, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"lumen" and auth_data.password == b"s3cret-pass"
        server.logins.append((auth_data.login, ok))  # type: ignore[attr-defined]
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself

    controller = Controller(Handler(), hostname=server.host, port=server.port, tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        yield server, cert
    finally:
        controller.stop()


def test_starttls_with_credentials_from_the_environment(workspace, tls_smtp, monkeypatch):
    server, cert = tls_smtp
    monkeypatch.setenv("TEST_SMTP_USER", "lumen")
    monkeypatch.setenv("TEST_SMTP_PASS", "s3cret-pass")
    configure(workspace, {
        "smtp": {"host": server.host, "port": server.port, "starttls": True, "ca_file": str(cert),
                 "username_env": "TEST_SMTP_USER", "password_env": "TEST_SMTP_PASS"},
        "recipients": [{"channel": "smtp", "name": "Binoche", "address": "binoche@example.com"}],
    })
    assert run(workspace, [report_distribution]).success
    assert server.logins == [(b"lumen", True)]  # type: ignore[attr-defined]
    (message,) = server.messages
    (attachment,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert attachment.get_payload(decode=True) == pdf_bytes(workspace)
    text = (workspace / "controls/reports/receipts.jsonl").read_text(encoding="utf-8")
    assert "s3cret-pass" not in text and "sent" in text
    assert "s3cret-pass" not in (workspace / "lumen.yaml").read_text(encoding="utf-8")


def test_wrong_password_is_a_permanent_failure_without_leaking_it(workspace, tls_smtp, monkeypatch):
    server, cert = tls_smtp
    monkeypatch.setenv("TEST_SMTP_USER", "lumen")
    monkeypatch.setenv("TEST_SMTP_PASS", "wrong-password-value")
    configure(workspace, {
        "smtp": {"host": server.host, "port": server.port, "ca_file": str(cert),
                 "username_env": "TEST_SMTP_USER", "password_env": "TEST_SMTP_PASS"},
        "recipients": [{"channel": "smtp", "name": "Binoche", "address": "binoche@example.com"}],
    })
    result = run(workspace, [report_distribution])
    assert result.success and not server.messages
    (receipt,) = receipts(workspace)
    assert receipt["status"] == "failed" and receipt["attempts"] == 1 and "authentication refused" in receipt["reason"]
    assert "wrong-password-value" not in json.dumps(receipt)


def test_untrusted_certificate_is_refused(workspace, tls_smtp, monkeypatch):
    server, _ = tls_smtp
    configure(workspace, {
        "smtp": {"host": server.host, "port": server.port, "username_env": None, "password_env": None},
        "recipients": [{"channel": "smtp", "name": "Binoche", "address": "binoche@example.com"}],
    })
    assert run(workspace, [report_distribution]).success
    (receipt,) = receipts(workspace)
    assert receipt["status"] == "failed" and "TLS failed" in receipt["reason"] and not server.messages
