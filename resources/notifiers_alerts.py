"""The `alert_channels` resource: the secret half of the alert channels (the other half is config `alerts:`).

The webhook URL (a Slack incoming-webhook URL is itself a secret), its bearer token and the SMTP login come
from environment variables as `dg.EnvVar`s (lumen.resources.secrets), so Dagster resolves them at run time
and never shows them in the UI. The SMTP login's variables are the ones `alerts.smtp.username_env` /
`password_env` name (default LUMEN_SMTP_USER / LUMEN_SMTP_PASSWORD, as for report mail). A webhook
variable that is not set leaves the webhook channel off.
"""

from __future__ import annotations

import dagster as dg

from lumen.resources.secrets import env_secret
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.alerts.channels import Channel, FileChannel, SmtpChannel, WebhookChannel
from lumen_assets.alerts.settings import AlertsSettings

WEBHOOK_URL_ENV = "LUMEN_ALERT_WEBHOOK_URL"
WEBHOOK_TOKEN_ENV = "LUMEN_ALERT_TOKEN"


class AlertChannelsResource(dg.ConfigurableResource):
    """The alert channels `alerts:` in `workspace`'s config enables (`channels()`), with their secrets."""

    workspace: LumenWorkspace
    webhook_url: str | None = None
    webhook_token: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None

    def channels(self) -> list[Channel]:
        settings, workspace_root = self.workspace.config.alerts, self.workspace.root_path
        built: list[Channel] = []
        if settings.file.enabled:
            built.append(FileChannel(workspace_root / settings.file.path))
        if settings.webhook.enabled and self.webhook_url:
            built.append(
                WebhookChannel(
                    url=self.webhook_url,
                    token=self.webhook_token,
                    timeout_s=settings.webhook.timeout_s,
                    retries=settings.webhook.retries,
                    backoff_s=settings.webhook.backoff_s,
                )
            )
        if settings.smtp.enabled:
            built.append(
                SmtpChannel(
                    host=settings.smtp.host,
                    port=settings.smtp.port,
                    sender=settings.smtp.sender,
                    recipients=list(settings.smtp.recipients),
                    username=self.smtp_user,
                    password=self.smtp_password,
                    starttls=settings.smtp.starttls,
                    timeout_s=settings.smtp.timeout_s,
                    ca_file=str(workspace_root / settings.smtp.ca_file) if settings.smtp.ca_file else None,
                )
            )
        return built


def alert_channels_resource(workspace: LumenWorkspace, settings: AlertsSettings | None = None) -> AlertChannelsResource:
    """Each secret as a dg.EnvVar when its variable is set (an unset EnvVar would fail every tick); the SMTP
    login's variable names from `settings.smtp` (the code location's config, read once at load; default:
    `workspace`'s own config, which needs a workspace root known now)."""
    smtp = (settings if settings is not None else workspace.config.alerts).smtp
    return AlertChannelsResource(
        workspace=workspace,
        webhook_url=env_secret(WEBHOOK_URL_ENV),
        webhook_token=env_secret(WEBHOOK_TOKEN_ENV),
        smtp_user=env_secret(smtp.username_env),
        smtp_password=env_secret(smtp.password_env),
    )
