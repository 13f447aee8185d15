"""Benchmark: Lumen's effects computation from CSV vs the seed's per-event scan (issue 2 §7).

Generates N days of 5 Hz metrics with K rule events, then, in a child process (so its peak RSS is its own),
reads the CSV, parses the events and computes every event's window effects with Lumen's code (the kernel).
Then the same data goes through the path a user runs (issue 16 §1): `lumen run` on a fresh workspace with
its own Dagster instance, materialising rule_events, metrics and rule_effects, so that neither figure hides
the other. The seed
algorithm (segA C21: rows loaded with csv + isoparse, then for each event and field a scan of all rows with
IQR then EMA per window), re-implemented faithfully below, runs on a subset and is extrapolated linearly in
rows (loading) and rows x events (scanning).

    python bench/effects.py            # 30 days x 10,000 events (12.96 M rows, ~785 MB CSV)
    python bench/effects.py --small    # 1 day x 1,000 events

    python bench/effects.py --no-asset-path   # the kernel and the seed only

Last line: effects: <rows> rows, <events> events, <seconds> s, <peak_rss_mb> MB, <ratio>x vs seed,
asset path <seconds> s (<cpu> s CPU, <peak_rss_mb> MB)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FIELDS = ["phase_diff", "entropy_rate", "creative_band", "risk_band"]
ROOT = Path(__file__).resolve().parent.parent
ASSET_PATH = "key:rule_events or key:metrics or key:rule_effects"  # what a rule event's run computes first
START = np.datetime64("2025-10-01T00:00:00", "ms")


def generate(folder: Path, days: float, events: int, seed: int = 1) -> tuple[Path, Path, int]:
    """Write logs/metrics.csv (chunked, vectorised) and controls/rules_history.jsonl."""
    rng = np.random.default_rng(seed)
    rows = int(days * 86400 * 5)
    metrics = folder / "logs" / "metrics.csv"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    chunk = 2_000_000
    with open(metrics, "wb") as handle:
        handle.write(b"ts,phase_diff,entropy_rate,creative_band,risk_band\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            local = START + (np.arange(start, start + n) * 200).astype("timedelta64[ms]")
            ts = pc.binary_join_element_wise(
                pa.array(np.datetime_as_string(local, unit="us")), pa.scalar("+09:00"), ""
            )
            columns = {"ts": ts}
            for i, name in enumerate(FIELDS):
                columns[name] = pa.array(np.round(np.clip(0.2 + 0.1 * i + rng.normal(0, 0.01, n), 0, 1), 3))
            table = pa.table(columns)
            pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    rules = folder / "controls" / "rules_history.jsonl"
    rules.parent.mkdir(parents=True, exist_ok=True)
    span_s = days * 86400 - 120
    offsets = np.sort(rng.uniform(60, span_s, events))
    with open(rules, "w", encoding="utf-8") as handle:
        for i, offset in enumerate(offsets):
            moment = datetime(2025, 10, 1) + timedelta(seconds=float(offset))
            handle.write(json.dumps({"ts": moment.isoformat() + "+09:00", "actor": "bench", "rule": f"r{i % 20}",
                                     "old": 0.3, "new": 0.31, "note": ""}) + "\n")
    return metrics, rules, rows


def lumen_run(workspace: Path, select: str, *extra: str) -> tuple[float, float, str, float]:
    """(seconds, peak RSS MB, output, CPU seconds) of one `lumen run` child process (wait4's rusage)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LUMEN_WORKSPACE", "LUMEN_CONFIG")}
    command = [sys.executable, "-m", "lumen_assets.cli", "run", "--workspace", str(workspace), "--select", select,
               *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"lumen run failed ({os.waitstatus_to_exitcode(status)}):\n{output[-5000:]}")
    return seconds, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime


def workspace_for(metrics: Path, rules: Path, workspace: Path) -> Path:
    """A fresh workspace over the generated files (metrics hard-linked, not copied); the generator's rules
    r0..r19 are listed as known, or every event would be quarantined as an unknown rule."""
    shutil.rmtree(workspace, ignore_errors=True)
    (workspace / "logs").mkdir(parents=True)
    (workspace / "controls").mkdir()
    os.link(metrics, workspace / "logs" / "metrics.csv")
    shutil.copyfile(rules, workspace / "controls" / "rules_history.jsonl")
    (workspace / "lumen.yaml").write_text("rules:\n  known: [" + ", ".join(f"r{i}" for i in range(20)) + "]\n",
                                          encoding="utf-8")
    return workspace


def lumen_child(metrics: str, rules: str) -> None:
    """Runs in the child: the whole Lumen path from CSV to effects table."""
    from lumen_assets.effects.window import WindowSpec, effects_for_events
    from lumen_assets.ingest.metrics import read_metrics_csv
    from lumen_assets.ingest.rules import read_rule_events

    started = time.perf_counter()
    ingest = read_metrics_csv(metrics)
    parsed = read_rule_events(rules)
    table = effects_for_events(ingest.frame, parsed.events, WindowSpec(), time.time_ns())
    elapsed = time.perf_counter() - started
    complete = int((table["status"] == "complete").sum())
    print(json.dumps({"seconds": elapsed, "rows": len(ingest.frame), "events": len(table), "complete": complete}))


# ---- the seed algorithm, faithfully (segA C20/C21), used only as the baseline ----
def _seed_ema(values, alpha=0.2):
    out, s = [], None
    for v in values:
        if v is None:
            out.append(s if s is not None else None)
            continue
        s = v if s is None else alpha * v + (1 - alpha) * s
        out.append(s)
    return out


def _seed_iqr(values, k=1.5):
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return values

    def q(p):
        i = (len(xs) - 1) * p
        lo = int(i)
        hi = min(len(xs) - 1, lo + 1)
        frac = i - lo
        return xs[lo] * (1 - frac) + xs[hi] * frac

    q1, q3 = q(0.25), q(0.75)
    iqr = q3 - q1
    return [v if v is None or (q1 - k * iqr <= v <= q3 + k * iqr) else None for v in values]


def seed_baseline(metrics: Path, rules: Path, max_rows: int, max_events: int) -> tuple[float, float, int, int]:
    """(load seconds, scan seconds, rows, events) of the seed's tracker on a prefix of the data."""
    from dateutil.parser import isoparse

    started = time.perf_counter()
    series = {k: [] for k in FIELDS}
    with open(metrics, newline="", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= max_rows:
                break
            t = isoparse(row["ts"])
            for k in FIELDS:
                series[k].append((t, float(row.get(k, 0) or 0)))
    load_s = time.perf_counter() - started
    rows = len(series[FIELDS[0]])
    last_t = series[FIELDS[0]][-1][0]
    events = []
    with open(rules, encoding="utf-8") as handle:
        for line in handle:
            ev = json.loads(line)
            if isoparse(ev["ts"]) < last_t - timedelta(seconds=60):
                events.append(ev)
            if len(events) >= max_events:
                break

    def mean_window(s, t0, a, b):
        sel = [v for v in s if a <= (v[0] - t0).total_seconds() <= b]
        vals = _seed_ema(_seed_iqr([x for _, x in sel]))
        vals = [v for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    started = time.perf_counter()
    for ev in events:
        t0 = isoparse(ev["ts"])
        for k in FIELDS:
            mean_window(series[k], t0, -30, -1)
            mean_window(series[k], t0, 1, 30)
    scan_s = time.perf_counter() - started
    return load_s, scan_s, rows, len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--small", action="store_true", help="1 day x 1,000 events")
    parser.add_argument("--no-asset-path", action="store_true", help="skip the `lumen run` figure")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        lumen_child(*args.child)
        return
    if args.small:
        args.days, args.events = 1, 1000
    with tempfile.TemporaryDirectory(prefix="lumen-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        metrics, rules, rows = generate(folder, args.days, args.events)
        print(f"generated {rows:,} rows ({metrics.stat().st_size / 2**20:.0f} MiB) and {args.events:,} events "
              f"in {time.perf_counter() - t:.1f} s")
        child = subprocess.run([sys.executable, __file__, "--child", str(metrics), str(rules)],
                               capture_output=True, text=True, check=True)
        result = json.loads(child.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"lumen: {result['rows']:,} rows, {result['events']:,} events ({result['complete']:,} complete) "
              f"in {result['seconds']:.2f} s, peak RSS {peak_mb:.0f} MB")
        load_s, scan_s, seed_rows, seed_events = seed_baseline(metrics, rules, max_rows=36_000, max_events=20)
        seed_estimate = load_s * rows / seed_rows + scan_s * (rows / seed_rows) * (args.events / seed_events)
        print(f"seed baseline: {seed_rows:,} rows x {seed_events} events: load {load_s:.2f} s, scan {scan_s:.2f} s; "
              f"extrapolated to {rows:,} rows x {args.events:,} events: {seed_estimate:,.0f} s")
        ratio = seed_estimate / result["seconds"]
        line = (f"effects: {result['rows']} rows, {result['events']} events, {result['seconds']:.2f} s, "
                f"{peak_mb:.0f} MB, {ratio:.0f}x vs seed")
        if not args.no_asset_path:
            workspace = workspace_for(metrics, rules, folder / "workspace")
            seconds, run_mb, output, cpu = lumen_run(workspace, ASSET_PATH)
            effects_rows = sum(1 for _ in open(workspace / "logs" / "rules_effects.csv", encoding="utf-8")) - 1
            print(f"asset path (lumen run, Dagster instance included): {seconds:.1f} s wall, {cpu:.1f} s CPU, "
                  f"peak RSS {run_mb:.0f} MB, {effects_rows:,} effect rows, "
                  f"{seconds / result['seconds']:.1f}x the kernel's time")
            if effects_rows != result["events"]:
                print(f"warning: the asset path wrote {effects_rows} effect rows for {result['events']} events")
            line += f", asset path {seconds:.1f} s ({cpu:.1f} s CPU, {run_mb:.0f} MB)"
        print(line)


if __name__ == "__main__":
    main()
