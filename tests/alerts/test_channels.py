"""Channels against real servers on 127.0.0.1 (tests/support/servers.py)."""

from __future__ import annotations

import json

import pytest

from lumen_assets.alerts.channels import DeliveryError, FileChannel, SmtpChannel, WebhookChannel, deliver
from lumen_assets.alerts.message import AlertMessage


def message() -> AlertMessage:
    return AlertMessage("firing", "WARN", "metrics", "metrics_freshness", None, "r1", "http://ui/runs/r1", {"age_s": 7200.0}, 1761200000.0)


def test_file_channel_appends_json_lines(tmp_path):
    channel = FileChannel(tmp_path / "logs" / "alerts.jsonl")
    channel.send(message())
    channel.send(message())
    lines = (tmp_path / "logs" / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["check"] == "metrics_freshness"


@pytest.mark.integration
def test_webhook_posts_slack_json_with_bearer(http_receiver):
    WebhookChannel(http_receiver.url, token="s3cret", backoff_s=0).send(message())
    (request,) = http_receiver.requests
    assert request["json"]["text"].startswith("[Lumen] FIRING WARN: metrics/metrics_freshness")
    assert request["headers"]["Authorization"] == "Bearer s3cret"


@pytest.mark.integration
def test_webhook_retries_server_errors(http_receiver):
    http_receiver.fail_next[:] = [503, 500]
    WebhookChannel(http_receiver.url, retries=2, backoff_s=0.01).send(message())
    assert len(http_receiver.requests) == 1


@pytest.mark.integration
def test_webhook_failure_does_not_leak_the_url(http_receiver):
    http_receiver.fail_next[:] = [404]
    secret_url = http_receiver.url + "/T000/B000/XXXXsecret"
    outcome = deliver(message(), [WebhookChannel(secret_url, retries=3, backoff_s=0)])
    assert "HTTP 404" in outcome["webhook"] and "secret" not in outcome["webhook"]
    assert http_receiver.requests == []


@pytest.mark.integration
def test_smtp_delivers_one_mail(smtp_server):
    SmtpChannel(smtp_server.host, smtp_server.port, "lumen@system.local", ["oncall@example.com"]).send(message())
    (mail,) = smtp_server.messages
    assert mail["Subject"].startswith("[Lumen] FIRING WARN")
    assert mail["To"] == "oncall@example.com"


def test_one_failing_channel_does_not_stop_the_others(tmp_path):
    outcome = deliver(message(), [SmtpChannel("127.0.0.1", 1, "a@b", ["c@d"], timeout_s=1), FileChannel(tmp_path / "a.jsonl")])
    assert outcome["file"] == "ok" and outcome["smtp"].startswith("smtp delivery failed")


@pytest.mark.integration
def test_webhook_gives_up_after_its_retries_with_the_shared_retry_helper(http_receiver):
    http_receiver.fail_next[:] = [503, 503, 503, 503]
    channel = WebhookChannel(http_receiver.url + "/XXXXsecret", token="tok3n", retries=2, backoff_s=0)
    with pytest.raises(DeliveryError, match=r"after 3 attempt\(s\): webhook answered HTTP 503") as caught:
        channel.send(message())
    assert "secret" not in str(caught.value) and "tok3n" not in str(caught.value)
    assert http_receiver.requests == []
