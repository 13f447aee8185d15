"""Scoring a rehearsal: every anomaly, chosen actions against expected and wrong ones, weighted quiz."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumen_assets.ceremony.engine import AnswersError, Responses, read_answers, score_rehearsal, walk
from lumen_assets.ceremony.settings import load_ceremony

CONFIG = load_ceremony()
FULL_QUIZ = {"mc_airgap": 2, "mc_dual": 1, "sa_crl": "the serial number and the revocation reason"}


def test_every_anomaly_is_raised_at_its_own_step_not_only_the_first() -> None:
    events = walk(CONFIG.scenario("quarterly_audit_torn_seal"), CONFIG)
    assert [(e.step, e.anomaly) for e in events] == [
        ("check_seal", None), ("check_seal", "torn_seal"), ("photo_hash", None),
        ("crosscheck_logs", None), ("crosscheck_logs", "log_mismatch")]


def test_the_right_actions_and_answers_pass_with_full_marks() -> None:
    responses = Responses("Alice", "quarterly_audit_torn_seal",
                          {"torn_seal": ["halt", "report"], "log_mismatch": ["halt", "report", "reconcile_logs"]}, FULL_QUIZ)
    result = score_rehearsal(CONFIG, responses)
    assert result.points == result.max_points == 2 + 1 + 4
    assert result.passed and result.reasons == []


def test_actions_are_scored_wrong_ones_cost_and_a_mishandled_critical_anomaly_fails() -> None:
    responses = Responses("Bob", "quarterly_audit_torn_seal",
                          {"torn_seal": ["replace_seal", "report"], "log_mismatch": ["halt", "report", "reconcile_logs"]},
                          FULL_QUIZ)
    result = score_rehearsal(CONFIG, responses)
    torn = result.anomalies[0]
    assert torn.right == ["report"] and torn.missing == ["halt"] and torn.wrong == ["replace_seal"]
    assert torn.points == 0.0  # (1 right - 1 wrong) / 2 expected
    assert result.score == pytest.approx(5 / 7)
    assert not result.passed
    assert any("critical anomaly torn_seal mishandled" in r for r in result.reasons)


def test_partial_actions_earn_partial_points() -> None:
    responses = Responses("Cy", "offline_signing_expired_token", {"token_expired": ["sign_crl"]}, FULL_QUIZ)
    result = score_rehearsal(CONFIG, responses)
    assert result.anomalies[0].points == 1.0  # one of two expected, worth 2
    assert result.passed  # 5/6 >= 0.8, and the anomaly is not critical


def test_quiz_weights_and_patterns() -> None:
    result = score_rehearsal(CONFIG, Responses("D", "initial_setup_happy", {},
                                               {"mc_airgap": "air-gapped device", "mc_dual": 0, "sa_crl": "SERIAL only"}))
    by_id = {q.question: q for q in result.questions}
    assert by_id["mc_airgap"].points == 1  # the choice text is accepted as well as its index
    assert by_id["mc_dual"].points == 0
    assert by_id["sa_crl"].points == 1 and by_id["sa_crl"].matched == ["serial"]
    assert result.max_points == 4 and not result.passed


def test_answers_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("trainee: Eve\nscenario: quarterly_audit_torn_seal\nactions: {torn_seel: [halt]}\n")
    with pytest.raises(AnswersError, match=r"answers.yaml: key 'actions.torn_seel': scenario quarterly_audit_torn_seal has no such anomaly"):
        read_answers(path, CONFIG)
    path.write_text("trainee: Eve\nscenario: quarterly_audit_torn_seal\nactions: {torn_seal: [dance]}\n")
    with pytest.raises(AnswersError, match="actions.torn_seal"):
        read_answers(path, CONFIG)
    path.write_text("trainee: Eve\nscenario: nope\n")
    with pytest.raises(Exception, match="unknown scenario 'nope'"):
        read_answers(path, CONFIG)
