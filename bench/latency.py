"""Latency from a rule event's post window closing to its effects materialisation completing, under
`dagster dev` with the default config (sensor interval, effect windows).

Starts the real `dagster dev` (webserver + daemon) on 127.0.0.1 against a fresh demo workspace, waits for
the start-up runs to settle, then appends one rule event at a time to controls/rules_history.jsonl, a few
seconds before its post window closes, with 5 Hz metrics rows that already cover the window (as a live loop
writing metrics would). The clock runs from the window's close (event time + effects.post_s) to the moment
GraphQL reports the sensor-launched run's `rule_effects` partition (the event's reporting day)
materialised. Target (issue 15 §6): median <= 15 s with the default config.

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

from lumen_assets.config import LumenConfig, load_config  # noqa: E402
from lumen_assets.ingest.rules import event_day, read_rule_events  # noqa: E402
from lumen_assets.live import LiveState, append_event, append_metrics_span, current_rule_values  # noqa: E402
from tests.e2e.dagster_dev import (  # noqa: E402
    FAST_OVERRIDES,
    prepare_dagster_dev_workspace,
    start_dagster_dev,
    wait_for,
    wait_until_idle,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="3 events (a quick smoke run)")
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--interval", type=int, default=LumenConfig().sensor.interval_s,
                        help="sensor.interval_s written to the workspace's lumen.yaml (default: the default config's)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per event")
    args = parser.parse_args()
    n_events = 3 if args.small else args.events

    # the default effect windows; the e2e overrides only keep the hourly PyMC fit and the resonance cron quiet
    overrides = {key: value for key, value in FAST_OVERRIDES.items() if key != "effects"}
    overrides["sensor"] = {"interval_s": args.interval}
    with tempfile.TemporaryDirectory(prefix="lumen-latency-") as tmp:
        workspace = Path(tmp) / "workspace"
        env = prepare_dagster_dev_workspace(workspace, overrides, hours=0.5)
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
                lead_s = 3.0  # the event line is read a tick or so before its window closes, as in a live loop
                event_at = now - timedelta(seconds=config.effects.post_s - lead_s)
                closes_at = (event_at + timedelta(seconds=config.effects.post_s)).timestamp()
                cover_until = now + timedelta(seconds=lead_s + 1)  # metrics already past the window's close
                start = max(event_at - timedelta(seconds=config.effects.pre_s + 3),
                            (last_end + timedelta(seconds=0.2)) if last_end else now - timedelta(days=1))
                append_metrics_span(metrics, start, cover_until, state, rng, config.loop.sample_rate_hz)
                last_end = cover_until
                before = {e.event_id for e in read_rule_events(history).events}
                event = state.next_event(event_at)
                append_event(history, event)
                event_id = next(e.event_id for e in read_rule_events(history).events if e.event_id not in before)

                day = event_day(next(e for e in read_rule_events(history).events if e.event_id == event_id),
                                config.tz)

                def done(event_id: str = event_id, day: str = day) -> bool:
                    # the sensor's run for the event's reporting day has materialised that rule_effects partition
                    run = dev.event_run(event_id, 20)
                    if run and run["status"] == "FAILURE":
                        raise SystemExit(f"[latency] run {run['runId']} for {event_id} failed")
                    latest = dev.latest_materialization("rule_effects") if run else None
                    return bool(latest and latest["runId"] == run["runId"] and latest["partition"] == day)

                wait_for(done, args.timeout, 0.5, f"the rule_effects partition {day} of event {event_id}")
                latency = time.time() - closes_at
                latencies.append(latency)
                print(f"[latency] event {index + 1}/{n_events} {event_id} ({event['rule']}): {latency:.1f} s",
                      flush=True)
                wait_until_idle(dev, args.timeout, settle_s=1.0)  # one event in flight at a time
        finally:
            dev.stop()
    median = statistics.median(latencies)
    target = 15.0
    print(f"[latency] from the post window's close; target: median <= {target:g} s: "
          f"{'met' if median <= target else 'MISSED'}")
    print(f"latency: {len(latencies)} events, median {median:.1f} s, max {max(latencies):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
