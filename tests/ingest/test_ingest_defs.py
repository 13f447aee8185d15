"""The ingest assets' checks and failures on bad input, with an ephemeral instance."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from lumen_assets.ingest.defs import metrics, rule_events
from lumen_assets.ingest.metrics_store import read_metrics
from tests.effects.graph_support import check_evaluations, demo_graph


def _materialize(demo, assets):
    return dg.materialize(assets, resources=demo.resources, instance=demo.instance, raise_on_error=False)


def test_metrics_writes_parquet_that_matches_the_csv(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    assert _materialize(demo, [metrics]).success
    frame = read_metrics(demo.root / ".lumen" / "metrics")
    raw = pd.read_csv(demo.root / "logs" / "metrics.csv")
    assert len(frame) == len(raw)
    assert frame["phase_diff"].isna().sum() == raw["phase_diff"].isna().sum() > 0


def test_wrong_metrics_header_fails_the_step_naming_file_and_line(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    path = demo.root / "logs" / "metrics.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["time,a,b,c,d", *lines[1:]]) + "\n")
    result = _materialize(demo, [metrics])
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "logs/metrics.csv:1" in failure.step_failure_data.error.message  # workspace-relative (issue 11 §4)


def test_quarantine_rate_check_warns_and_quarantine_file_names_lines(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    path = demo.root / "logs" / "metrics.csv"
    lines = path.read_text().splitlines()
    bad = {i for i in range(2, len(lines), 50)}  # 2 % of rows
    path.write_text("\n".join(lines[0:1] + [f"{line},0.5" if i + 1 in bad else line
                                             for i, line in enumerate(lines) if i]) + "\n")
    result = _materialize(demo, [metrics])
    assert result.success  # WARN does not block
    checks = check_evaluations(result)
    assert not checks["metrics_quarantine_rate"].passed
    assert checks["metrics_quarantine_rate"].severity == dg.AssetCheckSeverity.WARN
    assert checks["metrics_schema_range_order"].passed
    records = [json.loads(x) for x in (demo.root / "logs/quarantine/metrics.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in records) == sorted(bad)
    assert all(r["reason"] == "expected 5 fields, got 6" for r in records)


def test_schema_check_is_blocking_error() -> None:
    specs = {spec.name: spec for spec in metrics.check_specs}
    assert specs["metrics_schema_range_order"].blocking
    assert not specs["metrics_quarantine_rate"].blocking


def test_schema_problems_name_an_unsorted_or_out_of_range_frame() -> None:
    from lumen_assets.ingest.metrics_store import metrics_schema_problems

    frame = pd.DataFrame({"ts": pd.to_datetime([2, 1], unit="s", utc=True).astype("datetime64[ns, UTC]"),
                          "phase_diff": [0.1, 1.5], "entropy_rate": [0.1, 0.1],
                          "creative_band": [0.1, None], "risk_band": [0.1, 0.1]})
    problems = "; ".join(metrics_schema_problems(frame))
    assert "phase_diff: 1 values outside [0, 1]" in problems
    assert "not sorted" in problems
    assert metrics_schema_problems(frame.iloc[:1]) == []


def test_rule_events_quarantines_bad_lines_and_counts_them(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    history = demo.root / "controls" / "rules_history.jsonl"
    with open(history, "a", encoding="utf-8") as handle:
        handle.write('{"ts": "2025-10-23T15:00:00", "rule": "x", "new": 1}\nnot json\n')
    result = _materialize(demo, [rule_events])
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["quarantined_lines"].value == 2
    records = [json.loads(x) for x in (demo.root / "logs/quarantine/rules_history.jsonl").read_text().splitlines()]
    n = len(demo.event_ids)
    assert [r["line"] for r in records] == [n + 1, n + 2]
    assert "no UTC offset" in records[0]["reason"]


def _no_data_rows_result(demo, text: str):
    path = demo.root / "logs" / "metrics.csv"
    path.write_text(text, encoding="utf-8")
    result = _materialize(demo, [metrics])
    [schema] = [e for e in result.get_asset_check_evaluations() if e.check_name == "metrics_schema_range_order"]
    return result, schema


def test_metrics_file_with_only_its_header_is_an_error_check_no_data_rows(tmp_path: Path) -> None:
    """Issue 11 §3: not a silent 0-row store; an ERROR check naming the file, which blocks what follows."""
    demo = demo_graph(tmp_path)
    result, schema = _no_data_rows_result(demo, "ts,phase_diff,entropy_rate,creative_band,risk_band\n")
    assert not schema.passed and schema.severity == dg.AssetCheckSeverity.ERROR
    assert "logs/metrics.csv: no data rows" in schema.description


def test_empty_metrics_file_is_an_error_check_no_data_rows(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    result, schema = _no_data_rows_result(demo, "")
    assert not schema.passed and schema.severity == dg.AssetCheckSeverity.ERROR
    assert "no data rows" in schema.description and "empty" in schema.description
