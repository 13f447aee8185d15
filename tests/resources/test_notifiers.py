"""The report notifier's secrets are typed `dg.EnvVar` fields named by config (issue 12 §2: one way of handling
secrets); a variable that is not set fails only the recipient that needs it, naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.notifiers import report_notifier_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.notify import PermanentError

DISTRIBUTION = {
    "smtp": {"username_env": "TEST_REPORT_SMTP_USER", "password_env": "TEST_REPORT_SMTP_PASS"},
    "recipients": [
        {"channel": "outbox", "name": "outbox"},
        {"channel": "smtp", "name": "Binoche", "address": "binoche@example.com"},
        {"channel": "webhook", "name": "ops", "url_env": "TEST_REPORT_HOOK"},
    ],
}


def workspace(root: Path) -> LumenWorkspace:
    """A workspace whose config/lumen.yaml distributes to an outbox, one SMTP and one secret webhook recipient."""
    (root / "lumen.yaml").write_text(json.dumps({"reports": {"distribution": DISTRIBUTION}}), encoding="utf-8")
    return LumenWorkspace(root=str(root))


def test_secrets_are_env_vars_of_the_variables_config_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REPORT_SMTP_USER", "lumen")
    monkeypatch.setenv("TEST_REPORT_SMTP_PASS", "pass-value")
    monkeypatch.setenv("TEST_REPORT_HOOK", "https://hooks.example/T0/token-value")
    bound = report_notifier_resource(workspace(tmp_path))
    assert isinstance(bound.smtp_password, dg.EnvVar) and bound.smtp_password.env_var_name == "TEST_REPORT_SMTP_PASS"
    assert isinstance(bound.webhook_urls["ops"], dg.EnvVar) and bound.webhook_urls["ops"].env_var_name == "TEST_REPORT_HOOK"
    with bound.process_config_and_initialize_cm() as ready:
        targets, secrets = ready.targets()
    assert [d.channel for d, _ in targets] == ["outbox", "smtp", "webhook"]
    assert set(secrets) == {"pass-value", "https://hooks.example/T0/token-value"}  # redacted from receipts


def test_a_missing_secret_fails_only_its_recipient_naming_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REPORT_SMTP_USER", "lumen")
    monkeypatch.delenv("TEST_REPORT_SMTP_PASS", raising=False)
    monkeypatch.delenv("TEST_REPORT_HOOK", raising=False)
    bound = report_notifier_resource(workspace(tmp_path))
    with bound.process_config_and_initialize_cm() as ready:
        targets, secrets = ready.targets()
    senders = {d.channel: s for d, s in targets}
    assert type(senders["outbox"]).__name__ == "OutboxSender" and secrets == []
    for channel, variable in (("smtp", "TEST_REPORT_SMTP_PASS"), ("webhook", "TEST_REPORT_HOOK")):
        with pytest.raises(PermanentError, match=rf"^\${variable} is not set"):
            senders[channel].send(None, None)  # type: ignore[arg-type]
