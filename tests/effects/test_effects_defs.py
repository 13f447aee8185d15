"""The foundation graph materialised with an ephemeral instance on the demo workspace."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from lumen_assets.effects.defs import effects_rows_consistent, rule_effects
from lumen_assets.effects.table import read_effects_csv
from lumen_assets.gateway.defs import gateway_state
from lumen_assets.ingest.defs import metrics, rule_events
from tests.effects.graph_support import DemoGraph, check_evaluations, demo_graph

FOUNDATION = [rule_events, metrics, gateway_state, rule_effects, effects_rows_consistent]


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoGraph, list[dg.ExecuteInProcessResult]]:
    demo = demo_graph(tmp_path_factory.mktemp("graph"))
    assert len(set(demo.event_days)) == 1  # the demo's events fall on one reporting day
    results = [dg.materialize(FOUNDATION, partition_key=demo.event_days[0], resources=demo.resources,
                              instance=demo.instance, raise_on_error=False)]
    return demo, results


def test_foundation_materialises_every_asset(graph) -> None:
    _, results = graph
    for result in results:
        assert result.success
        keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert keys == {"rule_events", "metrics", "gateway_state", "rule_effects"}


def test_checks_pass_on_good_data(graph) -> None:
    _, results = graph
    checks = check_evaluations(results[0])
    for name in ("metrics_schema_range_order", "metrics_quarantine_rate", "gateway_signature_hash",
                 "effects_rows_consistent"):
        assert checks[name].passed, name
    assert checks["metrics_schema_range_order"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["metrics_quarantine_rate"].severity == dg.AssetCheckSeverity.WARN
    assert checks["metrics_freshness"].severity == dg.AssetCheckSeverity.WARN
    assert not checks["metrics_freshness"].passed  # the demo is dated 2025-10-23: stale against now


def test_a_day_partition_computes_every_event_of_that_day(graph) -> None:
    demo, results = graph
    table = read_effects_csv(demo.root / "logs" / "rules_effects.csv")
    assert table["event_id"].tolist() == demo.event_ids
    assert table["status"].iloc[-1] == "pending"  # the demo's last event: its post window is not covered
    by_day = {e.partition: e.materialization.metadata for e in results[0].get_asset_materialization_events()
              if e.asset_key.to_user_string() == "rule_effects"}
    shown = by_day[demo.event_days[0]]["day_events"].value
    assert [r.data["event_id"] for r in shown.records] == demo.event_ids  # each event by its readable id
    assert {c.name for c in shown.schema.columns} >= {"event_id", "event_time", "rule", "change", "status"}
    assert (demo.root / ".lumen" / "effects.parquet").exists()
    assert (demo.root / ".lumen" / "metrics" / "_ingest_state.json").exists()


def test_rule_events_ids_are_readable_time_and_rule(graph) -> None:
    demo, results = graph
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z_[\w.-]+", i) for i in demo.event_ids)
    assert len(set(demo.event_ids)) == len(demo.event_ids)
    [event] = [e for e in results[0].get_asset_materialization_events() if e.asset_key.to_user_string() == "rule_events"]
    metadata = event.materialization.metadata
    assert metadata["events"].value == len(demo.event_ids)
    assert metadata["quarantined_lines"].value == 0


def test_metrics_metadata_reports_rows_gaps_and_missing(graph) -> None:
    _, results = graph
    [event] = [e for e in results[0].get_asset_materialization_events() if e.asset_key.to_user_string() == "metrics"]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == metadata["rows_read"].value > 17_000
    assert metadata["gaps"].value == 1 and metadata["gap_longest_s"].value == pytest.approx(50.0)
    assert metadata["missing_cells"].value > 0


def test_effects_rows_consistent_reports_events_not_yet_computed(graph) -> None:
    demo, _ = graph
    result = effects_rows_consistent(workspace=demo.workspace)
    assert result.passed
    assert result.metadata["rows"].value == len(demo.event_ids)
    assert result.metadata["events_not_yet_computed"].value == 0


def test_effects_rows_consistent_fails_on_a_duplicate_row(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    dg.materialize(FOUNDATION[:-1], partition_key=demo.event_days[0], resources=demo.resources, instance=demo.instance)
    csv = demo.root / "logs" / "rules_effects.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[1]]) + "\n")  # the seed appended: a second row for one event
    result = effects_rows_consistent(workspace=demo.workspace)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["duplicate_rows"].value == 1


def test_a_day_without_events_computes_nothing_and_succeeds(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    dg.materialize([metrics], resources=demo.resources, instance=demo.instance)
    result = dg.materialize([rule_effects], partition_key="2025-10-25", resources=demo.resources,
                            instance=demo.instance)
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["events"].value == 0


def test_rule_effects_without_metrics_store_fails_naming_it(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    result = dg.materialize([rule_effects], partition_key=demo.event_days[0], resources=demo.resources,
                            instance=demo.instance, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "metrics not found" in failures[0].step_failure_data.error.message


def test_each_day_of_a_single_run_backfill_shows_its_own_events(tmp_path: Path) -> None:
    """Issue 15 §1 with daily effects partitions: a single-run backfill over three days writes three
    materialisations, each listing its own day's events by readable id with time, actor, rule, old → new,
    Δ with an interval, n and status (not one shared table)."""
    from datetime import date, timedelta

    from lumen_assets.ingest.rules import read_rule_events

    demo = demo_graph(tmp_path)
    dg.materialize([metrics], resources=demo.resources, instance=demo.instance)
    day = date.fromisoformat(demo.event_days[0])
    days = [(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    result = dg.materialize([rule_effects], resources=demo.resources, instance=demo.instance,
                            tags={"dagster/asset_partition_range_start": days[0],
                                  "dagster/asset_partition_range_end": days[-1]})
    events = {e.event_id: e for e in read_rule_events(demo.root / "controls" / "rules_history.jsonl").events}
    by_partition = {e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(by_partition) == set(days)
    assert by_partition[days[0]]["events"].value == by_partition[days[2]]["events"].value == 0
    rows = by_partition[days[1]]["day_events"].value.records
    assert [r.data["event_id"] for r in rows] == demo.event_ids
    for row in rows[:3]:
        event = events[row.data["event_id"]]
        assert row.data["event_time"] == event.ts_text
        assert row.data["actor"] == event.actor and row.data["rule"] == event.rule
        assert row.data["change"].endswith(f"→ {event.new:.4g}")
        assert row.data["status"] == "complete"
        assert row.data["n_pre"] >= 50 and row.data["n_post"] >= 50
        assert re.match(r"^[\d.]+ → [\d.]+, Δ [+−][\d.]+ \[[+−][\d.]+, [+−][\d.]+\]$", row.data["risk_band"])
