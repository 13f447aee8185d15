"""Alert channels: JSONL file (embedded default), Slack-compatible webhook, SMTP (seed segC C8/C9 receivers).

Delivery errors are reported by kind (HTTP status, exception class), never with the URL or credentials,
which may be secret (a Slack webhook URL *is* its secret).
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lumen_assets.alerts.message import AlertMessage
from lumen_assets.atomic import file_lock


class Channel(Protocol):
    name: str

    def send(self, message: AlertMessage) -> None: ...


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says why without secrets."""


@dataclass
class FileChannel:
    """Append one JSON line per alert (locked, flushed and fsynced: a reader never sees half a line)."""

    path: Path
    name: str = "file"

    def send(self, message: AlertMessage) -> None:
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(message.as_record(), ensure_ascii=False) + "\n"
        with file_lock(self.path), open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


@dataclass
class WebhookChannel:
    """POST Slack-compatible JSON; retries 429/5xx and connection errors with linear backoff."""

    url: str
    token: str | None = None
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    name: str = "webhook"

    def send(self, message: AlertMessage) -> None:
        body = json.dumps(message.as_slack(), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Lumen-Alert-Id": message.alert_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * attempt)
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                    return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code != 429 and exc.code < 500:
                    break
            except (urllib.error.URLError, OSError) as exc:
                last = type(getattr(exc, "reason", exc)).__name__
        raise DeliveryError(f"webhook delivery failed after {attempt + 1} attempt(s): {last}")


@dataclass
class SmtpChannel:
    """One mail per alert through an SMTP relay (optional STARTTLS and login)."""

    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0
    name: str = "smtp"

    def send(self, message: AlertMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as client:
                if self.starttls:
                    client.starttls()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message.as_email(self.sender, self.recipients))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp delivery failed: {type(exc).__name__}") from None


def deliver(message: AlertMessage, channels: list[Channel]) -> dict[str, str]:
    """Send to every channel; one channel failing does not stop the others. Returns channel -> outcome."""
    outcomes: dict[str, str] = {}
    for channel in channels:
        try:
            channel.send(message)
            outcomes[channel.name] = "ok"
        except DeliveryError as exc:
            outcomes[channel.name] = str(exc)
    return outcomes
