"""Daily partitions start at the first reporting day of LUMEN_WORKSPACE's data (issue 11 §2), and at the
documented fallback (partitions.NO_DATA_FIRST_DAY) when the workspace has no data. The code location is
loaded in a fresh process, as Dagster loads it, because the start is fixed when the module is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lumen_assets.partitions import NO_DATA_FIRST_DAY
from tests.support.messy_workspace import START, write_messy_workspace

ROOT = Path(__file__).resolve().parent.parent
PROBE = ("import lumen_assets.definitions\n"
         "from lumen_assets.partitions import daily_partitions as p\n"
         "print(p.start.date().isoformat(), p.timezone)\n")


def partitions_start(workspace: Path) -> tuple[str, str]:
    env = {**os.environ, "LUMEN_WORKSPACE": str(workspace), "DAGSTER_HOME": str(workspace)}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    day, timezone = done.stdout.split()[-2:]
    return day, timezone


def test_partitions_start_at_the_first_data_day_of_a_generated_workspace(tmp_path: Path) -> None:
    write_messy_workspace(tmp_path / "ws", seed=3)
    assert partitions_start(tmp_path / "ws") == (START.date().isoformat(), "Asia/Seoul")


def test_the_earliest_of_metrics_and_rule_events_counts_in_the_reporting_timezone(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "controls").mkdir()
    # 23:30 UTC on June 3rd is June 4th in Seoul: the metrics alone start the 4th
    (ws / "logs/metrics.csv").write_text("ts,phase_diff,entropy_rate,creative_band,risk_band\n"
                                         "2025-06-03T23:30:00+00:00,0.4,0.2,0.2,0.3\n", encoding="utf-8")
    (ws / "lumen.yaml").write_text("{}\n", encoding="utf-8")
    assert partitions_start(ws) == ("2025-06-04", "Asia/Seoul")
    event = {"ts": "2025-06-02T10:00:00+09:00", "actor": "Sena", "rule": "creative_min", "old": 0.2, "new": 0.21}
    (ws / "controls/rules_history.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    assert partitions_start(ws) == ("2025-06-02", "Asia/Seoul")  # an earlier rule event moves the start


def test_a_workspace_without_data_starts_at_the_documented_fallback(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    assert NO_DATA_FIRST_DAY == "2025-01-01"  # what partitions.py documents
    assert partitions_start(tmp_path / "ws")[0] == NO_DATA_FIRST_DAY


def test_a_cron_freshness_policy_warns_after_one_missed_tick_and_fails_after_two() -> None:
    from datetime import timedelta

    from lumen_assets.partitions import cron_freshness

    every_ten = cron_freshness("*/10 * * * *")
    assert (every_ten.warn_window.to_timedelta(), every_ten.fail_window.to_timedelta()) == (
        timedelta(minutes=20), timedelta(minutes=30))
    weekdays = cron_freshness("0 9 * * 1-5", "Asia/Seoul")  # the longest gap is the weekend: Friday to Monday
    assert weekdays.fail_window.to_timedelta() == timedelta(days=9)
