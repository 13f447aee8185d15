"""Benchmark: a year of history through the real asset path (issue 16 §1).

A year of 5 Hz metrics (157.7 M rows, ~9.5 GB CSV) and 100,000 rule events are imported by `lumen run` on a
fresh workspace with its own Dagster instance (DAGSTER_HOME, SQLite), the assets a rule event's run
touches: rule_events, metrics, rule_effects (all 365 days in one run), quote_bank, risk_ledger. Then the
loop appends 300 metric rows and one new rule event, and the same command with `--date <its day>` processes
it, as the sensor's run would. Each `lumen run` is a child process; its peak RSS is measured with
wait4's rusage (children's maximum resident set).

    python bench/history.py                      # 365 days x 100,000 events (data generated once, reused)
    python bench/history.py --scale 0.1          # 36.5 days x 10,000 events; prints a linear extrapolation
    python bench/history.py --days 30 --events 10000
    python bench/history.py --source /tmp/lumen-history-src

On a shared machine the wall time says as much about the neighbours as about Lumen: each run also prints
its CPU time (user + sys, from wait4's rusage), and the wall time it would take with a core to itself.

Targets: peak RSS <= 4 GB, import <= 10 min, the new event's run <= 10 s.
Last line: history: <rows> rows, <events> events, import <s> s, event <s> s, <MB> MB
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from effects import generate, lumen_run, workspace_for  # noqa: E402  (shared with bench/effects.py)

SELECT = "key:rule_events or key:metrics or key:rule_effects or key:quote_bank or key:risk_ledger"
ROOT = Path(__file__).resolve().parent.parent


def source_data(folder: Path, days: float, events: int) -> tuple[Path, Path, int]:
    """Generate once under `folder` and reuse (a year costs ~2 min and 9.5 GB)."""
    stamp = folder / "generated.json"
    wanted = {"days": days, "events": events}
    if stamp.exists():
        recorded = json.loads(stamp.read_text())
        if {k: recorded.get(k) for k in wanted} == wanted:
            metrics, rules = folder / "logs" / "metrics.csv", folder / "controls" / "rules_history.jsonl"
            if metrics.stat().st_size != recorded["metrics_bytes"]:
                os.truncate(metrics, recorded["metrics_bytes"])  # rows a previous run appended
            return metrics, rules, recorded["rows"]
    print(f"[history] generating {days} days x {events} events under {folder} ...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    metrics, rules, rows = generate(folder, days, events)
    stamp.write_text(json.dumps({**wanted, "rows": rows, "metrics_bytes": metrics.stat().st_size}))
    return metrics, rules, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (365 days x 100,000 events); --days/--events override")
    parser.add_argument("--days", type=float)
    parser.add_argument("--events", type=int)
    parser.add_argument("--source", default="/tmp/lumen-history-src", help="generated data, reused across runs")
    parser.add_argument("--workspace", default="/tmp/lumen-history-ws", help="fresh workspace (deleted first)")
    args = parser.parse_args()
    args.days = args.days if args.days is not None else round(365 * args.scale, 3)
    args.events = args.events if args.events is not None else int(round(100_000 * args.scale))

    metrics_src, rules_src, rows = source_data(Path(args.source), args.days, args.events)
    # metrics hard-linked (no 9.5 GB copy; rows appended below are cut off next time); rules r0..r19 known (the
    # first figures of this bench, 2539 s, measured 100,000 quarantine warnings and no effects at all)
    workspace = workspace_for(metrics_src, rules_src, Path(args.workspace))
    metrics = workspace / "logs" / "metrics.csv"

    import_s, import_mb, output, import_cpu = lumen_run(workspace, SELECT)
    print("\n".join(line for line in output.splitlines() if line.startswith(("[lumen]", "  assets", "  checks", "    FAILED"))), flush=True)
    print(f"[history] import: {import_s:.1f} s wall, {import_cpu:.1f} s CPU, peak RSS {import_mb:.0f} MB", flush=True)
    effects_rows = sum(1 for _ in open(workspace / "logs" / "rules_effects.csv", encoding="utf-8")) - 1
    if effects_rows < args.events:
        print(f"[history] warning: {effects_rows} effect rows for {args.events} events", flush=True)

    # The loop goes on: 300 more rows (60 s at 5 Hz) and one new rule event inside them.
    last_line = _last_line(metrics)
    last = datetime.fromisoformat(last_line.split(",", 1)[0])
    with open(metrics, "a", encoding="utf-8") as handle:
        for i in range(1, 301):
            moment = last + timedelta(milliseconds=200 * i)
            handle.write(f"{moment.isoformat(timespec='microseconds')},0.45,0.25,0.2,0.3\n")
    event_at = last + timedelta(seconds=20)
    with open(workspace / "controls" / "rules_history.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"ts": event_at.isoformat(), "actor": "bench", "rule": "risk_max", "old": 0.35,
                                 "new": 0.34, "note": "the new event"}) + "\n")
    day = event_at.date().isoformat()
    event_s, event_mb, output, event_cpu = lumen_run(workspace, SELECT, "--date", day)
    effects = (workspace / "logs" / "rules_effects.csv").read_text().splitlines()
    if not any("the new event" in line or "risk_max" in line and event_at.isoformat()[:19] in line for line in effects[-400:]):
        print("[history] warning: the new event's row was not found near the end of the effects table", flush=True)
    print(f"[history] new event on {day}: {event_s:.1f} s wall, {event_cpu:.1f} s CPU, peak RSS {event_mb:.0f} MB",
          flush=True)
    peak = max(import_mb, event_mb)
    full_rows, full_events = 157_680_000, 100_000
    if rows < full_rows or args.events < full_events:  # a fraction: say what a year would take, and how it was got
        factor = max(full_rows / rows, full_events / max(args.events, 1))
        print(f"[history] extrapolated linearly to a year (x{factor:.1f}, fixed costs scaled too, so an upper "
              f"bound): import ~{import_s * factor:.0f} s wall / ~{import_cpu * factor:.0f} s CPU", flush=True)
    verdict = "ok" if peak <= 4096 and import_s <= 600 and event_s <= 10 else "OVER TARGET"
    print(f"[history] targets: RSS <= 4096 MB, import <= 600 s, event <= 10 s: {verdict}")
    print(f"history: {rows + 300} rows, {args.events + 1} events, import {import_s:.1f} s, event {event_s:.1f} s, "
          f"{peak:.0f} MB")


def _last_line(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        return handle.read().decode().rstrip("\n").rsplit("\n", 1)[-1]


if __name__ == "__main__":
    main()
