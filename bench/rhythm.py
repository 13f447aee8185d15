"""Benchmark the rhythm path on a month of 1 Hz sensors: environment.csv ingest and the synchronizer.

    python bench/rhythm.py [--small] [--days N]

Writes N days (default 30: 2.59 M rows) of the demo's environment (vectorised here, same relation as
`lumen demo`), then times `read_environment_csv` (validation + quarantine) and `synchronize` (one record per
minute), against a baseline of pyarrow merely parsing the same CSV. The last line is machine-readable:

    rhythm: <rows> rows, ingest <s> s (<x> x pyarrow read), synchronize <s> s, <steps> steps, <peak_rss_mb> MB
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
from lumen_assets.ingest.environment import read_environment_csv  # noqa: E402
from lumen_assets.rhythm.sync import synchronize  # noqa: E402


def write_month(path: Path, days: float) -> int:
    n = int(days * 86400)
    rng = np.random.default_rng(7)
    t_s = np.arange(n, dtype="float64")
    lux = np.clip(demo_lux(t_s % 86400 - (DEMO_START.hour * 3600)), 0, None)
    temp = 14 + 0.4 * (t_s % 86400) / 3600 / 24 + 5 * np.log10(1 + lux) / 5 + rng.normal(0, 0.05, n)
    sound = 38 + rng.normal(0, 1.5, n)
    ts = pd.date_range(DEMO_START, periods=n, freq="1s").strftime("%Y-%m-%dT%H:%M:%S+09:00")
    frame = pd.DataFrame({"ts": ts, "light_intensity": np.round(lux, 1), "ambient_temp": np.round(temp, 2),
                          "sound_level": np.round(sound, 1)})
    frame.to_csv(path, index=False)
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
        start = time.perf_counter()
        ingest = read_environment_csv(path)
        ingest_s = time.perf_counter() - start
        config = LumenConfig()
        start = time.perf_counter()
        sync = synchronize(ingest.frame, config.rhythm, config.tz)
        sync_s = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pyarrow read {baseline_s:.2f} s; ingest {ingest_s:.2f} s ({len(ingest.quarantined)} quarantined); "
          f"synchronize {sync_s:.2f} s")
    print(f"rhythm: {rows} rows, ingest {ingest_s:.2f} s ({ingest_s / baseline_s:.1f} x pyarrow read), "
          f"synchronize {sync_s:.2f} s, {sync.steps} steps, {peak:.0f} MB")


if __name__ == "__main__":
    main()
