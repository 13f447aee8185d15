"""Prometheus exporter over the latest materialisations (seed segA C12/C18 gauges + resonance + SLIs).

Keeps the seed's gauge names so its Grafana JSON keeps working (`lumen_gateway_status`, `lumen_phase_diff`,
..., `lumen_rule_last_<signal>_delta{rule}`) and adds `resonance_*{window[,channel]}` and the run SLIs from
`logs/resonance.json`. Seed bugs fixed (segA "Consolidated bugs" 8, 10, 13): a blank cell or a missing delta
is NaN, not 0; the "last" effect per rule is the newest by event time (one series per rule, not one rule
label that flips), and only complete effects count; the Parquet's last row group is read, not the whole
CSV on every scrape. Each scrape reads the files afresh; a file that cannot be read is reported through
`lumen_exporter_source_ok{source}` instead of failing the scrape.

No dagster import: this runs as a small sidecar (`lumen exporter`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from lumen_assets.layout import WorkspaceLayout
from lumen_assets.signals import SIGNALS

STATUS_MAP = {"unknown": 0, "initializing": 1, "binding": 2, "resonating": 3, "locked": 4}
DELTA_COLUMNS = {"phase_diff": "d_phase", "entropy_rate": "d_entropy", "creative_band": "d_creative", "risk_band": "d_risk"}
COMPONENTS = ("symmetry", "continuity", "entropy", "safety", "phase", "coherence")


def sanitize_label(value: str) -> str:
    """The seed's label sanitiser (segA C18)."""
    return re.sub(r"[^a-zA-Z0-9_:]", "_", value) if value else "unknown"


@dataclass(frozen=True)
class ExporterSources:
    """Where the exporter reads, all resolved from the workspace and its config."""

    gateway_yaml: Path
    metrics_store: Path
    effects_csv: Path
    resonance_json: Path
    rhythm_jsonl: Path | None = None  # rhythm_sync output (seed `/rhythm_metrics`)
    environment_store: Path | None = None
    rhythm_bands: dict[str, str] | None = None

    @classmethod
    def for_workspace(cls, root: Path, config: Any) -> ExporterSources:
        layout = WorkspaceLayout.of(root, config)
        return cls(
            gateway_yaml=layout.gateway_yaml,
            metrics_store=layout.metrics_store,
            effects_csv=layout.effects_csv,
            resonance_json=root / config.resonance.output,
            rhythm_jsonl=root / config.rhythm.output,
            environment_store=layout.environment_store,
            rhythm_bands=config.rhythm.bands(),
        )

    def rhythm_collector(self):
        from lumen_assets.rhythm.exporter import RhythmCollector

        return RhythmCollector(
            self.rhythm_jsonl or Path("/nonexistent"), self.environment_store or Path("/nonexistent"), self.rhythm_bands
        )


def _float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_gateway_status(path: Path) -> int:
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    status = (document or {}).get("gateway", {}).get("status") if isinstance(document, dict) else None
    return STATUS_MAP.get(str(status), 0)


def read_last_sample(path: Path) -> tuple[float, dict[str, float]]:
    """Timestamp (epoch s) and the four signals of the newest row (NaN where the cell was blank), from the
    metrics store's newest day only."""
    from lumen_assets.ingest.metrics_store import load_state, read_metrics

    state = load_state(path)
    if state is None or state.last_ts_ns is None:
        raise ValueError("no rows")
    import pandas as pd

    newest = read_metrics(path, start=pd.Timestamp(state.last_ts_ns, tz="UTC"))
    if newest.empty:
        raise ValueError("no rows")
    row = newest.iloc[-1]
    return row["ts"].timestamp(), {s: _float(row[s]) for s in SIGNALS}


def read_last_rule_deltas(path: Path) -> dict[str, dict[str, float]]:
    """rule -> signal -> Δ of the newest *complete* effect of that rule (by event time, not file order)."""
    from lumen_assets.effects.table import read_effects_csv

    frame = read_effects_csv(path)
    if frame.empty:
        return {}
    frame = frame[frame["status"] == "complete"].copy()
    frame["_ts"] = frame["rule_ts"].map(_event_time)
    latest: dict[str, dict[str, float]] = {}
    for rule, rows in frame.sort_values("_ts").groupby("rule", sort=True):
        row = rows.iloc[-1]
        latest[sanitize_label(str(rule))] = {s: _float(row[c]) for s, c in DELTA_COLUMNS.items()}
    return latest


def _event_time(value: Any) -> float:
    from lumen_assets.ingest.timestamps import parse_timestamp  # accepts both seed offset formats

    try:
        return parse_timestamp(value).timestamp()
    except Exception:
        return math.nan


