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
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

from lumen_assets.atomic import atomic_write_bytes, file_lock, upsert_jsonl
from lumen_assets.evidence.ledger import read_ledger

BODY = {
    "ko": "안녕하세요 {name}님,\n\n첨부된 PDF는 {date}의 루멘 리포트입니다.\n\n{headline}\n{feedback}\n– 루멘\n",
    "en": "Hello {name},\n\nthe attached PDF is the Lumen report for {date}.\n\n{headline}\n{feedback}\n– Lumen\n",
}
FEEDBACK = {"ko": "{url} 에서 피드백을 남길 수 있습니다.\n", "en": "Feedback: {url}\n"}


class TransientError(Exception):
    """Worth retrying: the server or network may recover."""


class PermanentError(Exception):
    """Retrying will not help (bad address, refused credentials, 4xx)."""


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


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret value (and its base64 form, as in SMTP AUTH PLAIN) with ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(base64.b64encode(secret.encode()).decode(), "***")
    return text


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
    """SMTP with STARTTLS (certificate verified; `ca_file` for a private CA) and optional AUTH."""

    host: str
    port: int
    sender: str
    subject: str
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0
    ca_file: str | None = None
    feedback_url: str | None = None

    def _login(self, client: smtplib.SMTP) -> None:
        """AUTH with one mechanism (PLAIN, else LOGIN). smtplib.login would go on to try the next mechanism
        after a refusal, which some servers answer by hanging; refused credentials are final."""
        advertised = client.esmtp_features.get("auth", "").upper().split()
        client.user, client.password = self.username or "", self.password or ""
        for mechanism, method in (("PLAIN", client.auth_plain), ("LOGIN", client.auth_login)):
            if mechanism in advertised:
                client.auth(mechanism, method)
                return
        raise PermanentError(f"SMTP server offers no AUTH PLAIN/LOGIN (offers {advertised or 'none'})")

    def send(self, report: Report, delivery: Delivery) -> str:
        message = email_message(report, delivery, self.sender, self.subject, self.feedback_url)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as client:
                client.ehlo()
                if self.starttls:
                    context = ssl.create_default_context(cafile=self.ca_file)
                    client.starttls(context=context)
                    client.ehlo()
                if self.username:
                    self._login(client)
                refused = client.send_message(message, to_addrs=[delivery.address])
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP authentication refused ({exc.smtp_code})") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = TransientError if all(400 <= c < 500 for c in codes) else PermanentError
            raise error(f"SMTP refused recipient ({', '.join(map(str, codes))})") from exc
        except smtplib.SMTPResponseException as exc:
            error = TransientError if 400 <= exc.smtp_code < 500 else PermanentError
            raise error(f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')[:200]}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(f"SMTP server does not support: {exc}") from exc
        except ssl.SSLError as exc:
            raise PermanentError(f"TLS failed: {exc.reason or exc}") from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            raise TransientError(f"SMTP connection to {self.host}:{self.port} failed: {exc}") from exc
        if refused:
            raise PermanentError(f"SMTP refused {sorted(refused)}")
        return f"{delivery.address} via {self.host}:{self.port}"


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
        data = json.dumps(self.payload(report), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            error = TransientError if exc.code == 429 or exc.code >= 500 else PermanentError
            raise error(f"webhook answered HTTP {exc.code}") from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientError(f"webhook unreachable: {reason}") from exc
        return f"HTTP {status}"


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
            status, reason, detail, attempts = "failed", "", "", 0
            while attempts < max_attempts:
                attempts += 1
                try:
                    detail = sender.send(report, delivery)
                    status, reason = "sent", ""
                    break
                except PermanentError as exc:
                    reason = f"permanent: {exc}"
                    break
                except TransientError as exc:
                    reason = f"transient: {exc}"
                    if attempts < max_attempts:
                        delay = min(backoff_max_s, backoff_s * 2 ** (attempts - 1))
                        log(f"{delivery.recipient_id}: attempt {attempts} failed ({redact(str(exc), secrets)}), retry in {delay:g}s")
                        sleep(delay)
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
