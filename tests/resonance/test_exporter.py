"""The Prometheus exporter, scraped over real HTTP on 127.0.0.1 and parsed with prometheus_client's parser."""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lumen_assets.config import load_config
from lumen_assets.demo import write_gateway_yaml
from lumen_assets.effects.table import write_effects_csv
from lumen_assets.effects.window import EFFECT_COLUMNS
from lumen_assets.resonance.exporter import ExporterSources, serve
from lumen_assets.resonance.report import build_report
from lumen_assets.resonance.settings import ResonanceSettings
from lumen_assets.resonance.sli import RunOutcome
from tests.resonance.conftest import write_metrics
from tests.support.processes import default_stop_signals
from tests.support.servers import free_port


def effects_row(rule: str, rule_ts: str, d_phase: float, status: str = "complete") -> dict:
    row = {c: np.nan for c in EFFECT_COLUMNS}
    row.update(rule_ts=rule_ts, actor="op", rule=rule, old=0.2, new=0.25, pre_s=30, post_s=30, d_phase=d_phase,
               d_entropy=0.01, d_creative=0.02, d_risk=np.nan, n_pre=150, n_post=150, status=status, event_id=rule_ts)
    return row


@pytest.fixture
def workspace(tmp_path):
    write_gateway_yaml(tmp_path / "gateway_activation.yaml")
    frame = write_metrics(tmp_path, minutes=5, end=datetime(2025, 10, 23, 5, 0, tzinfo=UTC))
    frame.loc[frame.index[-1], "creative_band"] = np.nan  # blank cell in the newest row
    from lumen_assets.ingest.metrics_store import write_metrics_store

    write_metrics_store(frame, tmp_path / ".lumen" / "metrics")
    rows = pd.DataFrame(
        [
            effects_row("creative_min", "2025-10-23T13:50:00+09:00", -0.03),  # newest, but first in the file
            effects_row("creative_min", "2025-10-23T13:10:00+0900", 0.05),
            effects_row("risk_max", "2025-10-23T13:20:00+09:00", -0.01),
            effects_row("risk_max", "2025-10-23T13:55:00+09:00", 0.9, status="pending"),  # not evidence yet
        ]
    )
    write_effects_csv(rows, tmp_path / "logs" / "rules_effects.csv")
    now = datetime(2025, 10, 23, 5, 0, tzinfo=UTC)
    runs = [RunOutcome("a", "a", now, True, 30.0), RunOutcome("b", "b", now, False, 60.0, "network")]
    document = build_report(
        ResonanceSettings(), metrics=frame, runs=runs, proofs={"signatures": True}, custody_age_d=None,
        now=now, sample_rate_hz=5, gap_factor=2.5,
    )
    (tmp_path / "logs" / "resonance.json").write_text(json.dumps(document))
    return tmp_path


def scrape(sources: ExporterSources) -> dict:
    port = free_port()
    server, thread = serve(sources, port, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.mark.integration
def test_scrape_parses_and_carries_seed_and_resonance_gauges(workspace):
    samples = scrape(ExporterSources.for_workspace(workspace, load_config(None)))
    assert samples[("lumen_gateway_status", ())] == 4  # locked
    assert samples[("lumen_phase_diff", ())] == pytest.approx(0.05)
    assert math.isnan(samples[("lumen_creative_band", ())])  # blank is NaN, not the seed's 0
    # newest complete effect per rule by event time, one series per rule
    assert samples[("lumen_rule_last_phase_diff_delta", (("rule", "creative_min"),))] == pytest.approx(-0.03)
    assert samples[("lumen_rule_last_phase_diff_delta", (("rule", "risk_max"),))] == pytest.approx(-0.01)
    assert math.isnan(samples[("lumen_rule_last_risk_band_delta", (("rule", "risk_max"),))])
    for window in ("24h", "7d"):
        assert samples[("resonance_symmetry", (("window", window),))] == 1.0
        assert ("resonance_safety", (("window", window),)) not in samples  # unknown: absent, not 0.5
        assert samples[("resonance_component_known", (("component", "safety"), ("window", window)))] == 0
        for channel in ("all", "lumen", "lubit", "sena", "vinoce"):
            assert 0 <= samples[("resonance_coherence", (("channel", channel), ("window", window)))] <= 1
    assert samples[("lumen_runs_failed", (("error_class", "network"), ("window", "24h")))] == 1
    assert samples[("lumen_sli_success_ratio", (("window", "7d"),))] == 0.5
    assert samples[("lumen_slo_burn_rate", (("window", "1h"),))] == pytest.approx(50.0)
    assert samples[("lumen_exporter_source_ok", (("source", "resonance"),))] == 1


@pytest.mark.integration
def test_missing_sources_are_reported_not_fatal(tmp_path):
    samples = scrape(ExporterSources.for_workspace(tmp_path, load_config(None)))
    assert samples[("lumen_gateway_status", ())] == 0
    for source in ("gateway", "metrics", "effects", "resonance"):
        assert samples[("lumen_exporter_source_ok", (("source", source),))] == 0


@pytest.mark.integration
def test_lumen_exporter_command_serves_the_workspace(workspace):
    import subprocess
    import sys
    import time

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lumen_assets.cli", "exporter", "--workspace", str(workspace), "--port", str(port),
         "--addr", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_stop_signals,
    )
    try:
        text = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    text = response.read().decode()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(process.stdout.read())
                time.sleep(0.1)
        assert text is not None
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"lumen_gateway_status", "resonance_coherence", "lumen_sli_success_ratio"} <= names
    finally:
        process.terminate()
        process.wait(60)  # an upper bound for a loaded machine
