"""daily_report and report_distribution as Dagster assets on the demo workspace; the 09:05 schedule."""

from __future__ import annotations

import json
from email import message_from_bytes

import dagster as dg
import pytest

from lumen.resources.notifiers import report_notifier_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.evidence.defs import quote_bank, risk_ledger
from lumen_assets.reports.checks import pdf_text
from lumen_assets.reports.defs import daily_report, report_distribution
from tests.support.demo_workspace import prepare_demo_workspace

DAY = "2025-10-23"


def notifier(root):
    """The report notifier as the code location binds it for this workspace's config (secrets as EnvVars)."""
    return report_notifier_resource(LumenWorkspace(root=str(root)))


def run(root, assets, partition=None):
    result = dg.materialize(
        assets,
        partition_key=partition,
        resources={"workspace": LumenWorkspace(root=str(root)), "report_notifier": notifier(root)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = prepare_demo_workspace(tmp_path_factory.mktemp("demo"))
    assert run(root, [quote_bank, risk_ledger]).success
    return root


def checks_of(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_daily_report_writes_md_and_pdf_for_the_day_and_its_checks_pass(demo):
    result = run(demo, [daily_report], DAY)
    assert result.success
    checks = checks_of(result)
    assert {name: c.passed for name, c in checks.items()} == {
        "daily_report_sections": True,
        "daily_report_pdf_readable": True,
        "daily_report_covers_day": True,
    }
    md = (demo / f"controls/reports/report_{DAY}.md").read_text(encoding="utf-8")
    pdf = (demo / f"controls/reports/report_{DAY}.pdf").read_bytes()
    quotes = [json.loads(line) for line in (demo / "controls/quotes_bank.jsonl").read_text(encoding="utf-8").splitlines()]
    assert f"| 인용 | {len(quotes)} |" in md  # every demo quote is on the demo day
    pages, text = pdf_text(pdf)
    assert pages >= 2
    assert "관찰 메모" in text and "위험 수준 분포" in text or "(기록 없음)" in text
    meta = result.asset_materializations_for_node("daily_report")[0].metadata
    assert meta["quotes"].value == len(quotes)
    assert meta["posterior_included"].value is False


def skipped_reasons(result):
    return {e.asset_key.to_user_string(): e.asset_observation_data.asset_observation.metadata["skipped"].value
            for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"}


def test_a_day_without_data_is_skipped_with_its_reason_and_writes_nothing(demo):
    """Issue 11 §2: "Materialize all" never writes empty reports (or sends them) for days with no data."""
    result = run(demo, [daily_report, report_distribution], "2025-10-21")
    assert result.success
    assert not list((demo / "controls/reports").glob("*2025-10-21*"))
    assert result.get_asset_materialization_events() == []
    reasons = skipped_reasons(result)
    assert list(reasons) == ["daily_report"]  # report_distribution's step is skipped: nothing upstream
    assert "2025-10-21: no metrics samples and no rule events" in reasons["daily_report"]
    assert "skipped (no files written)" in reasons["daily_report"]
    checks = checks_of(result)
    assert set(checks) == {"daily_report_sections", "daily_report_pdf_readable", "daily_report_covers_day"}
    assert all(c.description.startswith("Nothing to compare yet: 2025-10-21: no metrics") for c in checks.values())
    alone = run(demo, [report_distribution], "2025-10-21")  # e.g. launched by hand for that day
    assert alone.success and alone.get_asset_materialization_events() == []
    assert "no metrics samples and no rule events" in skipped_reasons(alone)["report_distribution"]
    assert not (demo / "controls/reports/receipts.jsonl").exists() or "2025-10-21" not in (
        demo / "controls/reports/receipts.jsonl").read_text(encoding="utf-8")


def test_posterior_and_resonance_are_included_when_present(demo, tmp_path):
    (demo / "logs/bayes_posterior.jsonl").write_text(
        json.dumps({"ts": "2025-10-23T14:00:00+09:00", "rules": {"creative_min": {"creative_band": {
            "prior": {"mu": 0, "sigma": 0.05}, "posterior": {"mu": 0.0198, "sigma": 0.0012}, "obs_mean": 0.02,
            "n": 8, "p_improve": 0.999, "hdi": [0.0176, 0.0221], "method": "pymc", "r_hat": 1.0, "ess": 1800}}}}) + "\n",
        encoding="utf-8",
    )
    (demo / "logs/resonance.json").write_text(json.dumps({"windows": {"24h": {"coherence": 0.712}}}), encoding="utf-8")
    try:
        result = run(demo, [daily_report], DAY)
        assert result.success
        md = (demo / f"controls/reports/report_{DAY}.md").read_text(encoding="utf-8")
        assert "+0.0198" in md and "[+0.0176, +0.0221]" in md and "| coherence | 0.712 |" in md
    finally:
        (demo / "logs/bayes_posterior.jsonl").unlink()
        (demo / "logs/resonance.json").unlink()


def test_report_comes_out_when_the_newest_pymc_fit_did_not_converge(demo):
    """Issue 11 §2: an unconverged fit never silences the day; the posterior section says which fit it shows."""
    def line(ts, mu, converged, divergences):
        return json.dumps({"ts": ts, "fit": "pymc", "method": "pymc-pooled-student-t-v2", "converged": converged,
                           "divergences": divergences, "max_r_hat": 1.002 if converged else 1.09, "min_ess": 812.0,
                           "attempts": [{"attempt": 1}], "rules": {"creative_min": {"creative_band": {
                               "posterior": {"mu": mu, "sigma": 0.0012}, "hdi": [mu - 0.002, mu + 0.002],
                               "p_improve": 0.99, "n": 8, "method": "pymc"}}}})
    (demo / "logs/bayes_posterior.jsonl").write_text(
        line("2025-10-23T13:15:00+09:00", 0.0198, True, 0) + "\n" + line("2025-10-23T14:15:00+09:00", 0.4321, False, 37)
        + "\n", encoding="utf-8")
    try:
        result = run(demo, [daily_report], DAY)
        assert result.success
        md = (demo / f"controls/reports/report_{DAY}.md").read_text(encoding="utf-8")
        assert "newest PyMC fit (2025-10-23T14:15:00+09:00) did NOT converge (37 divergences" in md
        assert "not to be relied on" in md
        assert "Shown instead: the last converged PyMC pooled fit" in md and "2025-10-23T13:15:00+09:00" in md
        assert "+0.0198" in md and "0.4321" not in md
        meta = result.asset_materializations_for_node("daily_report")[0].metadata
        assert "did NOT converge" in meta["posterior_shown"].value
    finally:
        (demo / "logs/bayes_posterior.jsonl").unlink()


def test_distribution_to_outbox_writes_receipt_and_never_resends(demo):
    assert run(demo, [daily_report], DAY).success
    first = run(demo, [report_distribution], DAY)
    assert first.success
    assert checks_of(first)["report_delivered"].passed
    eml = demo / f"controls/reports/outbox/{DAY}/outbox.eml"
    message = message_from_bytes(eml.read_bytes())
    (attachment,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert attachment.get_payload(decode=True) == (demo / f"controls/reports/report_{DAY}.pdf").read_bytes()
    second = run(demo, [report_distribution], DAY)
    assert second.success
    receipts = [json.loads(line) for line in (demo / "controls/reports/receipts.jsonl").read_text().splitlines()]
    assert [(r["recipient"], r["status"]) for r in receipts if r["report_date"] == DAY] == [("outbox:outbox", "sent")]
    assert second.asset_materializations_for_node("report_distribution")[0].metadata["already_sent"].value == 1


def test_distribution_refuses_a_pdf_changed_after_the_report_was_built(demo, tmp_path):
    assert run(demo, [daily_report], "2025-10-22").success
    (demo / "controls/reports/report_2025-10-22.pdf").write_bytes(b"%PDF-1.4 tampered")
    result = run(demo, [report_distribution], "2025-10-22")
    assert not result.success
    assert not (demo / "controls/reports/outbox/2025-10-22").exists()


def test_report_page_links_previews_and_shows_the_headline_in_its_language(demo, monkeypatch):
    """Issue 15 §2: links the browser opens when the folder is served, the Markdown inline, the headline
    figures under their names in the configured language, links to the trust assets."""
    monkeypatch.setenv("LUMEN_REPORTS_URL", "http://127.0.0.1:8090/")
    result = run(demo, [daily_report], DAY)
    meta = result.asset_materializations_for_node("daily_report")[0].metadata
    assert meta["pdf_link"].value == f"http://127.0.0.1:8090/report_{DAY}.pdf"
    assert meta["markdown_link"].value == f"http://127.0.0.1:8090/report_{DAY}.md"
    md = (demo / f"controls/reports/report_{DAY}.md").read_text(encoding="utf-8")
    assert meta["preview"].value == md
    assert meta["규칙 이벤트"].value.isdigit()  # reports.language: ko (the default)
    assert meta["attestations"].value == dg.AssetKey("attestations")
    monkeypatch.delenv("LUMEN_REPORTS_URL")
    again = run(demo, [daily_report], DAY).asset_materializations_for_node("daily_report")[0].metadata
    assert "pdf_link" not in again and "preview" in again  # no served folder: no dead link
