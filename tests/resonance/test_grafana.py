"""The shipped Grafana dashboards: valid, no overlapping panels (seed segA C23 defect), datasource bound,
and every metric they query is one the exporter serves."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from lumen_assets.config import load_config
from lumen_assets.resonance.exporter import ExporterSources, build_registry
from tests.resonance.test_exporter import workspace  # noqa: F401 - fixture

DASHBOARDS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "grafana").glob("*.json"))
PROMQL_WORDS = {"sum", "by", "count", "or", "vector", "time", "min", "max", "on", "and", "increase"}


def test_three_dashboards_ship():
    assert {p.stem for p in DASHBOARDS} == {"resonance", "rules", "slo", "rhythm"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_do_not_overlap_and_bind_a_datasource(path):
    dashboard = json.loads(path.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for a, b in itertools.combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        overlap = ga["x"] < gb["x"] + gb["w"] and gb["x"] < ga["x"] + ga["w"] and ga["y"] < gb["y"] + gb["h"] and gb["y"] < ga["y"] + ga["h"]
        assert not overlap, (a["title"], b["title"])
    assert all(p["datasource"]["uid"] == "${datasource}" and p["targets"] for p in panels)


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\([^()]*\bby\b\s*\([^)]*\)", "(", expr)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w not in PROMQL_WORDS and not w.isdigit()}


def test_every_queried_metric_is_served(workspace):  # noqa: F811 - fixture
    registry = build_registry(ExporterSources.for_workspace(workspace, load_config(None)))
    served = {metric.name for metric in registry.collect()}
    for path in DASHBOARDS:
        if path.stem == "rhythm":
            continue  # needs a workspace with rhythm data: tests/rhythm/test_exporter.py
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                names = metric_names(target["expr"]) - {"error_class", "window", "channel"}
                assert names <= served, (path.stem, panel["title"], names - served)
