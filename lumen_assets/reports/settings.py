"""Config section `reports` of config/lumen.yaml: the daily report (segB §2-3) and its distribution (§4).

Secrets never live here: SMTP credentials and secret webhook URLs are named by environment variable
(`*_env`), read only by the `report_notifier` resource (resources/notifiers.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from lumen_assets.section import Section, SmtpServerSettings, WorkspacePath


class OutboxRecipient(Section):
    """Write the message (.eml with the PDF attached) into a folder: the default, needs no server."""

    channel: Literal["outbox"] = "outbox"
    name: str = "outbox"
    folder: WorkspacePath = "controls/reports/outbox"


class SmtpRecipient(Section):
    """Mail the PDF as an attachment through the `smtp` server block (seed report_distribute.py)."""

    channel: Literal["smtp"] = "smtp"
    name: str
    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class WebhookRecipient(Section):
    """POST a Slack-compatible JSON (text + report facts, PDF as base64 when include_pdf)."""

    channel: Literal["webhook"] = "webhook"
    name: str
    url: str | None = Field(None, pattern=r"^https?://")
    url_env: str | None = Field(None, description="environment variable holding the URL (when it embeds a token)")
    include_pdf: bool = True

    @model_validator(mode="after")
    def _one_url(self) -> WebhookRecipient:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self


Recipient = Annotated[OutboxRecipient | SmtpRecipient | WebhookRecipient, Field(discriminator="channel")]


class SmtpServer(SmtpServerSettings):
    """The mail server for `smtp` recipients (the shared SMTP keys, lumen_assets/section.py)."""


class Feedback(Section):
    """Seed `feedback:` block; the link is added to the message only when enabled (seed ignored the flag)."""

    enabled: bool = False
    form_url: str = ""


class DistributionSettings(Section):
    """Who receives the day's report and how hard to try (seed configs/lumen_distribution.yaml)."""

    recipients: list[Recipient] = Field(default_factory=lambda: [OutboxRecipient()])
    smtp: SmtpServer = SmtpServer()
    feedback: Feedback = Feedback()
    subject: str = "Lumen Resonance Report – {date}"
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    webhook_timeout_s: float = Field(20.0, gt=0)

    @model_validator(mode="after")
    def _unique_names(self) -> DistributionSettings:
        names = [f"{r.channel}:{r.name}" for r in self.recipients]
        if len(names) != len(set(names)):
            raise ValueError("recipient channel:name pairs must be unique (receipts are keyed by them)")
        return self


class ReportsSettings(Section):
    """The daily Markdown + PDF report (seed segB §2-3) and its distribution (§4)."""

    reports_dir: WorkspacePath = "controls/reports"
    receipts: WorkspacePath = "controls/reports/receipts.jsonl"
    posterior_jsonl: WorkspacePath = "logs/bayes_posterior.jsonl"
    resonance_json: WorkspacePath = "logs/resonance.json"
    title: str = "Lumen Resonance Report"
    language: Literal["ko", "en"] = "ko"
    top_quotes: int = Field(3, ge=1, description="seed: top 3 quotes by confidence")
    recent_risks: int = Field(3, ge=1, description="seed: the last 3 risks")
    memo_delta_band: float = Field(0.02, gt=0, description="seed memo: mean |Δphase|, |Δrisk| within ±0.02")
    chart_points: int = Field(720, ge=10, le=20000, description="time bins in the rhythm chart")
    rhythm_overlay: bool = Field(
        False, description="overlay the rhythm blend (logs/rhythm_sync.jsonl) on the rhythm chart, right axis [-1, 1]"
    )
    font_path: WorkspacePath | None = Field(None, description="a Korean TrueType font in the workspace; default NanumGothic from koreanize-matplotlib")
    url: str | None = Field(None, description="where reports_dir is served over HTTP (links on the daily_report "
                            "page); null = $LUMEN_REPORTS_URL, else no link, only the inline preview")
    distribution: DistributionSettings = DistributionSettings()
