"""Sending the day's report (seed segB §4 report_distribute.py) with receipts, retries and no resends.

Fixed from the seed (segB §4.6): the report is the partition's, not "the newest PDF on disk"; one recipient
failing does not stop the others; transient failures (network, SMTP 4xx, HTTP 429/5xx) are retried with
exponential backoff; each attempt outcome is a receipt in a JSONL file, and a recipient that has a `sent`
receipt for a day is never sent that day's report again (the whole pass holds a lock, so two runs cannot
both send). Credentials are passed in by the caller (the `report_notifier` resource reads them from the
environment) and are redacted from every receipt reason.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from lumen_assets.atomic import atomic_write_bytes, file_lock, upsert_jsonl
from lumen_assets.evidence.ledger import read_ledger
from lumen_assets.notify import (
    PermanentError,
    SmtpServer,
    TransientError,
    post_json,
    redact,
    with_retries,
)

BODY = {
    "ko": "안녕하세요 {name}님,\n\n첨부된 PDF는 {date}의 루멘 리포트입니다.\n\n{headline}\n{feedback}\n– 루멘\n",
    "en": "Hello {name},\n\nthe attached PDF is the Lumen report for {date}.\n\n{headline}\n{feedback}\n– Lumen\n",
}
FEEDBACK = {"ko": "{url} 에서 피드백을 남길 수 있습니다.\n", "en": "Feedback: {url}\n"}


@dataclass(frozen=True)
class Report:
    """One day's report as it is sent."""

    day: str
    pdf_path: Path
    md_path: Path
    title: str
    headline: dict[str, str]
    language: str = "ko"

    @property
    def pdf(self) -> bytes:
        return self.pdf_path.read_bytes()

    @property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def subject_text(self) -> str:
        return f"{self.title} – {self.day}"


@dataclass(frozen=True)
class Delivery:
    """A recipient as the sender sees it (name and address or URL)."""

    recipient_id: str  # "channel:name", the receipt key together with the day
    channel: str
    name: str
    address: str = ""


class Sender(Protocol):
    def send(self, report: Report, delivery: Delivery) -> str:
        """Deliver; return a short detail for the receipt; raise TransientError / PermanentError."""
        ...


@dataclass
class Receipt:
    report_date: str
    recipient: str
    channel: str
    status: str  # sent | failed
    attempts: int
    reason: str
    detail: str
    pdf_sha256: str
    ts: str
    receipt_id: str = ""

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def email_message(report: Report, delivery: Delivery, sender: str, subject: str, feedback_url: str | None) -> EmailMessage:
    """The seed's message: subject with the day, greeting body, the PDF attached as application/pdf."""
    message = EmailMessage()
    message["Subject"] = subject.format(date=report.day, title=report.title)
    message["From"] = sender
    message["To"] = formataddr((delivery.name, delivery.address)) if delivery.address else delivery.name
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="lumen.local")
    message["X-Lumen-Report"] = report.day
    headline = "\n".join(f"- {k}: {v}" for k, v in report.headline.items())
    feedback = FEEDBACK[report.language].format(url=feedback_url) if feedback_url else ""
    message.set_content(BODY[report.language].format(name=delivery.name, date=report.day, headline=headline, feedback=feedback))
    message.add_attachment(report.pdf, maintype="application", subtype="pdf", filename=report.pdf_path.name)
    return message


@dataclass
class OutboxSender:
    """Writes the complete message as an .eml file (a maildrop folder another tool may pick up)."""

    folder: Path
    sender: str
    subject: str
    feedback_url: str | None = None
    folder_label: str | None = None  # how receipts name the folder (workspace-relative), default `folder`

    def send(self, report: Report, delivery: Delivery) -> str:
        message = email_message(report, delivery, self.sender, self.subject, self.feedback_url)
        target = self.folder / report.day / f"{delivery.name}.eml"
        try:
            atomic_write_bytes(target, message.as_bytes())
        except OSError as exc:
            raise PermanentError(f"cannot write {target}: {exc.strerror}") from exc
        return f"{self.folder_label}/{report.day}/{delivery.name}.eml" if self.folder_label else str(target)


