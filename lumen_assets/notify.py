"""The one notification stack: SMTP, webhook and JSONL-file senders and the one retry helper.

Used by report distribution (`lumen_assets.reports.distribution`) and by the alert channels
(`lumen_assets.alerts.channels`). Pure (no Dagster). Every sender raises `TransientError` (worth
retrying: network, SMTP 4xx, HTTP 429/5xx) or `PermanentError` (refused credentials, bad address, other
4xx, TLS failure); `with_retries` retries only the transient ones, with capped exponential backoff.
Error texts name the failure kind, never a URL (a webhook URL may be its own secret) or a credential;
callers also `redact` the secret values they hold.
"""

from __future__ import annotations

import base64
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from lumen_assets.atomic import file_lock

T = TypeVar("T")


class TransientError(Exception):
    """Worth retrying: the server or network may recover."""


class PermanentError(Exception):
    """Retrying will not help (bad address, refused credentials, 4xx)."""


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """Replace every secret value (and its base64 form, as in SMTP AUTH PLAIN) with ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(base64.b64encode(secret.encode()).decode(), "***")
    return text


@dataclass
class Attempts:
    """What `with_retries` did: the result (if any), attempts made and the last error."""

    attempts: int = 0
    error: Exception | None = None


def with_retries(
    action: Callable[[], T],
    *,
    max_attempts: int,
    backoff_s: float,
    backoff_max_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientError, float], None] = lambda attempt, error, delay: None,
) -> tuple[T | None, Attempts]:
    """Run `action` until it succeeds, raises `PermanentError`, or `max_attempts` transient failures.

    Delay before attempt n+1 is `min(backoff_max_s, backoff_s * 2**(n-1))`. Returns (result, attempts);
    on failure the result is None and `attempts.error` holds the last error (other exceptions propagate).
    """
    record = Attempts()
    while record.attempts < max(1, max_attempts):
        record.attempts += 1
        try:
            return action(), Attempts(record.attempts)
        except PermanentError as exc:
            record.error = exc
            break
        except TransientError as exc:
            record.error = exc
            if record.attempts < max_attempts:
                delay = min(backoff_max_s, backoff_s * 2 ** (record.attempts - 1))
                on_retry(record.attempts, exc, delay)
                sleep(delay)
    return None, record


@dataclass
class SmtpServer:
    """An SMTP relay: STARTTLS with a verified certificate (`ca_file` for a private CA), optional AUTH."""

    host: str
    port: int
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0
    ca_file: str | None = None

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

    def send(self, message: EmailMessage, to_addrs: Sequence[str]) -> str:
        """Send one message; return a short detail; raise TransientError / PermanentError."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as client:
                client.ehlo()
                if self.starttls:
                    client.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                    client.ehlo()
                if self.username:
                    self._login(client)
                refused = client.send_message(message, to_addrs=list(to_addrs))
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
        return f"{', '.join(to_addrs)} via {self.host}:{self.port}"


def post_json(url: str, payload: Any, *, timeout_s: float = 20.0, headers: Mapping[str, str] | None = None) -> str:
    """POST `payload` as JSON; return "HTTP <status>"; raise TransientError (429/5xx, unreachable) or
    PermanentError (other HTTP errors). The URL never appears in the error text."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        error = TransientError if exc.code == 429 or exc.code >= 500 else PermanentError
        raise error(f"webhook answered HTTP {exc.code}") from exc
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"webhook unreachable: {reason}") from exc
    except ValueError as exc:  # malformed URL: no retry will fix it (message without the URL)
        raise PermanentError(f"webhook URL is not usable ({type(exc).__name__})") from exc
    return f"HTTP {status}"


def append_jsonl(path: Path, record: Mapping[str, Any]) -> str:
    """Append one JSON line (locked, flushed and fsynced: a reader never sees half a line)."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path), open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise PermanentError(f"cannot append to {path}: {exc.strerror}") from exc
    return str(path)
