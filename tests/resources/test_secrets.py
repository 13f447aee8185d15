"""One way a secret reaches Lumen (lumen.resources.secrets): resources get `dg.EnvVar` fields, commands read
the value through the same module, and a missing secret is an error naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.notifiers_alerts import alert_channels_resource
from lumen.resources.secrets import MissingSecret, env_secret, require_secret, secret_value
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.alerts.settings import AlertsSettings
from lumen_assets.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_secret_names_its_variable_and_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMEN_TEST_SECRET", raising=False)
    with pytest.raises(MissingSecret) as caught:
        require_secret("LUMEN_TEST_SECRET", "the test passphrase")
    assert "LUMEN_TEST_SECRET" in str(caught.value) and "the test passphrase" in str(caught.value)
    monkeypatch.setenv("LUMEN_TEST_SECRET", "")
    assert secret_value("LUMEN_TEST_SECRET") is None  # empty is unset, never an empty passphrase
    monkeypatch.setenv("LUMEN_TEST_SECRET", "s3cret")
    assert require_secret("LUMEN_TEST_SECRET", "the test passphrase") == "s3cret"


def test_a_resource_gets_the_secret_as_an_env_var_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMEN_TEST_SECRET", raising=False)
    assert env_secret("LUMEN_TEST_SECRET") is None and env_secret(None) is None
    monkeypatch.setenv("LUMEN_TEST_SECRET", "s3cret")
    bound = env_secret("LUMEN_TEST_SECRET")
    assert isinstance(bound, dg.EnvVar) and bound.env_var_name == "LUMEN_TEST_SECRET"


def test_the_alert_smtp_login_comes_from_the_variables_the_config_names(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("OPS_MAIL_USER", "ops")
    monkeypatch.setenv("OPS_MAIL_PASS", "pw-never-shown")
    settings = AlertsSettings.model_validate({"smtp": {"username_env": "OPS_MAIL_USER", "password_env": "OPS_MAIL_PASS",
                                                       "ca_file": "/etc/ssl/private-ca.pem"}})
    resource = alert_channels_resource(LumenWorkspace(root=str(tmp_path)), settings)
    with resource.process_config_and_initialize_cm() as channels:
        assert (channels.smtp_user, channels.smtp_password) == ("ops", "pw-never-shown")


def test_archive_decrypt_without_the_key_says_which_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LUMEN_ARCHIVE_KEY", raising=False)
    (tmp_path / "b.tar.enc").write_bytes(b"LUMENENC")
    code = main(["archive", "decrypt", str(tmp_path / "b.tar.enc"), "--out", str(tmp_path / "b.tar")])
    assert code == 2
    assert "LUMEN_ARCHIVE_KEY" in capsys.readouterr().err


def test_the_secrets_module_imports_without_dagster() -> None:
    """`lumen keys` / `lumen archive decrypt` read secrets through it; it must not pull in Dagster."""
    done = subprocess.run([sys.executable, "-c", "import sys, lumen.resources.secrets; print('dagster' in sys.modules)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
