"""Alert messages: what an operator needs, and nothing that could leak (seed segD §13.8 privacy guard).

A message names the asset, partition, check, severity, the key figures and a link to the run in the UI.
It never carries free text from the run (check descriptions, error messages, log lines) and never a
secret: figures are numbers and booleans, and strings only when they are hashes or serial numbers (hex).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

_HEX = re.compile(r"^(sha256:|sha512:)?[0-9a-fA-F]{8,128}$")
_FIGURE_NAME = re.compile(r"^[A-Za-z0-9_.:\[\]/ -]{1,64}$")


def safe_figure(value: Any) -> Any | None:
    """Numbers, booleans and hex hashes/serials pass; everything else is dropped (None)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if isinstance(value, str) and _HEX.match(value):
        return value
    return None


def safe_figures(figures: Mapping[str, Any], limit: int = 12) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in figures.items():
        if len(out) >= limit:
            break
        if not _FIGURE_NAME.match(str(name)):
            continue
        safe = safe_figure(value)
        if safe is not None:
            out[str(name)] = safe
    return out


@dataclass(frozen=True)
class AlertMessage:
    """A channel-neutral alert; each channel renders it its own way."""

    kind: str  # firing / resolved / run_failure
    severity: str
    asset: str | None
    check: str | None
    partition: str | None
    run_id: str | None
    run_url: str | None
    figures: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    since: float | None = None
    alert_id: str = ""

    @property
    def title(self) -> str:
        state = {"firing": "FIRING", "resolved": "RESOLVED", "run_failure": "RUN FAILED"}[self.kind]
        target = "/".join(p for p in (self.asset, self.check) if p) or "run"
        part = f" [{self.partition}]" if self.partition else ""
        return f"[Lumen] {state} {self.severity}: {target}{part}"

    def lines(self) -> list[str]:
        rows = [
            f"asset: {self.asset or '-'}",
            f"partition: {self.partition or '-'}",
            f"check: {self.check or '-'}",
            f"severity: {self.severity}",
        ]
        if self.since is not None:
            rows.append(f"failing since: {_iso(self.since)}")
        rows += [f"{k}: {v}" for k, v in self.figures.items()]
        if self.run_url:
            rows.append(f"run: {self.run_url}")
        return rows

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.lines()])

    def as_record(self) -> dict[str, Any]:
        """The JSONL file channel's line."""
        return {
            "ts": _iso(self.at),
            "alert_id": self.alert_id,
            "kind": self.kind,
            "severity": self.severity,
            "asset": self.asset,
            "check": self.check,
            "partition": self.partition,
            "run_id": self.run_id,
            "run_url": self.run_url,
            "figures": self.figures,
            "since": _iso(self.since) if self.since is not None else None,
        }

    def as_slack(self) -> dict[str, Any]:
        """Slack incoming-webhook JSON: `text` is the fallback, `blocks` the rich form."""
        fields = [{"type": "mrkdwn", "text": f"*{line.split(': ', 1)[0]}*\n{line.split(': ', 1)[1]}"} for line in self.lines()]
        return {
            "text": self.title,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
                *(
                    {"type": "section", "fields": fields[i : i + 10]}
                    for i in range(0, len(fields), 10)  # Slack allows 10 fields per section
                ),
            ],
        }

    def as_email(self, sender: str, recipients: list[str]) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = self.title
        mail["From"] = sender
        mail["To"] = ", ".join(recipients)
        mail["X-Lumen-Alert-Id"] = self.alert_id
        mail.set_content(self.text + "\n")
        return mail


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def run_url(ui_base_url: str, run_id: str | None) -> str | None:
    return None if not run_id else f"{ui_base_url.rstrip('/')}/runs/{run_id}"
