"""Benchmark the rhythm path on a month of 1 Hz sensors: environment.csv ingest and the synchronizer, whole
and incremental.

    python bench/rhythm.py [--small] [--days N]

Writes N days (default 30: 2.59 M rows) of the demo's environment (vectorised here, same relation as
`lumen demo`), then times the first ingest into the environment store (`ingest_environment`: validation,
quarantine, day-split Parquet) against a baseline of pyarrow merely parsing the same CSV, and the first
`rhythm_sync` computation (every local day, one record per minute). Then 300 rows (five minutes) are appended
and the incremental ingest (only those lines parsed) and the incremental synchronisation (only the newest day
recomputed) are timed, as a sensor-launched run pays them. The last line is machine-readable:

    rhythm: <rows> rows, ingest <s> s (<x> x pyarrow read), synchronize <s> s, <steps> steps, append 300 rows <ms> ms, resync <ms> ms, <peak_rss_mb> MB
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lumen_assets.config import LumenConfig  # noqa: E402
from lumen_assets.demo import DEMO_START, demo_lux  # noqa: E402
from lumen_assets.ingest.environment import ingest_environment  # noqa: E402
from lumen_assets.rhythm.incremental import synchronize_incrementally  # noqa: E402


def write_month(path: Path, days: float, first_s: int = 0, mode: str = "w") -> int:
    n = int(days * 86400)
    rng = np.random.default_rng(7 + first_s)
    t_s = np.arange(first_s, first_s + n, dtype="float64")
    lux = np.clip(demo_lux(t_s % 86400 - (DEMO_START.hour * 3600)), 0, None)
    temp = 14 + 0.4 * (t_s % 86400) / 3600 / 24 + 5 * np.log10(1 + lux) / 5 + rng.normal(0, 0.05, n)
    sound = 38 + rng.normal(0, 1.5, n)
    ts = (pd.Timestamp(DEMO_START) + pd.to_timedelta(t_s, unit="s")).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    frame = pd.DataFrame({"ts": ts, "light_intensity": np.round(lux, 1), "ambient_temp": np.round(temp, 2),
                          "sound_level": np.round(sound, 1)})
    frame.to_csv(path, index=False, mode=mode, header=mode == "w")
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="one day instead of thirty")
    parser.add_argument("--days", type=float, default=30.0)
    args = parser.parse_args()
    days = 1.0 if args.small else args.days
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "environment.csv"
        rows = write_month(path, days)
        print(f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB, {timedelta(days=days)})")
        import pyarrow.csv as pacsv

        start = time.perf_counter()
        pacsv.read_csv(path)
        baseline_s = time.perf_counter() - start
        store, output, state = Path(tmp) / "environment", Path(tmp) / "rhythm_sync.jsonl", Path(tmp) / "sync.json"
        start = time.perf_counter()
        ingest = ingest_environment(path, store)
        ingest_s = time.perf_counter() - start
        config = LumenConfig()
        start = time.perf_counter()
        sync = synchronize_incrementally(store, None, output, state, config.rhythm, config.tz)
        sync_s = time.perf_counter() - start
        write_month(path, 300 / 86400, first_s=rows, mode="a")  # five more minutes, as the sensors append them
        start = time.perf_counter()
        appended = ingest_environment(path, store)
        append_s = time.perf_counter() - start
        start = time.perf_counter()
        resync = synchronize_incrementally(store, None, output, state, config.rhythm, config.tz)
        resync_s = time.perf_counter() - start
        assert appended.rows_read == appended.rows_added == 300 and len(resync.recomputed) == 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pyarrow read {baseline_s:.2f} s; ingest {ingest_s:.2f} s ({len(ingest.quarantined)} quarantined); "
          f"synchronize {sync_s:.2f} s ({len(sync.chunks)} days); append 300 rows: ingest {append_s * 1000:.0f} ms "
          f"({appended.bytes_read} bytes read), resync {resync_s * 1000:.0f} ms ({resync.recomputed[0].steps} steps "
          "of the newest day recomputed)")
    print(f"rhythm: {rows} rows, ingest {ingest_s:.2f} s ({ingest_s / baseline_s:.1f} x pyarrow read), "
          f"synchronize {sync_s:.2f} s, {sync.steps} steps, append 300 rows {append_s * 1000:.0f} ms, "
          f"resync {resync_s * 1000:.0f} ms, {peak:.0f} MB")


if __name__ == "__main__":
    main()
