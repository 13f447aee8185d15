"""`lumen demo --live`: keep the demo workspace growing, so the UI has something to react to.

The seed's mock generator (segA C11) appended one `logs/metrics.csv` row every 0.2 s with
`datetime.now(KST).isoformat()` timestamps, 3-decimal values clamped to [0, 1], printed about one row a
second and stopped on Ctrl+C. This does the same, with two changes that make the output useful as
evidence: signal levels continue the demo's (lumen_assets.demo.BASELINE plus the known INJECTED_EFFECTS
step of every rule event appended here), and the 5 Hz schedule is phase-corrected (the seed's
`sleep(0.2)` drifted). Every `event_every_s` seconds one rule event is appended to
controls/rules_history.jsonl in the seed's C16 shape, so `rule_event_sensor` visibly launches runs.

The helpers below (row formatting, appending, next event) are pure file operations; `run_live` is the
loop, bounded by `max_seconds` / `max_events` so tests and benches can drive it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from lumen_assets.demo import ACTORS, BASELINE, INJECTED_EFFECTS, NOISE_SD, RULE_CYCLE, RULE_START, RULE_STEP

HEADER = "ts,phase_diff,entropy_rate,creative_band,risk_band"
SIGNAL_ORDER = tuple(BASELINE)


def format_row(moment: datetime, levels: dict[str, float], rng: np.random.Generator) -> str:
    """One seed-format metrics row: ISO ts with offset and microseconds, then 3-dp values in [0, 1]."""
    cells = []
    for signal in SIGNAL_ORDER:
        value = float(np.clip(round(levels[signal] + rng.normal(0.0, NOISE_SD), 3), 0.0, 1.0))
        cells.append(f"{value:.3f}")
    return moment.isoformat(timespec="microseconds") + "," + ",".join(cells)


def append_lines(path: Path, lines: Iterable[str], header: str | None = None) -> int:
    """Append complete lines (header first when the file is new); a dangling partial last line is closed
    first so the new rows never merge into it. Returns the number of lines written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines)
    if not text:
        return 0
    prefix = ""
    if not path.exists() or path.stat().st_size == 0:
        prefix = (header + "\n") if header else ""
    else:
        with open(path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                prefix = "\n"
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(prefix + text)
        handle.flush()
        os.fsync(handle.fileno())
    return text.count("\n")


def current_rule_values(history: Path) -> dict[str, float]:
    """The latest `new` value of each rule in the history (so appended events continue it)."""
    values = dict(RULE_START)
    if not history.exists():
        return values
    for line in history.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            values[str(record["rule"])] = float(record["new"])
        except (ValueError, KeyError, TypeError):
            continue  # ingest quarantines bad lines and names them; here they only cannot be continued
    return values


@dataclass
class LiveState:
    """What the loop carries between steps: signal levels (with the effects applied so far) and rules."""

    levels: dict[str, float] = field(default_factory=lambda: dict(BASELINE))
    rules: dict[str, float] = field(default_factory=lambda: dict(RULE_START))
    events: int = 0
    rows: int = 0

    def next_event(self, moment: datetime) -> dict:
        """The next rule event (seed C16 shape), cycling the demo's rules and actors; applies its effect."""
        rule = RULE_CYCLE[self.events % len(RULE_CYCLE)]
        old = self.rules.get(rule, RULE_START[rule])
        new = round(old + RULE_STEP[rule] * (1 if self.events % 2 == 0 else -1), 4)
        self.rules[rule] = new
        for signal, step in INJECTED_EFFECTS[rule].items():
            self.levels[signal] = float(np.clip(self.levels[signal] + step, 0.05, 0.95))
        self.events += 1
        return {
            "ts": moment.isoformat(timespec="microseconds"),
            "actor": ACTORS[self.events % len(ACTORS)],
            "rule": rule,
            "old": old,
            "new": new,
            "note": f"live step {self.events}: {rule} {old} -> {new}",
        }


def append_metrics_span(
    path: Path, start: datetime, end: datetime, state: LiveState, rng: np.random.Generator, rate_hz: float = 5.0
) -> int:
    """Append rows at `rate_hz` for [start, end] at once (benches and tests that need coverage now)."""
    period = 1.0 / rate_hz
    n = int((end - start).total_seconds() / period) + 1
    rows = [format_row(start + timedelta(seconds=i * period), state.levels, rng) for i in range(max(n, 0))]
    state.rows += len(rows)
    return append_lines(path, rows, HEADER)


def append_event(history: Path, event: dict) -> None:
    append_lines(history, [json.dumps(event, ensure_ascii=False)])


def run_live(
    workspace: Path,
    event_every_s: float = 180.0,
    *,
    max_seconds: float | None = None,
    max_events: int | None = None,
    rate_hz: float | None = None,
    seed: int | None = None,
    out: Callable[[str], None] = print,
    now: Callable[[], datetime] | None = None,
) -> int:
    """Append 5 Hz metrics and a rule event every `event_every_s` s until Ctrl+C (exit 0) or a bound.

    `max_events` stops `event_every_s` seconds after the last event, so its post window is covered.
    """
    from lumen_assets.config import load_config, resolve_config_path

    workspace = Path(workspace)
    config = load_config(resolve_config_path(workspace))
    tz = ZoneInfo(config.loop.timezone)
    rate = rate_hz or config.loop.sample_rate_hz
    clock = now or (lambda: datetime.now(tz))
    metrics_path = workspace / config.paths.metrics_csv
    history = workspace / config.paths.rules_history
    rng = np.random.default_rng(seed)
    state = LiveState(rules=current_rule_values(history))
    period = 1.0 / rate
    out(f"[live] writing metrics @{rate:g}Hz -> {metrics_path} and a rule event every {event_every_s:g} s "
        f"-> {history} (Ctrl+C to stop)")
    started = time.monotonic()
    next_row = started
    next_event = started + event_every_s
    stop_at = started + max_seconds if max_seconds is not None else None
    step = 0
    try:
        while True:
            current = time.monotonic()
            if stop_at is not None and current >= stop_at:
                break
            if max_events is not None and state.events >= max_events and current >= next_event:
                break
            if current >= next_event and (max_events is None or state.events < max_events):
                event = state.next_event(clock())
                append_event(history, event)
                out(f"[live] rule event {state.events}: {json.dumps(event, ensure_ascii=False)}")
                next_event += event_every_s
            if current >= next_row:
                row = format_row(clock(), state.levels, rng)
                append_lines(metrics_path, [row], HEADER)
                state.rows += 1
                if step % max(1, round(rate)) == 0:
                    out(f"[live] {row}")
                step += 1
                next_row += period
                if next_row < current - 1.0:  # fell behind (suspended laptop): skip, don't burst
                    next_row = current + period
            time.sleep(max(0.0, min(next_row, next_event) - time.monotonic()))
    except KeyboardInterrupt:
        pass
    out(f"[live] stopped: {state.rows} metric rows, {state.events} rule events appended")
    return 0
