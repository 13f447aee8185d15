"""Alert messages name what failed and never leak secrets or raw text (seed segD §13.8)."""

from lumen_assets.alerts.message import AlertMessage, run_url, safe_figures


def make(**kw) -> AlertMessage:
    base = dict(
        kind="firing",
        severity="ERROR",
        asset="resonance_scores",
        check="coherence_slo",
        partition="2025-10-23",
        run_id="abc123",
        run_url=run_url("http://ui:3000/", "abc123"),
        figures={"coherence": 0.61},
        at=1761200000.0,
        alert_id="0123456789abcdef",
    )
    base.update(kw)
    return AlertMessage(**base)


def test_figures_keep_numbers_and_hashes_only():
    figures = safe_figures(
        {
            "coherence": 0.61,
            "runs": 3,
            "ok": True,
            "sha256": "ab" * 32,
            "serial": "0x1F" and "1f2e3d4c5b6a",
            "log_line": "2025-10-23 ERROR password=hunter2 failed",
            "token": "xoxb-123-secret",
            "path": "/home/op/.ssh/id_ed25519",
        }
    )
    assert figures == {"coherence": 0.61, "runs": 3, "ok": True, "sha256": "ab" * 32, "serial": "1f2e3d4c5b6a"}


def test_figure_limit():
    assert len(safe_figures({f"f{i}": i for i in range(30)}, limit=5)) == 5


def test_message_names_asset_partition_check_severity_and_run_link():
    text = make().text
    for part in ("resonance_scores", "2025-10-23", "coherence_slo", "ERROR", "coherence: 0.61", "http://ui:3000/runs/abc123"):
        assert part in text
    assert make().title == "[Lumen] FIRING ERROR: resonance_scores/coherence_slo [2025-10-23]"
    assert make(kind="resolved").title.startswith("[Lumen] RESOLVED")


def test_slack_payload_shape():
    payload = make().as_slack()
    assert payload["text"] == make().title
    assert payload["blocks"][0]["type"] == "header"
    assert all(len(b["fields"]) <= 10 for b in payload["blocks"][1:])


def test_email_has_subject_and_body():
    mail = make().as_email("lumen@system.local", ["a@example.com", "b@example.com"])
    assert mail["Subject"] == make().title
    assert mail["To"] == "a@example.com, b@example.com"
    assert "coherence_slo" in mail.get_content()