class LumenCollector(Collector):
    """Reads the workspace's latest outputs on every scrape."""

    def __init__(self, sources: ExporterSources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ok = GaugeMetricFamily("lumen_exporter_source_ok", "1 when the source file was read, 0 when missing or unreadable", labels=["source"])
        yield from self._gateway(ok)
        yield from self._signals(ok)
        yield from self._rule_deltas(ok)
        yield from self._resonance(ok)
        if self.sources.rhythm_jsonl is not None:
            yield from self.sources.rhythm_collector().collect(ok)
        yield ok

    def _gateway(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("lumen_gateway_status", "Gauge 0=unknown,1=initializing,2=binding,3=resonating,4=locked")
        try:
            gauge.add_metric([], read_gateway_status(self.sources.gateway_yaml))
            ok.add_metric(["gateway"], 1)
        except Exception:
            gauge.add_metric([], 0)
            ok.add_metric(["gateway"], 0)
        yield gauge

    def _signals(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            ts, values = read_last_sample(self.sources.metrics_store)
        except Exception:
            ok.add_metric(["metrics"], 0)
            return
        ok.add_metric(["metrics"], 1)
        for signal in SIGNALS:
            yield GaugeMetricFamily(f"lumen_{signal}", f"Latest {signal}", value=values[signal])
        yield GaugeMetricFamily("lumen_metrics_last_sample_timestamp_seconds", "Time of the newest metrics sample", value=ts)

    def _rule_deltas(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            latest = read_last_rule_deltas(self.sources.effects_csv) if self.sources.effects_csv.exists() else {}
            ok.add_metric(["effects"], 1 if self.sources.effects_csv.exists() else 0)
        except Exception:
            ok.add_metric(["effects"], 0)
            return
        for signal in SIGNALS:
            gauge = GaugeMetricFamily(
                f"lumen_rule_last_{signal}_delta", "Delta after most recent rule event (post - pre)", labels=["rule"]
            )
            for rule, deltas in latest.items():
                gauge.add_metric([rule], deltas[signal])
            yield gauge

    def _resonance(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            document = json.loads(self.sources.resonance_json.read_text(encoding="utf-8"))
            windows = document["windows"]
        except Exception:
            ok.add_metric(["resonance"], 0)
            return
        ok.add_metric(["resonance"], 1)
        for component in COMPONENTS:
            if component == "coherence":
                continue
            gauge = GaugeMetricFamily(f"resonance_{component}", f"Resonance {component} per window (segD §13)", labels=["window"])
            for name, window in windows.items():
                value = window["scores"].get(component)
                if value is not None:
                    gauge.add_metric([name], float(value))
            yield gauge
        coherence = GaugeMetricFamily(
            "resonance_coherence", "Coherence per window and observer channel (channel=all: equal weights, the seed's)",
            labels=["window", "channel"],
        )
        known = GaugeMetricFamily("resonance_component_known", "1 when the component could be computed", labels=["window", "component"])
        failed = GaugeMetricFamily("lumen_runs_failed", "Failed logical runs in the window by error class", labels=["window", "error_class"])
        runs = GaugeMetricFamily("lumen_runs", "Finished logical runs in the window", labels=["window"])
        for name, window in windows.items():
            if window["scores"].get("coherence") is not None:
                coherence.add_metric([name, "all"], float(window["scores"]["coherence"]))
            for channel, value in window["channels"].items():
                if value is not None:
                    coherence.add_metric([name, channel], float(value))
            for component in COMPONENTS[:5]:
                known.add_metric([name, component], 0 if component in window.get("unknown", []) else 1)
            run_inputs = window["inputs"]["runs"]
            runs.add_metric([name], run_inputs["runs"])
            for error_class, count in run_inputs["failure_hist"].items():
                failed.add_metric([name, error_class], count)
        yield coherence
        yield known
        yield runs
        yield failed
        sli = document["sli"]["run_success"]
        window_label = _span_label(sli["window_s"])
        yield _gauge("lumen_sli_success_ratio", "Successful logical runs / logical runs", ["window"], [window_label], sli["ratio"])
        yield _gauge("lumen_slo_target", "Run-success SLO target", ["window"], [window_label], sli["target"])
        burn = GaugeMetricFamily("lumen_slo_burn_rate", "Error-budget burn rate per window", labels=["window"])
        firing = GaugeMetricFamily("lumen_slo_burn_firing", "1 when both windows of a pair burn faster than its factor", labels=["long", "short", "severity"])
        seen = set()
        for pair in document["sli"]["burn"]:
            for span, rate in ((pair["long_s"], pair["long_rate"]), (pair["short_s"], pair["short_rate"])):
                label = _span_label(span)
                if rate is not None and label not in seen:
                    seen.add(label)
                    burn.add_metric([label], float(rate))
            firing.add_metric([_span_label(pair["long_s"]), _span_label(pair["short_s"]), pair["severity"]], 1 if pair["firing"] else 0)
        yield burn
        yield firing
        generated = document.get("generated_at")
        if generated:
            yield GaugeMetricFamily(
                "resonance_last_update_timestamp_seconds", "When resonance_scores was last materialised",
                value=datetime.fromisoformat(generated).timestamp(),
            )


def _gauge(name: str, doc: str, labels: list[str], values: list[str], value: float | None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=labels)
    if value is not None:
        gauge.add_metric(values, float(value))
    return gauge


def _span_label(seconds: float) -> str:
    """3600 -> '1h', 604800 -> '7d', 300 -> '5m' (the seed's window labels)."""
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def build_registry(sources: ExporterSources) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LumenCollector(sources))
    return registry


def build_rhythm_registry(sources: ExporterSources) -> CollectorRegistry:
    """Only the rhythm gauges: the seed's `/rhythm_metrics` data source for the Natural Rhythm Blend panel."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(sources.rhythm_collector())
    return registry


def serve(sources: ExporterSources, port: int, addr: str = "0.0.0.0"):
    """Start the HTTP server in a daemon thread; returns (server, thread). `/rhythm_metrics` serves the rhythm
    gauges alone (seed segC §C1); every other path serves all gauges (the rhythm ones included)."""
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    everything = make_wsgi_app(build_registry(sources))
    rhythm = make_wsgi_app(build_rhythm_registry(sources))

    def app(environ, start_response):
        chosen = rhythm if environ.get("PATH_INFO", "").rstrip("/") == "/rhythm_metrics" else everything
        return chosen(environ, start_response)

    class _Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

    server = make_server(addr, port, app, _Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
