"""The `report_notifier` resource: turns the `reports.distribution` config into senders.

Distribution secrets come from the environment variables the config names (`smtp.username_env`,
`smtp.password_env`, a webhook's `url_env`), read through lumen.resources.secrets when a run builds its
senders (the variables are named per workspace config, so they are known only then); the values never enter
config files, run metadata or receipts (they are handed to `distribute` for redaction). A missing secret
fails that recipient only, with a message naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lumen.resources.secrets import MissingSecret, require_secret, secret_value
from lumen_assets.notify import PermanentError, SmtpServer
from lumen_assets.reports.distribution import (
    Delivery,
    OutboxSender,
    Report,
    Sender,
    SmtpSender,
    WebhookSender,
)
from lumen_assets.reports.settings import DistributionSettings, OutboxRecipient, SmtpRecipient


@dataclass
class UnusableSender:
    """Stands in for a recipient whose secret is missing: that recipient fails, the others are still sent."""

    reason: str

    def send(self, report: Report, delivery: Delivery) -> str:
        raise PermanentError(self.reason)


class ReportNotifier(dg.ConfigurableResource):
    """Builds the report senders from config; reads the named secrets from the environment."""

    @staticmethod
    def _env(name: str | None, required: bool, what: str) -> str | None:
        if name and required:
            return require_secret(name, what)
        return secret_value(name)

    def targets(self, settings: DistributionSettings, workspace_root: Path) -> tuple[list[tuple[Delivery, Sender]], list[str]]:
        """(delivery, sender) per recipient, and the secret values to redact from receipts and logs."""
        feedback = settings.feedback.form_url if settings.feedback.enabled and settings.feedback.form_url else None
        smtp = settings.smtp
        secrets: list[str] = []
        targets: list[tuple[Delivery, Sender]] = []
        smtp_sender: Sender | None = None
        for recipient in settings.recipients:
            recipient_id = f"{recipient.channel}:{recipient.name}"
            sender: Sender
            if isinstance(recipient, OutboxRecipient):
                delivery = Delivery(recipient_id, "outbox", recipient.name)
                sender = OutboxSender(workspace_root / recipient.folder, smtp.sender, settings.subject, feedback,
                                      folder_label=recipient.folder)
            elif isinstance(recipient, SmtpRecipient):
                delivery = Delivery(recipient_id, "smtp", recipient.name, recipient.address)
                if smtp_sender is None:
                    try:
                        username = self._env(smtp.username_env, False, "the SMTP user (reports.distribution.smtp.username_env)")
                        password = self._env(smtp.password_env, bool(username),
                                             "the SMTP password (reports.distribution.smtp.password_env)")
                        secrets += [s for s in (password,) if s]
                        server = SmtpServer(
                            host=smtp.host,
                            port=smtp.port,
                            starttls=smtp.starttls,
                            username=username,
                            password=password,
                            timeout_s=smtp.timeout_s,
                            ca_file=str(workspace_root / smtp.ca_file) if smtp.ca_file else None,
                        )
                        smtp_sender = SmtpSender(server, smtp.sender, settings.subject, feedback)
                    except MissingSecret as exc:
                        smtp_sender = UnusableSender(str(exc))
                sender = smtp_sender
            else:
                delivery = Delivery(recipient_id, "webhook", recipient.name)
                try:
                    url = recipient.url or self._env(recipient.url_env, True, f"the URL of webhook {recipient.name} (url_env)")
                    if recipient.url_env and url:
                        secrets.append(url)  # a URL kept in the environment embeds a token
                    sender = WebhookSender(str(url), recipient.include_pdf, settings.webhook_timeout_s)
                except MissingSecret as exc:
                    sender = UnusableSender(str(exc))
            targets.append((delivery, sender))
        return targets, secrets
