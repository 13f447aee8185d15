"""logs/rules_effects.csv: one row per event (upsert, never append), seed columns first, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lumen_assets.effects.table import read_effects_csv, read_effects_store, upsert_effects
from lumen_assets.effects.window import EFFECT_COLUMNS

SEED_COLUMNS = ["rule_ts", "actor", "rule", "old", "new", "pre_s", "post_s", "d_phase", "d_entropy", "d_creative",
                "d_risk"]


def _rows(ids: list[str], status: str = "complete", d: float = 0.01, minute0: int = 0) -> pd.DataFrame:
    rows = []
    for i, event_id in enumerate(ids):
        row: dict[str, object] = {c: np.nan for c in EFFECT_COLUMNS}
        row.update(rule_ts=f"2025-10-23T13:{minute0 + i:02d}:00+0900" if i % 2 else f"2025-10-23T13:{minute0 + i:02d}:00+09:00",
                   actor="Lubit", rule="creative_min", old=0.2, new=0.25, pre_s=30.0, post_s=30.0,
                   d_phase=d, d_entropy=-d, d_creative=2 * d, d_risk=0.0, n_pre=146, n_post=146,
                   status=status, event_id=event_id)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / ".lumen" / "effects.parquet", tmp_path / "logs" / "rules_effects.csv"


def test_csv_has_seed_columns_first_in_order(paths) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a", "b"]))
    header = csv.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[: len(SEED_COLUMNS)] == SEED_COLUMNS
    assert header == list(EFFECT_COLUMNS)
    assert header[-3:] == ["n_post", "status", "event_id"]


def test_upsert_twice_does_not_duplicate_rows(paths) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a", "b", "c"]))
    first = csv.read_bytes()
    table = upsert_effects(store, csv, _rows(["a", "b", "c"]))
    assert len(table) == 3
    assert csv.read_bytes() == first
    assert read_effects_csv(csv)["event_id"].tolist() == ["a", "b", "c"]
    assert len(read_effects_store(store)) == 3


def test_upsert_replaces_a_pending_row_with_its_complete_result(paths) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a"], status="pending", d=np.nan))
    upsert_effects(store, csv, _rows(["b"], minute0=1))
    upsert_effects(store, csv, _rows(["a"], status="complete", d=0.02))
    table = read_effects_csv(csv)
    assert table["event_id"].tolist() == ["a", "b"]  # event-time order, not upsert order
    assert table.loc[0, "status"] == "complete" and table.loc[0, "d_phase"] == pytest.approx(0.02)


def test_rows_are_in_event_time_across_offset_styles(paths) -> None:
    store, csv = paths
    late = _rows(["late"], minute0=30)
    early = _rows(["x", "early"], minute0=5)  # the second row uses +0900
    upsert_effects(store, csv, late)
    upsert_effects(store, csv, early)
    assert read_effects_csv(csv)["event_id"].tolist() == ["x", "early", "late"]


def test_keep_ids_drops_events_no_longer_in_the_history(paths) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a", "b", "c"]))
    upsert_effects(store, csv, _rows(["c"], minute0=2), keep_ids={"a", "c"})
    assert read_effects_csv(csv)["event_id"].tolist() == ["a", "c"]


def test_missing_values_round_trip_as_missing_not_zero(paths) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["p"], status="pending", d=np.nan))
    row = read_effects_csv(csv).iloc[0]
    assert pd.isna(row["d_phase"]) and pd.isna(row["post_risk"])
    assert row["status"] == "pending"
    assert ",,," in csv.read_text().splitlines()[1]


def test_writes_leave_no_temp_files(paths) -> None:
    store, csv = paths
    for _ in range(3):
        upsert_effects(store, csv, _rows(["a", "b"]))
    leftovers = [p.name for p in (*store.parent.iterdir(), *csv.parent.iterdir()) if p.name.endswith(".tmp")]
    assert leftovers == []
    assert sorted(p.name for p in csv.parent.iterdir()) == ["rules_effects.csv"]


def test_a_failed_write_leaves_the_previous_csv_intact(paths, monkeypatch: pytest.MonkeyPatch) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a"]))
    before = csv.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        upsert_effects(store, csv, _rows(["a", "b"]))
    assert csv.read_bytes() == before
    assert not [p for p in csv.parent.iterdir() if p.name.endswith(".tmp")]


def test_read_effects_csv_rejects_the_seed_14_column_schema(tmp_path: Path) -> None:
    legacy = tmp_path / "rules_effects.csv"
    legacy.write_text(",".join(SEED_COLUMNS + ["opts_iqr", "opts_ema", "ema_alpha"]) + "\n")
    with pytest.raises(ValueError, match=rf"{legacy}:1: effects table lacks columns"):
        read_effects_csv(legacy)


def test_read_effects_csv_of_a_missing_file_is_empty_with_columns(tmp_path: Path) -> None:
    frame = read_effects_csv(tmp_path / "absent.csv")
    assert len(frame) == 0 and list(frame.columns) == list(EFFECT_COLUMNS)


def _whole(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    """The CSV a whole rewrite gives for `frame`."""
    from lumen_assets.effects.table import write_effects_csv

    target = tmp_path / "whole.csv"
    write_effects_csv(frame, target)
    return target.read_bytes()


def test_a_rewrite_keeps_the_unchanged_rows_bytes_and_equals_a_whole_rewrite(paths, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store, csv = paths
    rendered: list[int] = []
    to_csv = pd.DataFrame.to_csv

    def counting(self, *args, **kwargs):
        rendered.append(len(self))
        return to_csv(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", counting)
    upsert_effects(store, csv, _rows([f"e{i}" for i in range(6)], status="pending", d=np.nan))
    upsert_effects(store, csv, _rows([f"e{i}" for i in range(4)]))  # rows 0-3 complete now, 4-5 still pending
    before = csv.read_bytes()
    unchanged = before[: before.index(b"\n", before.index(b",e1\n")) + 1]  # header, e0..e1 (the file ends rows with id)
    table = upsert_effects(store, csv, _rows(["e2", "e3", "e6"], d=0.03, minute0=2)[:2])  # e2, e3 recomputed
    after = csv.read_bytes()
    assert after.startswith(unchanged) and after != before
    assert rendered[-1] == 4  # e2..e5: the rows from the first changed one
    assert after == _whole(table, tmp_path)
    table = upsert_effects(store, csv, _rows(["e9"], minute0=40))  # a new last event: only it is rendered
    assert rendered[-1] == 1
    assert csv.read_bytes().startswith(after) and csv.read_bytes() == _whole(table, tmp_path)


def test_a_csv_touched_by_anything_else_is_rewritten_whole(paths, tmp_path: Path) -> None:
    store, csv = paths
    upsert_effects(store, csv, _rows(["a", "b"]))
    csv.write_text(csv.read_text().replace("Lubit", "Hand"), encoding="utf-8")  # edited, same row count
    table = upsert_effects(store, csv, _rows(["c"], minute0=5))
    assert b"Hand" not in csv.read_bytes()
    assert csv.read_bytes() == _whole(table, tmp_path)
