"""Latency from appending a rule event to its effects materialisation completing, under `dagster dev`.

Starts the real `dagster dev` (webserver + daemon) on 127.0.0.1 against a fresh demo workspace, waits for
the start-up runs to settle, then appends one rule event at a time to controls/rules_history.jsonl, with
5 Hz metrics rows (appended just before it) that already cover the event's post window, so the sensor can
act on its next tick. The clock runs from the append to the moment GraphQL reports the sensor-launched
run's `rule_effects` partition materialised. Target (issue 8): median <= sensor interval + 30 s.

    python bench/latency.py [--small] [--events N] [--interval S]

Last line: `latency: <n> events, median <s> s, max <s> s`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from lumen_assets.config import load_config  # noqa: E402
from lumen_assets.ingest.rules import read_rule_events  # noqa: E402
from lumen_assets.live import LiveState, append_event, append_metrics_span, current_rule_values  # noqa: E402
from tests.e2e.dagster_dev import (  # noqa: E402
    FAST_OVERRIDES,
    prepare_demo_workspace,
    start_dagster_dev,
    wait_for,
    wait_until_idle,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="3 events (a quick smoke run)")
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--interval", type=int, default=FAST_OVERRIDES["sensor"]["interval_s"],
                        help="sensor.interval_s written to the workspace's lumen.yaml")
    parser.add_argument("--timeout", type=float, default=300.0, help="per event")
    args = parser.parse_args()
    n_events = 3 if args.small else args.events

    overrides = {**FAST_OVERRIDES, "sensor": {"interval_s": args.interval}}
    with tempfile.TemporaryDirectory(prefix="lumen-latency-") as tmp:
        workspace = Path(tmp) / "workspace"
        env = prepare_demo_workspace(workspace, overrides, hours=0.5)
        config = load_config(workspace / "lumen.yaml")
        print(f"[latency] dagster dev on {workspace} (sensor interval {args.interval} s, "
              f"effects pre/post {config.effects.pre_s:g}/{config.effects.post_s:g} s)", flush=True)
        t0 = time.time()
        dev = start_dagster_dev(workspace, env, Path(tmp) / "dagster-dev.log")
        print(f"[latency] code location loaded in {time.time() - t0:.1f} s; waiting for start-up runs", flush=True)
        try:
            wait_until_idle(dev, 600)
            history = workspace / config.paths.rules_history
            metrics = workspace / config.paths.metrics_csv
            state = LiveState(rules=current_rule_values(history))
            rng = np.random.default_rng(11)
            last_end: datetime | None = None
            latencies: list[float] = []
            for index in range(n_events):
                now = datetime.now(config.tz)
                event_at = now - timedelta(seconds=config.effects.post_s + 2)
                start = max(event_at - timedelta(seconds=config.effects.pre_s + 3),
                            (last_end + timedelta(seconds=0.2)) if last_end else now - timedelta(days=1))
                append_metrics_span(metrics, start, now, state, rng, config.loop.sample_rate_hz)
                last_end = now
                before = {e.event_id for e in read_rule_events(history).events}
                event = state.next_event(event_at)
                appended = time.time()
                append_event(history, event)
                event_id = next(e.event_id for e in read_rule_events(history).events if e.event_id not in before)

                def done(event_id: str = event_id) -> bool:
                    runs = [r for r in dev.runs(20) if r["tags"].get("lumen/event_id") == event_id]
                    if runs and runs[0]["status"] == "FAILURE":
                        raise SystemExit(f"[latency] run {runs[0]['runId']} for {event_id} failed")
                    return event_id in dev.materialized_partitions("rule_effects")

                wait_for(done, args.timeout, 0.5, f"rule_effects partition {event_id}")
                latency = time.time() - appended
                latencies.append(latency)
                print(f"[latency] event {index + 1}/{n_events} {event_id} ({event['rule']}): {latency:.1f} s",
                      flush=True)
                wait_until_idle(dev, args.timeout, settle_s=1.0)  # one event in flight at a time
        finally:
            dev.stop()
    median = statistics.median(latencies)
    target = args.interval + 30
    print(f"[latency] target: median <= sensor interval + 30 s = {target} s: {'met' if median <= target else 'MISSED'}")
    print(f"latency: {len(latencies)} events, median {median:.1f} s, max {max(latencies):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
