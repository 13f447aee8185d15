"""What each step records as it runs (pure: no keys, no Dagster), and how a day's records fold into links."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import pytest

from lumen_assets.attest.step_records import (
    StepRecordError,
    chain_paths,
    freeze_upstream,
    link_fields,
    read_day_records,
    record_step,
    records_dir,
)
from lumen_assets.config import load_config

DAY = "2025-01-02"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    for rel, text in {"logs/rules_effects.csv": "a\n", "controls/quotes_bank.jsonl": "{}\n",
                      "controls/rules_history.jsonl": "{}\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


PATHS = chain_paths(load_config())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_step_records_what_it_read_and_wrote_with_sha256(ws: Path) -> None:
    path = record_step(ws, PATHS, "quote_bank", environment={"run_id": "r1"})
    assert path == ws / "attest/in-toto/records/latest/evidence.quote_bank.json"
    body = json.loads(path.read_text())
    assert body["step"] == "evidence" and body["asset"] == "quote_bank"
    assert body["materials"] == {"logs/rules_effects.csv": {"sha256": _sha("a\n")}}
    assert body["products"] == {"controls/quotes_bank.jsonl": {"sha256": _sha("{}\n")}}
    assert body["environment"]["run_id"] == "r1" and "recorded_at" in body["environment"]


def test_the_report_and_archive_record_a_day_and_their_own_digests(ws: Path) -> None:
    with pytest.raises(StepRecordError, match="pass the day"):
        record_step(ws, PATHS, "daily_report")
    with pytest.raises(StepRecordError, match="not a step"):
        record_step(ws, PATHS, "resonance_scores")
    path = record_step(ws, PATHS, "daily_report", day=DAY, materials={"logs/rules_effects.csv": "ab" * 32})
    assert path.parent == records_dir(ws, PATHS, DAY)
    assert json.loads(path.read_text())["materials"] == {"logs/rules_effects.csv": {"sha256": "ab" * 32}}


def test_the_report_freezes_the_latest_upstream_records_into_its_day(ws: Path) -> None:
    record_step(ws, PATHS, "rule_effects")
    day_dir = records_dir(ws, PATHS, DAY)
    day_dir.mkdir(parents=True)
    (day_dir / "posteriors.effect_posteriors.json").write_text("{}")  # from an earlier report run
    copied = freeze_upstream(ws, PATHS, DAY)
    assert [p.name for p in copied] == ["effects.rule_effects.json"]
    assert sorted(p.name for p in day_dir.iterdir()) == ["effects.rule_effects.json"]


def test_a_step_of_several_assets_is_one_link(ws: Path) -> None:
    t0 = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    record_step(ws, PATHS, "quote_bank", now=t0)
    (ws / "controls/quotes_bank.jsonl").write_text("{}\n{}\n")
    record_step(ws, PATHS, "rhythm_sync", now=t0 + dt.timedelta(seconds=1))  # wrote the quote bank later
    record_step(ws, PATHS, "risk_ledger", now=t0 + dt.timedelta(seconds=2))
    freeze_upstream(ws, PATHS, DAY)
    fields = link_fields("evidence", read_day_records(ws, PATHS, DAY)["evidence"], DAY)
    assert fields["products"]["controls/quotes_bank.jsonl"] == {"sha256": _sha("{}\n{}\n")}  # as left last
    assert fields["materials"] == {"logs/rules_effects.csv": {"sha256": _sha("a\n")}}
    assert set(fields["environment"]["recorded_by"]) == {"quote_bank", "rhythm_sync", "risk_ledger"}


def test_two_assets_reading_different_versions_are_both_named(ws: Path) -> None:
    record_step(ws, PATHS, "quote_bank")
    (ws / "logs/rules_effects.csv").write_text("b\n")
    record_step(ws, PATHS, "risk_ledger")
    freeze_upstream(ws, PATHS, DAY)
    materials = link_fields("evidence", read_day_records(ws, PATHS, DAY)["evidence"], DAY)["materials"]
    assert materials == {"logs/rules_effects.csv (as read by quote_bank)": {"sha256": _sha("a\n")},
                         "logs/rules_effects.csv (as read by risk_ledger)": {"sha256": _sha("b\n")}}


def test_an_unreadable_record_is_named(ws: Path) -> None:
    day_dir = records_dir(ws, PATHS, DAY)
    day_dir.mkdir(parents=True)
    (day_dir / "report.daily_report.json").write_text("{oops")
    with pytest.raises(StepRecordError, match="report.daily_report.json: not a step record"):
        read_day_records(ws, PATHS, DAY)


def test_digests_are_cached_by_file_identity_and_redone_when_a_file_changes(ws: Path) -> None:
    import os

    from lumen_assets.attest.step_records import DIGEST_CACHE, byte_range_sha256

    record_step(ws, PATHS, "quote_bank")
    cache_path = ws / "attest/in-toto/records" / DIGEST_CACHE
    cache = json.loads(cache_path.read_text())
    assert cache["logs/rules_effects.csv"][4] == _sha("a\n")
    cache["logs/rules_effects.csv"][4] = "f" * 64  # a cached digest is used while the file is unchanged...
    cache_path.write_text(json.dumps(cache))
    body = json.loads(record_step(ws, PATHS, "quote_bank").read_text())
    assert body["materials"]["logs/rules_effects.csv"]["sha256"] == "f" * 64
    stat = (ws / "logs/rules_effects.csv").stat()
    time.sleep(0.05)  # past the kernel's coarse timestamp tick
    (ws / "logs/rules_effects.csv").write_text("b\n")  # ...same size, mtime put back: the ctime still moved
    os.utime(ws / "logs/rules_effects.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    body = json.loads(record_step(ws, PATHS, "quote_bank").read_text())
    assert body["materials"]["logs/rules_effects.csv"]["sha256"] == _sha("b\n")
    assert byte_range_sha256(ws / "logs/rules_effects.csv", 1, 2) == _sha("\n")
