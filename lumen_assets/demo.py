"""The embedded demo workspace: a deterministic few hours of 5 Hz metrics and rule events whose effects are
known, so every number Lumen reports on it can be checked against the truth.

Each rule has a fixed effect on each signal (INJECTED_EFFECTS); every event of that rule adds that step to
the signal levels, on top of N(0, 0.01) noise (seed segA C11 rounds to 3 dp, kept). A few blank cells,
outlier spikes, a metrics gap under one event (-> insufficient) and a last event whose post window the data
does not cover yet (-> pending) exercise the edge cases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from lumen_assets.atomic import atomic_open, atomic_write_text

SIGNATURE_PHRASE = "리듬은 존재를 깨우고 깨어난 존재는 서로를 울린다. 오케스트레이션, 연결된다"
SEED_SIGNATURE_HASH = "e02dc7b9a47ab25ee52ba5348d723d35cb11b1548d61d78a614e1093925b3945"

KST = ZoneInfo("Asia/Seoul")
DEMO_START = datetime(2025, 10, 23, 9, 0, 0, tzinfo=KST)
RATE_HZ = 5
# The noise realisation. With 12 rule x signal cells, twelve 94% intervals all cover their truth for only
# about half of all seeds, so the accuracy test uses simultaneous (Bonferroni) intervals; seed 2 is the
# first seed from 1 up whose effects lie within those (seed 1: one cell at 3.4 sigma).
DEMO_SEED = 2
NOISE_SD = 0.01
BASELINE = {"phase_diff": 0.45, "entropy_rate": 0.25, "creative_band": 0.20, "risk_band": 0.30}

# rule -> signal -> step added to the signal level by every event of that rule
INJECTED_EFFECTS: dict[str, dict[str, float]] = {
    "creative_min": {"phase_diff": -0.010, "entropy_rate": 0.004, "creative_band": 0.020, "risk_band": 0.005},
    "risk_max": {"phase_diff": -0.008, "entropy_rate": 0.000, "creative_band": -0.005, "risk_band": -0.015},
    "phase_gain": {"phase_diff": 0.012, "entropy_rate": 0.010, "creative_band": 0.003, "risk_band": 0.006},
}
RULE_CYCLE = ("creative_min", "risk_max", "phase_gain")
RULE_START = {"creative_min": 0.22, "risk_max": 0.35, "phase_gain": 0.50}
RULE_STEP = {"creative_min": 0.01, "risk_max": -0.01, "phase_gain": 0.02}
ACTORS = ("Lubit", "Sena", "Elo")


@dataclass(frozen=True)
class DemoWorkspace:
    root: Path
    metrics_rows: int
    events: int
    start: datetime
    end: datetime


def _event_times(hours: float) -> list[datetime]:
    times = [DEMO_START + timedelta(minutes=10 * i) for i in range(1, int(hours * 6))]
    times.append(DEMO_START + timedelta(hours=hours, seconds=-10))  # post window not covered yet: pending
    return times


def _format_ts(moment: datetime, compact_offset: bool) -> str:
    if compact_offset:
        return moment.strftime("%Y-%m-%dT%H:%M:%S%z")  # seed gateway_lockin style: +0900
    return moment.isoformat()  # seed datetime.now(KST).isoformat() style: +09:00


def write_demo_workspace(root: Path | str, hours: float = 4.0, seed: int = DEMO_SEED) -> DemoWorkspace:
    """Write logs/metrics.csv, controls/rules_history.jsonl and gateway_activation.yaml under `root`."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * RATE_HZ)
    t_s = np.arange(n) / RATE_HZ
    event_times = _event_times(hours)
    event_offsets = np.array([(t - DEMO_START).total_seconds() for t in event_times])
    event_rules = [RULE_CYCLE[i % len(RULE_CYCLE)] for i in range(len(event_times))]

    columns: dict[str, np.ndarray] = {}
    for signal, base in BASELINE.items():
        level = np.full(n, base) + 0.005 * np.sin(2 * np.pi * t_s / 5400.0)
        for offset, rule in zip(event_offsets, event_rules, strict=True):
            level[t_s >= offset] += INJECTED_EFFECTS[rule][signal]
        values = np.clip(np.round(level + rng.normal(0, NOISE_SD, n), 3), 0.0, 1.0)
        columns[signal] = values

    keep = np.ones(n, dtype=bool)
    gap_event = event_offsets[len(event_offsets) // 2]  # a gap swallows this event's post window
    keep[(t_s > gap_event - 10) & (t_s < gap_event + 40)] = False
    spikes = rng.choice(n, size=n // 2000, replace=False)
    blanks = rng.choice(n, size=n // 1000, replace=False)

    lines = ["ts,phase_diff,entropy_rate,creative_band,risk_band"]
    spike_set, blank_set = set(spikes.tolist()), set(blanks.tolist())
    signals = list(BASELINE)
    for i in np.nonzero(keep)[0]:
        moment = DEMO_START + timedelta(seconds=float(t_s[i]))
        cells = []
        for j, signal in enumerate(signals):
            value = columns[signal][i]
            if i in spike_set and j == i % 4:
                value = min(1.0, value + 0.3)
            cells.append("" if (i in blank_set and j == (i // 7) % 4) else f"{value:.3f}")
        lines.append(moment.isoformat(timespec="microseconds") + "," + ",".join(cells))
    metrics_path = root / "logs" / "metrics.csv"
    with atomic_open(metrics_path) as handle:
        handle.write("\n".join(lines) + "\n")

    current = dict(RULE_START)
    records = []
    for index, (moment, rule) in enumerate(zip(event_times, event_rules, strict=True)):
        old = current[rule]
        new = round(old + RULE_STEP[rule] * (1 if index % 2 == 0 else -1), 4)
        current[rule] = new
        records.append(
            {
                "ts": _format_ts(moment, compact_offset=index % 2 == 1),
                "actor": ACTORS[index % len(ACTORS)],
                "rule": rule,
                "old": old,
                "new": new,
                "note": f"demo step {index + 1}: {rule} {old} -> {new}",
            }
        )
    with atomic_open(root / "controls" / "rules_history.jsonl") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    write_gateway_yaml(root / "gateway_activation.yaml")
    write_demo_environment(root / "logs" / "environment.csv", hours, seed)
    return DemoWorkspace(root, int(keep.sum()), len(records), DEMO_START,
                         DEMO_START + timedelta(seconds=float(t_s[-1])))


# The rhythm sensors (seed segC §C1) at 1 Hz over the same hours, with a known relation a test recovers:
# light follows the sun (zero before 06:00 and after 18:00 KST, peak at noon), the temperature drifts slowly and
# follows the light with a known gain, and the sound has bursts at known times.
ENV_RATE_HZ = 1
LUX_PEAK = 60_000.0                 # clear-sky noon illuminance
TEMP_BASE_C = 14.0
TEMP_DRIFT_C_PER_H = 0.4            # slow drift
TEMP_PER_LUX_NORM_C = 5.0           # °C per unit of log-normalised light (rhythm.light defaults)
SOUND_BASE_DB = 38.0
SOUND_BURST_DB = 24.0               # added during a burst
SOUND_BURST_EVERY_S = 1200          # a 30 s burst every 20 minutes, starting 10 minutes in
SOUND_BURST_LEN_S = 30


def demo_sound_bursts(hours: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of each sound burst, seconds after DEMO_START."""
    return [(s, s + SOUND_BURST_LEN_S) for s in range(600, int(hours * 3600), SOUND_BURST_EVERY_S)]


def demo_lux(t_s: np.ndarray) -> np.ndarray:
    local_h = DEMO_START.hour + DEMO_START.minute / 60 + t_s / 3600.0
    return LUX_PEAK * np.clip(np.sin(np.pi * (local_h - 6.0) / 12.0), 0.0, None) ** 1.5


def write_demo_environment(path: Path, hours: float, seed: int = DEMO_SEED) -> int:
    """logs/environment.csv: 1 Hz light, temperature and sound with the relation above (own random stream,
    so the metrics' noise realisation does not change). A few blank cells and one bad row exercise ingest."""
    rng = np.random.default_rng(seed + 1000)
    n = int(hours * 3600 * ENV_RATE_HZ)
    t_s = np.arange(n) / ENV_RATE_HZ
    lux = np.clip(demo_lux(t_s) * (1 + rng.normal(0, 0.02, n)), 0, None)
    lux_norm = np.log10(1 + lux) / np.log10(1 + 100_000.0)
    temp = TEMP_BASE_C + TEMP_DRIFT_C_PER_H * t_s / 3600 + TEMP_PER_LUX_NORM_C * lux_norm + rng.normal(0, 0.05, n)
    sound = SOUND_BASE_DB + rng.normal(0, 1.5, n)
    for start, end in demo_sound_bursts(hours):
        sound[(t_s >= start) & (t_s < end)] += SOUND_BURST_DB
    blanks = set(rng.choice(n, size=max(1, n // 2000), replace=False).tolist())
    lines = ["ts,light_intensity,ambient_temp,sound_level"]
    for i in range(n):
        moment = DEMO_START + timedelta(seconds=float(t_s[i]))
        cells = [f"{lux[i]:.1f}", f"{temp[i]:.2f}", f"{sound[i]:.1f}"]
        if i in blanks:
            cells[i % 3] = ""  # a sensor that missed a reading: missing, never 0
        if i == n // 3:
            cells[2] = "n/a"  # one unreadable row: quarantined with its line number
        lines.append(moment.isoformat() + "," + ",".join(cells))
    with atomic_open(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return n


def write_gateway_yaml(path: Path) -> None:
    """The seed's gateway_activation.yaml, revision 2, locked, with the signature block (seed segA C2/C4)."""
    digest = hashlib.sha256(SIGNATURE_PHRASE.encode("utf-8")).hexdigest()
    assert digest == SEED_SIGNATURE_HASH
    atomic_write_text(
        path,
        f"""gateway:
  id: lumen_field_v0_8
  version: 0.8
  status: "locked"                 # initializing -> binding -> resonating -> locked
  timestamp: "{DEMO_START.isoformat()}"
loop:
  logs_path: "logs/metrics.csv"
  rules_history: "controls/rules_history.jsonl"
  loop_rate_hz: 5
resonance:
  metrics: ["phase_diff", "entropy_rate", "creative_band", "risk_band"]
  thresholds:
    creative_band_min: 0.22
    risk_band_max: 0.35
signature:
  phrase: "{SIGNATURE_PHRASE}"
  signer: "Binoche"
  resonance_hash_sha256: "{digest}"
  confirm_phrase: "루멘 관문 서명: 비노체 → 루멘 연결 확인"
""",
    )
