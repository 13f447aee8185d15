"""Config section `alerts` of config/lumen.yaml: channels, rate limit and the alert sensors' pace.

Secrets (the webhook URL and bearer token, the SMTP login) are not config: they come from environment
variables (the SMTP login from the variables `smtp.username_env` / `smtp.password_env` name) through the
`alert_channels` resource (resources/notifiers_alerts.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lumen_assets.section import Section, SmtpServerSettings, WorkspacePath


class FileChannelSettings(Section):
    """The embedded default: one JSON object per alert, appended to a workspace file."""

    enabled: bool = True
    path: WorkspacePath = "logs/alerts.jsonl"


class WebhookChannelSettings(Section):
    """Slack-compatible JSON POST (`text` + `blocks`); the URL comes from LUMEN_ALERT_WEBHOOK_URL."""

    enabled: bool = True  # used only when the URL is set
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)


class SmtpChannelSettings(SmtpServerSettings):
    """Mail through an SMTP relay (seed C8 `oncall` receiver): the shared SMTP keys (lumen_assets/section.py,
    the same as `reports.distribution.smtp`, including `ca_file`), plus the switch and the recipients."""

    enabled: bool = False
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    recipients: list[str] = Field(default_factory=lambda: ["oncall@example.com"])
    timeout_s: float = Field(10.0, gt=0)


class RateLimitSettings(Section):
    """At most `max_alerts` deliveries per `window_s` across both alert sensors; the rest are counted."""

    max_alerts: int = Field(20, ge=1)
    window_s: float = Field(3600.0, gt=0)


class AlertsSettings(Section):
    """Check-failure and run-failure alerts (seed segC C8-C10, segD §13.8)."""

    file: FileChannelSettings = FileChannelSettings()
    webhook: WebhookChannelSettings = WebhookChannelSettings()
    smtp: SmtpChannelSettings = SmtpChannelSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    min_severity: Literal["WARN", "ERROR"] = "WARN"
    ui_base_url: str | None = Field(
        None, description="alert links; null = $LUMEN_UI_BASE_URL, else http://127.0.0.1:3000")
    batch_size: int = Field(200, ge=1, le=10000, description="check-evaluation events read per tick")
    max_figures: int = Field(12, ge=0, le=50)
