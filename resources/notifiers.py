"""The `report_notifier` resource: turns the `reports.distribution` config into senders.

Distribution secrets are typed fields, bound as `dg.EnvVar`s (lumen.resources.secrets, as for every resource)
from the environment variables the code location's config names: `smtp.username_env`, `smtp.password_env`,
and each webhook recipient's `url_env`. Dagster resolves them when a run starts and never shows their values;
they never enter config files, run metadata or receipts (they are handed to `distribute` for redaction).
A variable unset when the code location loaded fails that recipient only, with a message naming the variable
(`MissingSecret`); the other recipients are still served.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from lumen.resources.secrets import MissingSecret, env_secret
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.notify import PermanentError, SmtpServer
from lumen_assets.reports.distribution import (
    Delivery,
    OutboxSender,
    Report,
    Sender,
    SmtpSender,
    WebhookSender,
)
from lumen_assets.reports.settings import (
    DistributionSettings,
    OutboxRecipient,
    SmtpRecipient,
    WebhookRecipient,
)


@dataclass
class UnusableSender:
    """Stands in for a recipient whose secret is missing: that recipient fails, the others are still sent."""

    reason: str

    def send(self, report: Report, delivery: Delivery) -> str:
        raise PermanentError(self.reason)


class ReportNotifier(dg.ConfigurableResource):
    """Builds the report senders `reports.distribution` in `workspace`'s config asks for, with the secrets it
    names (bound as `dg.EnvVar`s by `report_notifier_resource`)."""

    workspace: LumenWorkspace
    smtp_username: str | None = Field(None, description="SMTP login, from $reports.distribution.smtp.username_env")
    smtp_password: str | None = Field(None, description="SMTP password, from $reports.distribution.smtp.password_env")
    webhook_urls: dict[str, str] = Field({}, description="webhook recipient name -> URL, from its $url_env")

    def targets(self) -> tuple[list[tuple[Delivery, Sender]], list[str]]:
        """(delivery, sender) per recipient, and the secret values to redact from receipts and logs."""
        settings, workspace_root = self.workspace.config.reports.distribution, self.workspace.root_path
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
                        username, password = self.smtp_username, self.smtp_password
                        if username and smtp.password_env and not password:
                            raise MissingSecret(smtp.password_env, "the SMTP password (reports.distribution.smtp.password_env)")
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
                    url = recipient.url
                    if recipient.url_env:
                        url = self.webhook_urls.get(recipient.name)
                        if not url:
                            raise MissingSecret(recipient.url_env, f"the URL of webhook {recipient.name} (url_env)")
                        secrets.append(url)  # a URL kept in the environment embeds a token
                    sender = WebhookSender(str(url), recipient.include_pdf, settings.webhook_timeout_s)
                except MissingSecret as exc:
                    sender = UnusableSender(str(exc))
            targets.append((delivery, sender))
        return targets, secrets


def report_notifier_resource(workspace: LumenWorkspace, settings: DistributionSettings | None = None) -> ReportNotifier:
    """The resource as the Definitions bind it: each secret `settings` names as a `dg.EnvVar`, bound when the
    variable is set (an unset one would fail every run; instead the recipient that needs it fails, naming it).
    `settings`: the code location's `reports.distribution` (default: `workspace`'s own config)."""
    settings = settings if settings is not None else workspace.config.reports.distribution
    urls = {r.name: env_secret(r.url_env) for r in settings.recipients if isinstance(r, WebhookRecipient)}
    return ReportNotifier(
        workspace=workspace,
        smtp_username=env_secret(settings.smtp.username_env),
        smtp_password=env_secret(settings.smtp.password_env),
        webhook_urls={name: url for name, url in urls.items() if url is not None},
    )
