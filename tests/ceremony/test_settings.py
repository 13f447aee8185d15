"""config/ceremony.yaml is validated like lumen.yaml: errors name the file, the key path and the line."""

from __future__ import annotations

import pytest

from lumen_assets.ceremony.settings import (
    PROJECT_CEREMONY,
    CeremonyConfigError,
    load_ceremony,
    parse_ceremony,
)

TEXT = PROJECT_CEREMONY.read_text(encoding="utf-8")


def test_the_shipped_file_has_the_seeds_fourteen_steps_and_three_scenarios() -> None:
    config = load_ceremony()
    assert len(config.steps) == 14
    assert [s.id for s in config.scenarios] == [
        "initial_setup_happy", "offline_signing_expired_token", "quarterly_audit_torn_seal"]
    assert [a.id for a in config.scenario("quarterly_audit_torn_seal").anomalies] == ["torn_seal", "log_mismatch"]
    assert config.quiz.max_points == 4  # computed from weights, not a hard-coded 2 for short answers


def _error(text: str) -> str:
    with pytest.raises(CeremonyConfigError) as caught:
        parse_ceremony(text, "ceremony.yaml")
    return str(caught.value)


def test_an_unknown_step_names_the_scenario_and_line() -> None:
    bad = TEXT.replace("steps: [check_seal, photo_hash, crosscheck_logs]", "steps: [check_seal, photo_hsah, crosscheck_logs]")
    message = _error(bad)
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "photo_hsah" in text)
    assert "unknown steps ['photo_hsah']" in message and "quarterly_audit_torn_seal" in message
    assert "ceremony.yaml:" in message
    del line  # the model-level error points at the scenarios list (its nearest node)


def test_an_anomaly_at_a_step_its_scenario_lacks_is_an_error_with_its_line() -> None:
    bad = TEXT.replace("at_step: sign_crl", "at_step: reseal_twice")
    message = _error(bad)
    assert "reseal_twice" in message
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "offline_signing_expired_token" in text)
    assert f"ceremony.yaml:{line}" in message


def test_an_unknown_action_and_an_unknown_key_are_errors() -> None:
    assert "unknown actions ['panic']" in _error(TEXT.replace("wrong_actions: [postpone]", "wrong_actions: [panic]"))
    bad = TEXT.replace("  min_score: 0.8", "  min_score: 0.8\n  min_scroe: 0.5")
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "min_scroe" in text)
    assert f"ceremony.yaml:{line}: unknown key 'passing.min_scroe'" in _error(bad)


def test_bad_regex_and_answer_out_of_range_are_errors() -> None:
    assert "not a valid regular expression" in _error(TEXT.replace('pattern: "serial"', 'pattern: "serial("'))
    message = _error(TEXT.replace("      answer: 2\n", "      answer: 7\n"))
    assert "answer 7 is outside choices 0..3" in message


def test_not_yaml_is_an_error_with_a_line() -> None:
    assert _error("version: 1\nsteps: {a: [\n").startswith("ceremony.yaml:")


def test_the_custody_age_must_read_the_folder_rehearsals_are_recorded_in() -> None:
    """A passed rehearsal counts for the resonance custody score only if resonance reads where it is written."""
    from lumen_assets.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"resonance\.custody_records \(custody/elsewhere\) must be "
                                          r"attest\.custody\.records_dir \(attest/custody/records\)"):
        parse_config("resonance:\n  custody_records: custody/elsewhere\n", "lumen.yaml")
    assert parse_config("resonance:\n  custody_records: attest/custody\n", "lumen.yaml")  # a parent folder reads it
    moved = parse_config("attest:\n  custody: {records_dir: custody/records}\nresonance:\n  custody_records: custody/records/\n",
                         "lumen.yaml")
    assert moved.resonance.custody_records == "custody/records/"
