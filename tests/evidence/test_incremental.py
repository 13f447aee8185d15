"""The evidence assets map only the effects rows they have not mapped, and scan the ledgers incrementally,
with the same records as a whole-table mapping (issue 16 §1)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lumen_assets.effects.table import write_effects_csv
from lumen_assets.effects.window import EFFECT_COLUMNS
from lumen_assets.evidence.incremental import update_ledger
from lumen_assets.evidence.ledger import latest_records, ledger_problems, read_ledger, scan_ledger
from lumen_assets.evidence.settings import EvidenceSettings, QuoteThresholds

KST = ZoneInfo("Asia/Seoul")
SETTINGS = EvidenceSettings()


def effects(count: int, status: str = "complete") -> pd.DataFrame:
    rows = []
    for i in range(count):
        row: dict[str, object] = {c: np.nan for c in EFFECT_COLUMNS}
        d = 0.04 if i % 3 == 0 else -0.02
        row.update(rule_ts=f"2025-10-23T13:{i:02d}:00+09:00", actor="Lubit", rule="creative_min", old=0.2, new=0.25,
                   pre_s=30.0, post_s=30.0, d_phase=d, d_entropy=d, d_creative=-d, d_risk=0.0, n_pre=146,
                   n_post=146, status="pending" if i == count - 1 and status == "pending" else "complete",
                   event_id=f"e{i:02d}")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def update(tmp_path: Path, kind: str = "quote", settings: EvidenceSettings = SETTINGS):
    ledger = tmp_path / "controls" / ("quotes_bank.jsonl" if kind == "quote" else "risk_ledger.jsonl")
    return update_ledger(tmp_path / "logs/rules_effects.csv", ledger, kind, settings, KST, tmp_path / ".lumen/evidence")


def test_a_second_run_maps_nothing_and_a_new_row_alone_is_mapped(tmp_path: Path) -> None:
    csv = tmp_path / "logs/rules_effects.csv"
    write_effects_csv(effects(10, status="pending"), csv)
    first = update(tmp_path)
    assert (first.rows_mapped, first.whole_table, first.added, first.total) == (10, True, 9, 9)
    assert first.evidence.not_evidence == {"pending": 1}
    again = update(tmp_path)
    assert (again.rows_mapped, again.whole_table, again.added, again.total) == (0, False, 0, 9)
    assert again.evidence.not_evidence == {"pending": 1}  # the whole table's counts, kept

    write_effects_csv(effects(12), csv)  # the pending row is now complete: it changed in place
    changed = update(tmp_path)
    assert changed.whole_table and changed.added == 3 and changed.total == 12
    assert changed.evidence.not_evidence == {}

    frame = effects(13)
    with open(csv, "a", encoding="utf-8") as handle:  # one more row after the mapped bytes
        frame.iloc[[12]][list(EFFECT_COLUMNS)].round(6).to_csv(handle, header=False, index=False, lineterminator="\n")
    appended = update(tmp_path)
    assert (appended.rows_mapped, appended.whole_table, appended.added, appended.total) == (1, False, 1, 13)

    # the same records as one whole-table mapping of the final table into a fresh ledger
    fresh = tmp_path / "fresh"
    write_effects_csv(frame, fresh / "logs/rules_effects.csv")
    update(fresh)
    assert jsonl(tmp_path / "controls/quotes_bank.jsonl") == jsonl(fresh / "controls/quotes_bank.jsonl")


def test_risk_ledger_is_incremental_though_most_rows_give_no_record(tmp_path: Path) -> None:
    write_effects_csv(effects(9), tmp_path / "logs/rules_effects.csv")
    first = update(tmp_path, "risk")
    assert (first.added, first.scan.severities) == (3, {"warn": 3})
    again = update(tmp_path, "risk")
    assert (again.rows_mapped, again.added, again.total, again.scan.severities) == (0, 0, 3, {"warn": 3})


def test_a_ledger_edited_by_hand_or_new_settings_map_the_whole_table_again(tmp_path: Path) -> None:
    write_effects_csv(effects(6), tmp_path / "logs/rules_effects.csv")
    update(tmp_path)
    ledger = tmp_path / "controls/quotes_bank.jsonl"
    lines = ledger.read_text(encoding="utf-8").splitlines()
    ledger.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")  # a record removed
    again = update(tmp_path)
    assert again.whole_table and again.added == 1 and again.total == 6
    stricter = EvidenceSettings(quote=QuoteThresholds(phase_good=-0.5))
    assert update(tmp_path, settings=stricter).whole_table


def test_scan_reads_only_what_follows_the_scanned_bytes_and_sees_edits(tmp_path: Path) -> None:
    path, cache = tmp_path / "risk_ledger.jsonl", tmp_path / "scan.json"
    good = {"ts": "2025-10-23T13:10:00+09:00", "event_id": "a", "severity": "warn", "rule": "r", "signal": {}, "note": ""}
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert scan_ledger(path, "risk", cache).records == 1
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**good, "event_id": "b"}) + "\n" + json.dumps(good) + "\n{oops\n")
    scan = scan_ledger(path, "risk", cache)
    assert scan.ids == ["a", "b", "a"] and scan.bad_lines == [(4, scan.bad_lines[0][1])]
    assert sorted(scan.problems(path)) == sorted(ledger_problems(path, "risk"))
    path.write_text(json.dumps({**good, "severity": "bad"}) + "\n", encoding="utf-8")  # rewritten: whole again
    again = scan_ledger(path, "risk", cache)
    assert again.ids == ["a"] and again.problems(path) == ledger_problems(path, "risk")
    assert "severity 'bad'" in again.problems(path)[0]
    cache.write_text("{damaged", encoding="utf-8")
    assert scan_ledger(path, "risk", cache).ids == ["a"]


def test_latest_records_reads_the_end_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"event_id": f"e{i}", "pad": "x" * 300}) + "\n" for i in range(2000)))
    latest = latest_records(path, 300)
    assert [r["event_id"] for r in latest] == [f"e{i}" for i in range(1999, 1699, -1)]
    assert [r["event_id"] for r in latest_records(path, 5000)] == [r["event_id"] for r in read_ledger(path).records[::-1]]
