"""Alert channels: JSONL file (embedded default), Slack-compatible webhook, SMTP (seed segC C8/C9 receivers).

Thin adapters over the one notification stack (`lumen_assets.notify`: senders and the retry helper shared
with report distribution). Delivery errors are reported by kind (HTTP status, SMTP code, exception),
never with the URL or credentials, which may be secret (a Slack webhook URL *is* its secret).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lumen_assets.alerts.message import AlertMessage
from lumen_assets.notify import SmtpServer, append_jsonl, post_json, redact, with_retries


class Channel(Protocol):
    name: str

    def send(self, message: AlertMessage) -> None: ...


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says why without secrets."""


def _send(what: str, action: Callable[[], str], secrets: list[str | None], *, retries: int = 0,
          backoff_s: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> None:
    result, tries = with_retries(action, max_attempts=retries + 1, backoff_s=backoff_s, sleep=sleep)
    if result is None:
        raise DeliveryError(
            f"{what} delivery failed after {tries.attempts} attempt(s): {redact(str(tries.error), secrets)}"
        )


@dataclass
class FileChannel:
    """Append one JSON line per alert (locked, flushed and fsynced: a reader never sees half a line)."""

    path: Path
    name: str = "file"

    def send(self, message: AlertMessage) -> None:
        _send("file", lambda: append_jsonl(self.path, message.as_record()), [])


@dataclass
class WebhookChannel:
    """POST Slack-compatible JSON; retries 429/5xx and connection errors (`notify.with_retries`)."""

    url: str
    token: str | None = None
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    name: str = "webhook"

    def send(self, message: AlertMessage) -> None:
        headers = {"X-Lumen-Alert-Id": message.alert_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        _send(
            "webhook",
            lambda: post_json(self.url, message.as_slack(), timeout_s=self.timeout_s, headers=headers),
            [self.url, self.token],
            retries=self.retries,
            backoff_s=self.backoff_s,
        )


@dataclass
class SmtpChannel:
    """One mail per alert through an SMTP relay (optional STARTTLS, certificate verified, and login)."""

    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0
    ca_file: str | None = None
    name: str = "smtp"

    def send(self, message: AlertMessage) -> None:
        server = SmtpServer(self.host, self.port, starttls=self.starttls, username=self.username,
                            password=self.password, timeout_s=self.timeout_s, ca_file=self.ca_file)
        _send("smtp", lambda: server.send(message.as_email(self.sender, self.recipients), self.recipients),
              [self.password])


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
