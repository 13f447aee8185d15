"""`/rhythm_metrics`: the rhythm gauges over real HTTP on 127.0.0.1, parsed with prometheus_client's parser."""

from __future__ import annotations

import math
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lumen_assets.atomic import atomic_write_jsonl
from lumen_assets.config import LumenConfig
from lumen_assets.demo import write_demo_environment
from lumen_assets.ingest.environment import read_environment_csv, write_environment_store
from lumen_assets.resonance.exporter import ExporterSources, serve
from lumen_assets.rhythm.sync import synchronize
from tests.support.servers import free_port


def _scrape(sources: ExporterSources, path: str) -> dict[tuple[str, tuple], float]:
    port = free_port()
    server, thread = serve(sources, port, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_rhythm_metrics_serves_the_last_step_and_the_newest_readings(tmp_path: Path) -> None:
    config = LumenConfig()
    write_demo_environment(tmp_path / "logs" / "environment.csv", hours=0.1)
    ingest = read_environment_csv(tmp_path / "logs" / "environment.csv")
    write_environment_store(ingest.frame, tmp_path / ".lumen" / "environment")
    records = synchronize(ingest.frame, config.rhythm, config.tz).records
    atomic_write_jsonl(tmp_path / "logs" / "rhythm_sync.jsonl", records)
    sources = ExporterSources.for_workspace(tmp_path, config)

    rhythm = _scrape(sources, "/rhythm_metrics")
    last = records[-1]
    assert math.isclose(rhythm[("lumen_rhythm_blend", ())], last["blend"])
    assert math.isclose(rhythm[("lumen_rhythm_delta", (("band", "creative_band"), ("input", "sound")))], last["d_sound"])
    assert rhythm[("lumen_rhythm_delta", (("band", "risk_band"), ("input", "time_cycle")))] == last["d_time"]
    assert rhythm[("lumen_environment_temp_celsius", ())] == ingest.frame["ambient_temp"].iloc[-1]
    assert rhythm[("lumen_exporter_source_ok", (("source", "rhythm_sync"),))] == 1
    assert not any(name.startswith("resonance_") or name == "lumen_phase_diff" for name, _ in rhythm)

    everything = _scrape(sources, "/metrics")
    assert ("lumen_rhythm_blend", ()) in everything

    moved = LumenConfig.model_validate({"rhythm": {"time_cycle": {"band": "phase_diff"}}})  # the config's choice
    relabelled = _scrape(ExporterSources.for_workspace(tmp_path, moved), "/rhythm_metrics")
    assert relabelled[("lumen_rhythm_delta", (("band", "phase_diff"), ("input", "time_cycle")))] == last["d_time"]
    assert everything[("lumen_exporter_source_ok", (("source", "metrics"),))] == 0  # no metrics in this workspace


def test_missing_rhythm_files_are_reported_not_fatal(tmp_path: Path) -> None:
    sources = ExporterSources.for_workspace(tmp_path, LumenConfig())
    rhythm = _scrape(sources, "/rhythm_metrics")
    assert rhythm[("lumen_exporter_source_ok", (("source", "rhythm_sync"),))] == 0
    assert rhythm[("lumen_exporter_source_ok", (("source", "environment"),))] == 0


def test_the_rhythm_dashboard_queries_only_served_rhythm_gauges(tmp_path: Path) -> None:
    import json

    from lumen_assets.resonance.exporter import build_registry
    from tests.resonance.test_grafana import metric_names

    config = LumenConfig()
    write_demo_environment(tmp_path / "logs" / "environment.csv", hours=0.05)
    ingest = read_environment_csv(tmp_path / "logs" / "environment.csv")
    write_environment_store(ingest.frame, tmp_path / ".lumen" / "environment")
    atomic_write_jsonl(tmp_path / "logs" / "rhythm_sync.jsonl", synchronize(ingest.frame, config.rhythm, config.tz).records)
    served = {m.name for m in build_registry(ExporterSources.for_workspace(tmp_path, config)).collect()}
    served.add("lumen_phase_diff")  # from metrics; tests/resonance covers it
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "rhythm.json").read_text())
    assert "Natural Rhythm Blend" in [p["title"] for p in dashboard["panels"]]
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = metric_names(target["expr"]) - {"source", "rhythm_sync", "environment"}
            assert names <= served, (panel["title"], names - served)