@dataclass
class SmtpSender:
    """The report as a mail through `server` (STARTTLS verified, optional AUTH: `lumen_assets.notify`)."""

    server: SmtpServer
    sender: str
    subject: str
    feedback_url: str | None = None

    def send(self, report: Report, delivery: Delivery) -> str:
        message = email_message(report, delivery, self.sender, self.subject, self.feedback_url)
        return self.server.send(message, [delivery.address])


@dataclass
class WebhookSender:
    """POSTs Slack-compatible JSON (`text`) with the report's facts and, optionally, the PDF in base64."""

    url: str
    include_pdf: bool = True
    timeout_s: float = 20.0

    def payload(self, report: Report) -> dict[str, Any]:
        pdf = report.pdf
        headline = ", ".join(f"{k} {v}" for k, v in report.headline.items())
        body: dict[str, Any] = {
            "text": f"{report.subject_text}: {headline}",
            "report": {
                "date": report.day,
                "title": report.title,
                "headline": report.headline,
                "pdf_name": report.pdf_path.name,
                "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                "pdf_bytes": len(pdf),
            },
        }
        if self.include_pdf:
            body["attachment"] = {
                "filename": report.pdf_path.name,
                "content_type": "application/pdf",
                "encoding": "base64",
                "data": base64.b64encode(pdf).decode("ascii"),
            }
        return body

    def send(self, report: Report, delivery: Delivery) -> str:
        return post_json(self.url, self.payload(report), timeout_s=self.timeout_s)


@dataclass
class Outcome:
    receipts: list[Receipt] = field(default_factory=list)  # written this pass
    skipped: list[str] = field(default_factory=list)  # recipients already sent this day


def sent_recipients(receipts_path: Path, day: str) -> set[str]:
    return {
        str(r.get("recipient"))
        for r in read_ledger(receipts_path).records
        if r.get("report_date") == day and r.get("status") == "sent"
    }


def distribute(
    report: Report,
    targets: Sequence[tuple[Delivery, Sender]],
    receipts_path: Path,
    *,
    max_attempts: int = 4,
    backoff_s: float = 1.0,
    backoff_max_s: float = 30.0,
    secrets: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    log: Callable[[str], None] = lambda message: None,
) -> Outcome:
    """Send `report` to every target not yet sent this day; one receipt per recipient per pass."""
    outcome = Outcome()
    digest = report.pdf_sha256
    with file_lock(receipts_path.with_name(receipts_path.name + ".send")):
        done = sent_recipients(receipts_path, report.day)
        for delivery, sender in targets:
            if delivery.recipient_id in done:
                outcome.skipped.append(delivery.recipient_id)
                log(f"{delivery.recipient_id}: already sent {report.day}, not sending again")
                continue
            def retrying(attempt: int, exc: TransientError, delay: float, recipient: str = delivery.recipient_id) -> None:
                log(f"{recipient}: attempt {attempt} failed ({redact(str(exc), secrets)}), retry in {delay:g}s")

            detail, tries = with_retries(
                partial(sender.send, report, delivery),
                max_attempts=max_attempts, backoff_s=backoff_s, backoff_max_s=backoff_max_s, sleep=sleep, on_retry=retrying,
            )
            attempts = tries.attempts
            if detail is not None:
                status, reason = "sent", ""
            else:
                status, detail = "failed", ""
                kind = "permanent" if isinstance(tries.error, PermanentError) else "transient"
                reason = f"{kind}: {tries.error}"
            stamp = now().isoformat()
            receipt = Receipt(
                report_date=report.day,
                recipient=delivery.recipient_id,
                channel=delivery.channel,
                status=status,
                attempts=attempts,
                reason=redact(reason, secrets),
                detail=redact(detail, secrets),
                pdf_sha256=digest,
                ts=stamp,
                receipt_id=hashlib.sha256(f"{report.day}|{delivery.recipient_id}|{stamp}|{status}".encode()).hexdigest()[:16],
            )
            upsert_jsonl(receipts_path, [receipt.as_record()], key=lambda r: str(r["receipt_id"]))
            outcome.receipts.append(receipt)
            log(f"{delivery.recipient_id}: {status}" + (f" ({receipt.reason})" if receipt.reason else ""))
    return outcome
