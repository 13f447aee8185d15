"""controls/rules_history.jsonl (seed segA C16/C21): bad lines quarantined with line and reason, stable ids,
duplicates, and a half-written last line that is not yet an error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lumen_assets.ingest.rules import event_id_of, parse_rule_line, parse_rule_lines, read_rule_events

KST = timezone(timedelta(hours=9))
GOOD = {"ts": "2025-10-23T13:10:00+09:00", "actor": "Lubit", "rule": "creative_min", "old": 0.22, "new": 0.25,
        "note": "올림"}


def _line(**changes: object) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}, ensure_ascii=False)


def _write(path: Path, lines: list[str], trailing_newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path


def test_good_line_becomes_an_aware_event_with_all_fields() -> None:
    event = parse_rule_line(_line(), 7)
    assert event.ts == datetime(2025, 10, 23, 13, 10, tzinfo=KST)
    assert event.ts.tzinfo is not None
    assert (event.actor, event.rule, event.old, event.new, event.note, event.line_no) == (
        "Lubit", "creative_min", 0.22, 0.25, "올림", 7)
    assert event.ts_text == GOOD["ts"]
    assert event.as_record()["event_id"] == event.event_id


def test_old_is_optional_and_integers_are_numbers() -> None:
    event = parse_rule_line(_line(old=..., new=1), 1)
    assert event.old is None
    assert event.new == 1.0


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (_line(ts=...), "missing 'ts'"),
    (_line(rule=...), "missing 'rule'"),
    (_line(new=...), "missing 'new'"),
    (_line(new=None), "missing 'new'"),
    (_line(new="0.3"), "'new' must be a number"),
    (_line(old="high"), "'old' must be a number"),
    (_line(new=True), "'new' must be a number"),
    (_line(old=False), "'old' must be a number"),
    (_line(ts="2025-10-23T13:10:00"), "no UTC offset"),
    (_line(rule=5), "'rule' must be a string"),
    (_line(actor=3), "'actor' and 'note' must be strings"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES)
def test_bad_line_is_quarantined_with_line_number_and_reason_and_others_still_parse(
    tmp_path: Path, bad: str, reason: str
) -> None:
    before = _line(ts="2025-10-23T13:00:00+09:00")
    after = _line(ts="2025-10-23T13:20:00+0900")
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [before, bad, after]))
    assert [e.line_no for e in parsed.events] == [1, 3]
    assert len(parsed.quarantined) == 1
    quarantined = parsed.quarantined[0]
    assert quarantined.line_no == 2
    assert reason in quarantined.reason
    assert quarantined.text == bad
    assert parsed.incomplete_tail == ""


def test_many_bad_lines_each_keep_their_own_line_number(tmp_path: Path) -> None:
    lines = [_line(ts=f"2025-10-23T13:{i:02d}:00+09:00") if i % 3 else "oops" for i in range(1, 31)]
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", lines))
    assert [q.line_no for q in parsed.quarantined] == [i for i in range(1, 31) if i % 3 == 0]
    assert [e.line_no for e in parsed.events] == [i for i in range(1, 31) if i % 3]


def test_blank_lines_are_skipped_but_line_numbers_stay_true(tmp_path: Path) -> None:
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), "", "   ", "bad"]))
    assert [e.line_no for e in parsed.events] == [1]
    assert [q.line_no for q in parsed.quarantined] == [4]


def test_event_id_ignores_key_order_and_spacing() -> None:
    compact = json.dumps(GOOD, ensure_ascii=False, separators=(",", ":"))
    shuffled = json.dumps(dict(reversed(list(GOOD.items()))), ensure_ascii=True, indent=None)
    spaced = "  " + json.dumps(GOOD, ensure_ascii=False, separators=(" ,  ", " :   ")) + "  "
    ids = {parse_rule_line(text, 1).event_id for text in (compact, shuffled, spaced)}
    assert ids == {"2025-10-23T04:10:00Z_creative_min"}  # readable: UTC time and rule
    assert len({parse_rule_line(text, 1).content_id for text in (compact, shuffled, spaced)}) == 1
    assert parse_rule_line(compact, 1).content_id == event_id_of(GOOD)  # the id earlier versions used


def test_same_ts_string_with_different_content_gets_different_ids() -> None:
    first, second, third = parse_rule_lines([_line(rule="creative_min"), _line(rule="risk_max"), _line(new=0.26)]).events
    assert first.ts_text == second.ts_text == third.ts_text
    assert len({first.event_id, second.event_id, third.event_id}) == 3


def test_event_id_does_not_depend_on_line_position(tmp_path: Path) -> None:
    a = read_rule_events(_write(tmp_path / "a.jsonl", [_line()])).events[0]
    b = read_rule_events(_write(tmp_path / "b.jsonl", ["", _line(ts="2025-10-23T12:00:00+09:00"), _line()])).events[1]
    assert a.event_id == b.event_id
    assert (a.line_no, b.line_no) == (1, 3)


def test_duplicate_line_is_quarantined_naming_the_first(tmp_path: Path) -> None:
    other = _line(rule="risk_max")
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), other, _line()]))
    assert [e.line_no for e in parsed.events] == [1, 2]
    assert [(q.line_no, q.reason) for q in parsed.quarantined] == [(3, "duplicate of line 1")]


def test_half_written_last_line_is_incomplete_tail_not_quarantined(tmp_path: Path) -> None:
    partial = _line()[:25]
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), partial], trailing_newline=False))
    assert len(parsed.events) == 1
    assert parsed.quarantined == []
    assert parsed.incomplete_tail == partial


def test_complete_last_line_without_newline_counts(tmp_path: Path) -> None:
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), _line(rule="x")], trailing_newline=False))
    assert [e.rule for e in parsed.events] == ["creative_min", "x"]
    assert parsed.incomplete_tail == ""


def test_invalid_line_followed_by_newline_is_quarantined_not_tail(tmp_path: Path) -> None:
    partial = _line()[:25]
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), partial]))
    assert parsed.incomplete_tail == ""
    assert [q.line_no for q in parsed.quarantined] == [2]


def test_missing_history_is_empty(tmp_path: Path) -> None:
    parsed = read_rule_events(tmp_path / "nope.jsonl")
    assert parsed.events == [] and parsed.quarantined == [] and parsed.incomplete_tail == ""


def test_parse_rule_lines_numbers_from_first_line_no() -> None:
    parsed = parse_rule_lines([_line(), "junk"], first_line_no=41)
    assert [e.line_no for e in parsed.events] == [41]
    assert [q.line_no for q in parsed.quarantined] == [42]


def test_unknown_rule_is_quarantined_with_the_reason(tmp_path: Path) -> None:
    from lumen_assets.ingest.rules import RulePolicy

    policy = RulePolicy(known_rules=frozenset({"creative_min", "risk_max"}))
    path = _write(tmp_path / "h.jsonl", [_line(), _line(rule="risk_mx", new=0.3), _line(rule="risk_max", new=0.3)])
    parsed = read_rule_events(path, policy)
    assert [e.rule for e in parsed.events] == ["creative_min", "risk_max"]
    [bad] = parsed.quarantined
    assert bad.line_no == 2 and "unknown rule 'risk_mx'" in bad.reason and "rules.known" in bad.reason
    assert len(read_rule_events(path).events) == 3  # without a policy every rule name is taken


def test_event_too_far_in_the_future_is_quarantined_but_clock_skew_is_tolerated(tmp_path: Path) -> None:
    from lumen_assets.ingest.rules import RulePolicy

    now = datetime(2025, 10, 23, 14, 0, tzinfo=KST)
    policy = RulePolicy(max_future_s=300, now=now)
    lines = [_line(ts=(now + timedelta(seconds=s)).isoformat(), new=0.2 + s / 1e4) for s in (-60, 200, 3600)]
    parsed = parse_rule_lines(lines, policy=policy)
    assert len(parsed.events) == 2
    [bad] = parsed.quarantined
    assert bad.line_no == 3 and "3600 s in the future" in bad.reason and "rules.max_future_s" in bad.reason


def test_same_time_and_rule_gets_a_content_suffix_only_from_the_second_on(tmp_path: Path) -> None:
    second = dict(GOOD, new=0.3)
    parsed = read_rule_events(_write(tmp_path / "rules.jsonl", [_line(), json.dumps(second),
                                                                 json.dumps(dict(GOOD, rule="risk max"))]))
    first_id, second_id, spaced_id = [e.event_id for e in parsed.events]
    assert first_id == "2025-10-23T04:10:00Z_creative_min"  # stable: a later twin never renames it
    assert second_id == f"{first_id}_{parsed.events[1].content_id[:6]}"
    assert spaced_id == "2025-10-23T04:10:00Z_risk-max"
    tailed = parse_rule_lines([json.dumps(second)], 2, taken_ids={first_id})  # a tailing reader agrees
    assert tailed.events[0].event_id == second_id


def test_sub_second_times_keep_their_fraction() -> None:
    event = parse_rule_line(json.dumps(dict(GOOD, ts="2025-10-23T13:10:00.250+09:00")), 1)
    assert event.event_id == "2025-10-23T04:10:00.25Z_creative_min"


def test_stored_records_move_from_hash_ids_to_readable_ids_with_nothing_lost(tmp_path: Path) -> None:
    from lumen_assets.ingest.migrate import migrate_json_keys, migrate_jsonl
    from lumen_assets.ingest.rules import legacy_id_map

    events = read_rule_events(_write(tmp_path / "rules.jsonl", [_line()])).events
    id_map = legacy_id_map(events)
    old_id = event_id_of(GOOD)
    quotes = tmp_path / "quotes_bank.jsonl"
    quotes.write_text(json.dumps({"event_id": old_id, "quote": "q"}) + "\n" + json.dumps({"event_id": "other"}) + "\n")
    assert migrate_jsonl(quotes, id_map) == 1
    records = [json.loads(line) for line in quotes.read_text().splitlines()]
    assert records == [{"event_id": events[0].event_id, "quote": "q"}, {"event_id": "other"}]
    assert migrate_jsonl(quotes, id_map) == 0  # idempotent
    bandit = tmp_path / "bandit.json"
    bandit.write_text(json.dumps({"rule": "r", "rewarded": {old_id: 0.5}}))
    assert migrate_json_keys(bandit, "rewarded", id_map) == 1
    assert json.loads(bandit.read_text())["rewarded"] == {events[0].event_id: 0.5}


def test_a_reread_history_is_parsed_once_and_a_changed_one_again(tmp_path: Path) -> None:
    """Issue 16 §1: one run reads the history three times; the parse is reused while the bytes are the same."""
    from lumen_assets.ingest import rules as rules_module

    path = tmp_path / "rules_history.jsonl"
    line = '{"ts": "2025-03-14T09:00:00+09:00", "actor": "a", "rule": "risk_max", "old": 0.3, "new": 0.31}\n'
    path.write_text(line)
    first = rules_module.read_rule_events(path)
    first.events.clear()  # a caller's list is its own
    again = rules_module.read_rule_events(path)
    assert [e.rule for e in again.events] == ["risk_max"]
    path.write_text(line.replace("risk_max", "risk_min"))  # same size, same inode, maybe the same mtime
    assert [e.rule for e in rules_module.read_rule_events(path).events] == ["risk_min"]
    future = '{"ts": "2999-01-01T00:00:00+09:00", "actor": "a", "rule": "risk_max", "new": 0.3}\n'
    path.write_text(future)
    rules_module._PARSED.pop(path, None)
    rules_module._APPLIED.pop(path, None)
    assert rules_module.read_rule_events(path, rules_module.RulePolicy(max_future_s=60)).quarantined
    later = rules_module.RulePolicy(max_future_s=60, now=datetime(2999, 1, 1, tzinfo=KST))
    assert rules_module.read_rule_events(path, later).events  # the policy is applied at each read: time moves on


def test_the_parse_cache_reads_only_appended_lines_and_any_edit_reads_all_again(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import lumen_assets.ingest.rules as rules

    path, cache = tmp_path / "rules.jsonl", tmp_path / "state" / "rules.parsed.json"
    lines = [_line(ts=f"2025-10-23T13:{m:02d}:00+09:00") for m in range(5)] + ["junk", _line(ts="2025-10-23T13:00:00+09:00")]
    _write(path, lines)
    calls: list[int] = []
    real = rules.parse_rule_line
    monkeypatch.setattr(rules, "parse_rule_line", lambda text, line_no: (calls.append(line_no), real(text, line_no))[1])

    def fresh_read(**kwargs) -> rules.ParsedRules:
        rules._PARSED.clear()  # a new process
        rules._APPLIED.clear()
        return read_rule_events(path, cache=cache, **kwargs)

    first = fresh_read()
    assert len(calls) == 7 and len(first.events) == 5
    assert [(q.line_no, q.text) for q in first.quarantined] == [(6, "junk"), (7, lines[6])]  # the raw line, kept
    calls.clear()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(_line(ts="2025-10-23T14:00:00+09:00") + "\n" + _line(ts="2025-10-23T14:01:00+09:00"))
    second = fresh_read()
    assert calls == [8, 9]  # the appended line, and the last one (no newline yet, but whole JSON)
    rules._PARSED.clear()
    rules._APPLIED.clear()
    assert second == read_rule_events(path)  # the same as a read without the cache
    assert fresh_read(policy=rules.RulePolicy(known_rules=frozenset({"risk_max"}))).events == []  # policy: per read
    calls.clear()
    _write(path, [_line(rule="risk_max")] + lines[1:])  # the first line edited: all read again
    assert [e.rule for e in fresh_read().events][:2] == ["risk_max", "creative_min"] and len(calls) == 7
    cache.write_text("{broken", encoding="utf-8")
    assert len(fresh_read().events) == 6  # line 7 is no longer a duplicate of line 1
