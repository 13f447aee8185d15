"""Prometheus gauges of the rhythm synchronizer (seed segC §C1: the exporter's `/rhythm_metrics`, which the seed
named but never defined). Read from `logs/rhythm_sync.jsonl` (its last record) and the environment store (its
newest row, from its newest day) on every scrape; a missing or unreadable file is `lumen_exporter_source_ok{source} 0`,
never a failed scrape. Pure module: no dagster import (runs inside `lumen exporter`).

Gauges: `lumen_rhythm_blend`, `lumen_rhythm_delta{input,band}`, `lumen_rhythm_coverage{signal}`,
`lumen_rhythm_blend_weight_present`, `lumen_rhythm_step_timestamp_seconds`, and the newest raw readings
`lumen_environment_light_lux`, `lumen_environment_temp_celsius`, `lumen_environment_sound_db`,
`lumen_environment_last_sample_timestamp_seconds`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INPUT_DELTAS = (("light", "d_light"), ("temperature", "d_temp"), ("sound", "d_sound"), ("time_cycle", "d_time"))
ENV_GAUGES = (
    ("light_intensity", "lumen_environment_light_lux", "Newest light intensity (lux)"),
    ("ambient_temp", "lumen_environment_temp_celsius", "Newest ambient temperature (°C)"),
    ("sound_level", "lumen_environment_sound_db", "Newest sound level (dB)"),
)


def read_last_jsonl_record(path: Path, max_bytes: int = 65536) -> dict[str, Any] | None:
    """The last complete JSON line of a file, reading only its tail."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        tail = handle.read()
    for line in reversed(tail.splitlines()):
        if line.strip():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            return record if isinstance(record, dict) else None
    return None


def read_last_environment(store: Path) -> tuple[float, dict[str, float]]:
    """The newest sample of the environment store (only its newest day is read)."""
    from lumen_assets.ingest.environment import ENVIRONMENT
    from lumen_assets.ingest.metrics_store import read_newest_day

    frame = read_newest_day(store, ENVIRONMENT)
    if not len(frame):
        raise ValueError("no rows")
    row = frame.iloc[-1]
    return row["ts"].timestamp(), {k: math.nan if row[k] is None else float(row[k]) for k, _, _ in ENV_GAUGES}


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


class RhythmCollector(Collector):
    """The rhythm gauges; `ok` (lumen_exporter_source_ok) is filled by the caller's family when given."""

    def __init__(self, sync_jsonl: Path, environment_store: Path, bands: dict[str, str] | None = None) -> None:
        self.sync_jsonl = sync_jsonl
        self.environment_store = environment_store
        self.bands = bands or {"light": "phase_diff", "temperature": "entropy_rate", "sound": "creative_band",
                               "time_cycle": "risk_band"}

    def collect(self, ok: GaugeMetricFamily | None = None) -> Iterator[GaugeMetricFamily]:
        own_ok = ok is None
        if ok is None:
            ok = GaugeMetricFamily("lumen_exporter_source_ok", "1 when the source file was read, 0 when missing or unreadable", labels=["source"])
        yield from self._sync(ok)
        yield from self._environment(ok)
        if own_ok:
            yield ok

    def _sync(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            record = read_last_jsonl_record(self.sync_jsonl)
            if record is None:
                raise ValueError("empty")
        except Exception:
            ok.add_metric(["rhythm_sync"], 0)
            return
        ok.add_metric(["rhythm_sync"], 1)
        yield GaugeMetricFamily("lumen_rhythm_blend", "Weighted blend of the four rhythm corrections (last step)",
                                value=_nan(record.get("blend")))
        delta = GaugeMetricFamily("lumen_rhythm_delta", "Rhythm correction of one input on its band (last step)",
                                  labels=["input", "band"])
        for name, key in INPUT_DELTAS:
            delta.add_metric([name, self.bands.get(name, "")], _nan(record.get(key)))
        yield delta
        coverage = GaugeMetricFamily("lumen_rhythm_coverage", "Share of the step's expected samples present",
                                     labels=["signal"])
        for signal, share in sorted((record.get("coverage") or {}).items()):
            coverage.add_metric([signal], _nan(share))
        yield coverage
        yield GaugeMetricFamily("lumen_rhythm_blend_weight_present", "Share of the blend's weight that had data",
                                value=_nan(record.get("blend_weight_present")))
        try:
            from datetime import datetime

            step = datetime.fromisoformat(record["ts"]).timestamp()
        except Exception:
            step = math.nan
        yield GaugeMetricFamily("lumen_rhythm_step_timestamp_seconds", "Start of the last rhythm step", value=step)

    def _environment(self, ok: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            ts, values = read_last_environment(self.environment_store)
        except Exception:
            ok.add_metric(["environment"], 0)
            return
        ok.add_metric(["environment"], 1)
        for column, name, doc in ENV_GAUGES:
            yield GaugeMetricFamily(name, doc, value=values[column])
        yield GaugeMetricFamily("lumen_environment_last_sample_timestamp_seconds", "Time of the newest environment sample", value=ts)
