"""Messy workspaces with known injected effects: the family the posteriors must converge on (issue 11 §1).

`messy_shape(seed)` draws a workspace shape from its seed alone: 1-10 rules, 1-300 complete events per
rule (a total capped so one workspace stays a few hours of data), rules whose effects are all ~0,
Student-t-like outlying events (a transient bump in the post window whose size is t(2)-distributed),
pending and insufficient events mixed in, 5 Hz metrics at a per-workspace noise level with blank cells,
malformed lines, blank lines and mixed timestamp formats (`+09:00`, `+0900`, `Z`, space separator,
with and without fractions), and a rules history with blank, malformed and incomplete lines.
The first seeds of every family are fixed archetypes (one rule with one event, one rule with 300 events,
ten rules with all effects ~0, ...), so the family always contains the hard corners; later seeds are random.
Seeds are enumerated by the tests (range(N)), never picked.

`write_messy_workspace(root, seed)` writes logs/metrics.csv, controls/rules_history.jsonl and a lumen.yaml
and returns the truth: per rule, the step every event of that rule adds to each signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

SIGNALS = ("phase_diff", "entropy_rate", "creative_band", "risk_band")
BASELINE = {"phase_diff": 0.45, "entropy_rate": 0.25, "creative_band": 0.22, "risk_band": 0.30}
KST = ZoneInfo("Asia/Seoul")
START = datetime(2025, 3, 4, 8, 0, 0, tzinfo=KST)
RATE_HZ = 5
WINDOW_S = 30  # the effects window (config default); events are spaced so no two windows overlap
MAX_TOTAL_EVENTS = 420  # keeps one workspace under ~10 h of 5 Hz data

# Fixed archetypes for the first seeds: (complete events per rule, rules whose effects are ~0)
ARCHETYPES: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((1,), ()),  # one rule, one event
    ((300,), ()),  # one rule, 300 events
    ((30,) * 10, tuple(range(10))),  # ten rules, every effect ~0
    ((1, 4, 300), ()),  # a lonely event beside a rich rule
    ((2, 1, 3, 1, 2, 1, 2, 3, 1, 2), ()),  # ten thin rules
    ((40, 40, 40), (1,)),  # demo-like, one null rule
)


@dataclass(frozen=True)
class MessyShape:
    seed: int
    complete_events: dict[str, int]  # rule -> events whose windows the data covers
    null_rules: tuple[str, ...]  # rules whose injected effects are all ~0
    noise_sd: float  # per-sample noise of the 5 Hz signals
    spacing_s: tuple[float, float]  # min, max seconds between consecutive events
    outlier_rate: float  # share of events with a t(2)-sized transient in their post window
    pending: int  # events at the end whose post window the data does not cover
    insufficient: int  # events whose post window falls in a metrics gap


@dataclass(frozen=True)
class MessyWorkspace:
    root: Path
    shape: MessyShape
    truth: dict[str, dict[str, float]]  # rule -> signal -> injected step per event
    metrics_rows: int
    bad_metrics_lines: int  # malformed rows + rows with a non-numeric cell (quarantined)
    blank_lines: int
    bad_rule_lines: int
    hours: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def cells(self) -> list[tuple[str, str]]:
        """(rule, signal) pairs with complete evidence: what a posterior must cover."""
        return [(rule, s) for rule, n in sorted(self.shape.complete_events.items()) if n for s in SIGNALS]


def _rule_names(count: int) -> list[str]:
    return [f"rule_{chr(ord('a') + i)}" for i in range(count)]


def messy_shape(seed: int) -> MessyShape:
    """The workspace shape of one seed: an archetype for the first seeds, random (but seeded) after."""
    rng = np.random.default_rng([11, seed])
    if seed < len(ARCHETYPES):
        counts, null_index = ARCHETYPES[seed]
    else:
        n_rules = int(rng.integers(1, 11))
        kind = rng.random(n_rules)
        counts = tuple(int(c) for c in np.where(
            kind < 0.25, rng.integers(1, 4, n_rules),
            np.where(kind < 0.9, rng.integers(4, 60, n_rules), rng.integers(60, 301, n_rules))))
        while sum(counts) > MAX_TOTAL_EVENTS:  # keep a workspace small: shrink the largest rule
            largest = int(np.argmax(counts))
            counts = tuple(c if i != largest else max(1, c - (sum(counts) - MAX_TOTAL_EVENTS)) for i, c in enumerate(counts))
        null_index = tuple(i for i in range(n_rules) if rng.random() < 0.3)
    names = _rule_names(len(counts))
    low = float(rng.uniform(65, 90))
    return MessyShape(
        seed=seed,
        complete_events=dict(zip(names, counts, strict=True)),
        null_rules=tuple(names[i] for i in null_index),
        noise_sd=float(rng.choice([0.004, 0.01, 0.02])),
        spacing_s=(low, low + float(rng.uniform(0, 240))),
        outlier_rate=float(rng.choice([0.0, 0.03, 0.08])),
        pending=int(rng.integers(0, 3)),
        insufficient=int(rng.integers(0, 3)),
    )


def _ts_text(moment: datetime, style: int) -> str:
    """Five spellings of one instant, all valid for Lumen (seed: isoformat, strftime %z, UTC 'Z')."""
    if style == 0:
        return moment.isoformat(timespec="milliseconds")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + moment.strftime("%z")
    if style == 2:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if style == 3:
        return moment.isoformat(sep=" ", timespec="milliseconds")
    return moment.isoformat(timespec="microseconds")


def _ts_texts(t_s: np.ndarray, styles: np.ndarray) -> list[str]:
    """`_ts_text` for every sample at once (the same five spellings, vectorised)."""
    utc = np.datetime64(START.astimezone(UTC).replace(tzinfo=None), "us") + (t_s * 1e6).astype("timedelta64[us]")
    local = utc + np.timedelta64(9, "h")  # START is in KST (+09:00, no DST)
    local_ms = np.datetime_as_string(local, unit="ms")
    spelled = [
        np.char.add(local_ms, "+09:00"),
        np.char.add(local_ms, "+0900"),
        np.char.add(np.datetime_as_string(utc, unit="ms"), "Z"),
        np.char.add(np.char.replace(local_ms, "T", " "), "+09:00"),
        np.char.add(np.datetime_as_string(local, unit="us"), "+09:00"),
    ]
    return np.choose(styles, spelled).tolist()


def write_messy_workspace(root: Path | str, seed: int) -> MessyWorkspace:
    """Write a workspace of the family under `root` (created) and return what was injected."""
    root = Path(root)
    shape = messy_shape(seed)
    rng = np.random.default_rng([11, seed, 1])
    truth = {
        rule: {s: float(rng.normal(0, 0.0002 if rule in shape.null_rules else 0.01)) for s in SIGNALS}
        for rule in shape.complete_events
    }
    rule_names = list(shape.complete_events)
    # The event timeline: complete events in random rule order, insufficient ones among them, pending last.
    kinds = [("complete", rule) for rule, n in shape.complete_events.items() for _ in range(n)]
    kinds += [("insufficient", rule_names[int(rng.integers(len(rule_names)))]) for _ in range(shape.insufficient)]
    order = rng.permutation(len(kinds))
    timeline = [kinds[i] for i in order]
    timeline += [("pending", rule_names[int(rng.integers(len(rule_names)))]) for _ in range(shape.pending)]
    offsets = []
    t = float(rng.uniform(WINDOW_S + 40, 600))
    for _ in timeline:
        offsets.append(t)
        t += float(rng.uniform(*shape.spacing_s))
    last_complete = max((o for o, (k, _) in zip(offsets, timeline, strict=True) if k != "pending"), default=0.0)
    end_s = last_complete + WINDOW_S + 5 + rng.uniform(0, 120)
    pending_offsets = [o for o, (k, _) in zip(offsets, timeline, strict=True) if k == "pending"]
    if pending_offsets:  # the data stops inside (or just before) the first pending event's post window
        end_s = max(last_complete + WINDOW_S + 2, pending_offsets[0] + rng.uniform(-5, WINDOW_S - 5))
        for k, o in enumerate(pending_offsets):
            offsets[offsets.index(o)] = max(o, end_s - WINDOW_S + 10 + k)  # post window never covered
    n = int(end_s * RATE_HZ)
    t_s = np.arange(n) / RATE_HZ

    columns: dict[str, np.ndarray] = {}
    outliers = [rng.random() < shape.outlier_rate for _ in timeline]
    starts = np.searchsorted(t_s, offsets)  # first sample at or after each event
    bump_ends = np.searchsorted(t_s, np.asarray(offsets) + WINDOW_S + 1.5)
    for signal in SIGNALS:
        steps = np.zeros(n + 1)  # level changes as a difference array: O(n) for any number of events
        for start, end, (_, rule), wild in zip(starts, bump_ends, timeline, outliers, strict=True):
            # the event's step holds through its post window and is over before the next event's pre window
            # (events are >= 65 s apart): 300 same-sign steps would otherwise walk the level out of [0, 1]
            steps[start] += truth[rule][signal]
            steps[end] -= truth[rule][signal]
            if wild:  # a transient that moves this event's Δ only: Student-t-like outlying event
                bump = 4 * shape.noise_sd * float(rng.standard_t(2))
                steps[start] += bump
                steps[end] -= bump
        period = float(rng.uniform(3600, 14400))
        level = BASELINE[signal] + 0.01 * np.sin(2 * np.pi * t_s / period) + np.cumsum(steps)[:n]
        columns[signal] = np.round(level + rng.normal(0, shape.noise_sd, n), 4)

    keep = np.ones(n, dtype=bool)
    for offset, (kind, _) in zip(offsets, timeline, strict=True):
        if kind == "insufficient":  # a metrics gap swallows the post window
            keep[(t_s > offset + 2) & (t_s < offset + WINDOW_S + 5)] = False

    rows = np.nonzero(keep)[0]
    blank_cells = rng.random((n, 4)) < 0.001
    bad_rows = set(rng.choice(rows, size=max(1, len(rows) // 5000), replace=False).tolist())
    blank_line_after = set(rng.choice(rows, size=max(1, len(rows) // 20000), replace=False).tolist())
    style_block = int(rng.integers(600, 5000))  # rows per run of one timestamp spelling
    stamps = _ts_texts(t_s, (np.arange(n) // style_block + seed) % 5)
    cells = {s: np.char.mod("%.4f", columns[s]) for s in SIGNALS}
    for j, s in enumerate(SIGNALS):
        cells[s][blank_cells[:, j]] = ""
    lines = ["ts,phase_diff,entropy_rate,creative_band,risk_band"]
    bad_metrics = blank_lines = 0
    for i in rows.tolist():
        if i in bad_rows:
            bad_metrics += 1
            lines.append(stamps[i] + ",0.4,oops,0.2" if i % 2 else "garbage line without commas")
        else:
            lines.append(f"{stamps[i]},{cells['phase_diff'][i]},{cells['entropy_rate'][i]},"
                         f"{cells['creative_band'][i]},{cells['risk_band'][i]}")
        if i in blank_line_after:
            blank_lines += 1
            lines.append("")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "logs" / "metrics.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    records: list[str] = []
    value = {rule: 0.3 for rule in rule_names}
    bad_rules = 0
    for index, (offset, (_, rule)) in enumerate(zip(offsets, timeline, strict=True)):
        old = value[rule]
        value[rule] = round(old + (0.01 if index % 2 == 0 else -0.01), 4)
        moment = START + timedelta(seconds=offset)
        records.append(json.dumps({"ts": _ts_text(moment, index % 5), "actor": ("Lubit", "Sena", "Elo")[index % 3],
                                   "rule": rule, "old": old, "new": value[rule], "note": f"messy {seed}/{index}"}))
        if rng.random() < 0.03:
            bad_rules += 1
            records.append(rng.choice(['{"ts": "2025-03-04T08:00:00+09:00", "rule": ', "not json at all",
                                       '{"actor": "x", "note": "no ts, rule or new"}']))
        if rng.random() < 0.03:
            records.append("")
    (root / "controls").mkdir(parents=True, exist_ok=True)
    (root / "controls" / "rules_history.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    (root / "lumen.yaml").write_text("{}\n", encoding="utf-8")
    counts = {"events": len(timeline), "pending": shape.pending, "insufficient": shape.insufficient,
              "outlying_events": int(sum(outliers))}
    return MessyWorkspace(root, shape, truth, len(rows), bad_metrics, blank_lines, bad_rules, end_s / 3600, counts)
