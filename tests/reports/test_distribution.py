"""Distribution logic with in-process senders: retries, backoff, no resend, receipts, redaction."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes as _parse
from email import policy

import pytest

from lumen_assets.reports.distribution import (
    Delivery,
    OutboxSender,
    PermanentError,
    Report,
    TransientError,
    WebhookSender,
    distribute,
    email_message,
    redact,
)


@pytest.fixture
def report(tmp_path):
    pdf = tmp_path / "report_2025-10-23.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% fake but fixed bytes\n")
    md = tmp_path / "report_2025-10-23.md"
    md.write_text("# r\n", encoding="utf-8")
    return Report("2025-10-23", pdf, md, "Lumen Resonance Report", {"인용": "5", "평균 신뢰도": "0.71"})


class Scripted:
    """A sender that fails as scripted, then succeeds; counts calls."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls = 0

    def send(self, report, delivery):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def message_from_bytes(data):
    return _parse(data, policy=policy.default)


def receipts(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_transient_failures_are_retried_with_exponential_backoff(report, tmp_path):
    sender, delays = Scripted(TransientError("421 busy"), TransientError("timeout")), []
    out = distribute(report, [(Delivery("smtp:a", "smtp", "a", "a@x"), sender)], tmp_path / "r.jsonl",
                     max_attempts=4, backoff_s=0.5, backoff_max_s=10, sleep=delays.append)
    assert sender.calls == 3 and delays == [0.5, 1.0]
    assert [(r.status, r.attempts) for r in out.receipts] == [("sent", 3)]


def test_backoff_is_capped_and_attempts_are_bounded(report, tmp_path):
    sender, delays = Scripted(*[TransientError("down")] * 10), []
    out = distribute(report, [(Delivery("webhook:w", "webhook", "w"), sender)], tmp_path / "r.jsonl",
                     max_attempts=5, backoff_s=1, backoff_max_s=3, sleep=delays.append)
    assert delays == [1, 2, 3, 3] and sender.calls == 5
    assert out.receipts[0].status == "failed" and out.receipts[0].reason.startswith("transient: down")


def test_permanent_failure_is_not_retried_and_does_not_stop_the_others(report, tmp_path):
    bad, good = Scripted(PermanentError("550 no such user")), Scripted()
    out = distribute(report, [(Delivery("smtp:bad", "smtp", "bad", "b@x"), bad), (Delivery("smtp:good", "smtp", "good", "g@x"), good)],
                     tmp_path / "r.jsonl", sleep=lambda s: None)
    assert bad.calls == 1 and good.calls == 1
    assert [(r.recipient, r.status) for r in out.receipts] == [("smtp:bad", "failed"), ("smtp:good", "sent")]


def test_a_sent_recipient_is_never_sent_again_but_a_failed_one_is_retried_next_run(report, tmp_path):
    path = tmp_path / "r.jsonl"
    ok, flaky = Scripted(), Scripted(PermanentError("later"))
    targets = [(Delivery("outbox:o", "outbox", "o"), ok), (Delivery("smtp:f", "smtp", "f", "f@x"), flaky)]
    distribute(report, targets, path, sleep=lambda s: None)
    second = distribute(report, targets, path, sleep=lambda s: None)
    third = distribute(report, targets, path, sleep=lambda s: None)
    assert ok.calls == 1 and flaky.calls == 2
    assert second.skipped == ["outbox:o"] and third.skipped == ["outbox:o", "smtp:f"]
    assert [(r["recipient"], r["status"]) for r in receipts(path)] == [("outbox:o", "sent"), ("smtp:f", "failed"), ("smtp:f", "sent")]
    assert all(r["pdf_sha256"] == report.pdf_sha256 for r in receipts(path))


def test_concurrent_passes_send_once(report, tmp_path):
    sender, path = Scripted(), tmp_path / "r.jsonl"
    target = [(Delivery("outbox:o", "outbox", "o"), sender)]
    threads = [threading.Thread(target=distribute, args=(report, target, path)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sender.calls == 1 and len(receipts(path)) == 1


def test_secrets_never_reach_receipts(report, tmp_path):
    import base64

    secret = "hunter2-very-secret"
    sender = Scripted(PermanentError(f"535 auth failed for {secret} / {base64.b64encode(secret.encode()).decode()}"))
    distribute(report, [(Delivery("smtp:a", "smtp", "a", "a@x"), sender)], tmp_path / "r.jsonl", secrets=[secret])
    text = (tmp_path / "r.jsonl").read_text(encoding="utf-8")
    assert secret not in text and base64.b64encode(secret.encode()).decode() not in text and "***" in text
    assert redact("x", [""]) == "x"


def test_email_carries_the_pdf_bytes_and_the_seed_greeting(report):
    message = email_message(report, Delivery("smtp:b", "smtp", "Binoche", "binoche@example.com"),
                            "lumen@system.local", "Lumen Resonance Report – {date}", "https://forms.example/x")
    parsed = message_from_bytes(message.as_bytes())
    assert parsed["Subject"] == "Lumen Resonance Report – 2025-10-23"
    assert parsed["To"] == "Binoche <binoche@example.com>"
    body = next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert body.startswith("안녕하세요 Binoche님,") and "https://forms.example/x" in body and "- 인용: 5" in body
    (pdf,) = [p for p in parsed.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "report_2025-10-23.pdf"
    assert pdf.get_payload(decode=True) == report.pdf


def test_outbox_writes_one_eml_per_recipient_and_day(report, tmp_path):
    sender = OutboxSender(tmp_path / "outbox", "lumen@system.local", "S {date}")
    detail = sender.send(report, Delivery("outbox:ops", "outbox", "ops"))
    assert detail.endswith("outbox/2025-10-23/ops.eml")
    assert message_from_bytes((tmp_path / "outbox/2025-10-23/ops.eml").read_bytes())["Subject"] == "S 2025-10-23"


def test_webhook_payload_is_slack_compatible_and_can_leave_the_pdf_out(report):
    with_pdf = WebhookSender("http://127.0.0.1:9/hook").payload(report)
    assert with_pdf["text"].startswith("Lumen Resonance Report – 2025-10-23: 인용 5")
    assert with_pdf["report"]["pdf_sha256"] == report.pdf_sha256
    assert "attachment" not in WebhookSender("http://127.0.0.1:9/hook", include_pdf=False).payload(report)


def test_unreachable_webhook_is_transient(report, tmp_path):
    from tests.support.servers import free_port

    with pytest.raises(TransientError, match="unreachable"):
        WebhookSender(f"http://127.0.0.1:{free_port()}/hook", timeout_s=2).send(report, Delivery("webhook:w", "webhook", "w"))
