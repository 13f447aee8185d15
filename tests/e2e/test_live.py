"""`lumen demo --live`: appended rows and events are what ingest and the sensor read (plain, fast tests)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from lumen_assets.demo import INJECTED_EFFECTS, RULE_CYCLE
from lumen_assets.ingest.metrics import read_metrics_csv
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.ingest.timestamps import parse_timestamp
from lumen_assets.live import LiveState, append_lines, append_metrics_span, current_rule_values, run_live
from tests.support.processes import default_stop_signals

KST = ZoneInfo("Asia/Seoul")


def test_run_live_appends_rows_and_events(tmp_path: Path) -> None:
    lines: list[str] = []
    before = datetime.now(KST)
    code = run_live(tmp_path, event_every_s=0.6, max_events=2, seed=1, out=lines.append)
    after = datetime.now(KST)
    assert code == 0
    ingest = read_metrics_csv(tmp_path / "logs/metrics.csv", 5.0, 2.5)
    assert not ingest.quarantined
    # two events 0.6 s apart, then stop 0.6 s after the last: ~1.8 s at 5 Hz
    assert 6 <= len(ingest.frame) <= 12
    raw = (tmp_path / "logs/metrics.csv").read_text().splitlines()
    assert raw[0] == "ts,phase_diff,entropy_rate,creative_band,risk_band"
    first = parse_timestamp(raw[1].split(",")[0])
    assert first.utcoffset() == timedelta(hours=9) and "+09:00" in raw[1]  # seed KST isoformat
    assert before - timedelta(seconds=1) <= first <= after
    events = read_rule_events(tmp_path / "controls/rules_history.jsonl")
    assert not events.quarantined and [e.rule for e in events.events] == list(RULE_CYCLE[:2])
    last_metric = parse_timestamp(raw[-1].split(",")[0])
    assert last_metric > events.events[-1].ts  # the last event has data after it
    assert any(line.startswith("[live] rule event 2:") for line in lines)
    assert lines[-1].startswith("[live] stopped:")


def test_run_live_max_seconds_and_continues_rule_values(tmp_path: Path) -> None:
    history = tmp_path / "controls/rules_history.jsonl"
    append_lines(history, [json.dumps({"ts": "2025-10-23T13:10:00+09:00", "actor": "Lubit",
                                       "rule": "creative_min", "old": 0.22, "new": 0.3})])
    assert current_rule_values(history)["creative_min"] == 0.3
    run_live(tmp_path, event_every_s=0.2, max_seconds=0.5, max_events=1, out=lambda _: None)
    record = json.loads(history.read_text().splitlines()[-1])
    assert record["rule"] == "creative_min" and record["old"] == 0.3


def test_events_shift_levels_by_the_injected_effect() -> None:
    state = LiveState()
    before = dict(state.levels)
    event = state.next_event(datetime(2025, 10, 23, 13, 0, tzinfo=KST))
    for signal_name, step in INJECTED_EFFECTS[event["rule"]].items():
        assert np.isclose(state.levels[signal_name] - before[signal_name], step)
    assert event["ts"] == "2025-10-23T13:00:00.000000+09:00"


def test_span_rows_and_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "logs/metrics.csv"
    start = datetime(2025, 10, 23, 13, 0, tzinfo=KST)
    assert append_metrics_span(path, start, start + timedelta(seconds=2), LiveState(), np.random.default_rng(0)) == 11  # 0..2 s inclusive
    with open(path, "a") as handle:
        handle.write("2025-10-23T13:00:09")  # a writer died mid-line
    append_metrics_span(path, start + timedelta(seconds=10), start + timedelta(seconds=11), LiveState(),
                        np.random.default_rng(0))
    ingest = read_metrics_csv(path, 5.0, 2.5)
    assert len(ingest.quarantined) == 1 and len(ingest.frame) == 11 + 6


def test_ctrl_c_returns_zero(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import sys; from lumen_assets.live import run_live; "
                               f"sys.exit(run_live(__import__('pathlib').Path({str(tmp_path)!r}), 60))"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        preexec_fn=default_stop_signals,
    )
    path = tmp_path / "logs/metrics.csv"
    deadline = time.time() + 30
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)  # an upper bound: a loaded 2-core CI machine is slow to schedule it
    assert proc.returncode == 0, out
    assert "[live] stopped:" in out
