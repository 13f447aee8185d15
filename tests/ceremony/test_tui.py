"""The Textual UI, driven headlessly by Textual's own harness (App.run_test + Pilot)."""

from __future__ import annotations

import asyncio

from textual.widgets import OptionList, SelectionList

from lumen_assets.ceremony.engine import score_rehearsal
from lumen_assets.ceremony.settings import load_ceremony
from lumen_assets.ceremony.tui import CeremonyApp

CONFIG = load_ceremony()


async def _next(pilot) -> None:
    """Click Next as a person would: not inside the button's 0.2 s press effect (Textual ignores that click)."""
    button = pilot.app.query_one("#next")
    for _ in range(100):
        if not button.has_class("-active"):
            break
        await pilot.pause(0.02)
    assert await pilot.click("#next")
    await pilot.pause()


async def _drive(app: CeremonyApp, script) -> None:
    async with app.run_test(size=(110, 40)) as pilot:
        await script(app, pilot)
        await pilot.pause()


def test_a_full_rehearsal_through_the_ui_gives_the_responses_the_scorer_reads() -> None:
    app = CeremonyApp(CONFIG)

    async def script(app: CeremonyApp, pilot) -> None:
        await pilot.press(*"Alice", "enter")                         # trainee name
        scenarios = app.query_one("#options", OptionList)
        assert scenarios.option_count == 3
        await pilot.press("down", "down", "enter")                  # quarterly_audit_torn_seal
        assert app.current.kind == "step" and "check_seal" in app.current.text
        await _next(pilot)                                  # check_seal done
        assert app.current.kind == "actions" and "Cut marks" in app.current.text
        actions = app.query_one("#actions", SelectionList)
        actions.select("halt")
        actions.select("report")
        await _next(pilot)
        await _next(pilot)                                  # photo_hash
        await _next(pilot)                                  # crosscheck_logs
        assert app.current.key == "log_mismatch"                    # the second anomaly is honoured too
        for action in ("halt", "report", "reconcile_logs"):
            app.query_one("#actions", SelectionList).select(action)
        await _next(pilot)
        await pilot.press("down", "down", "enter")                  # mc_airgap: air-gapped device (2)
        await pilot.press("down", "enter")                          # mc_dual: index 1
        await pilot.press(*"serial and reason", "enter")            # sa_crl

    asyncio.run(_drive(app, script))
    responses = app.return_value
    assert responses is not None
    assert responses.trainee == "Alice" and responses.scenario == "quarterly_audit_torn_seal"
    assert responses.actions == {"torn_seal": ["halt", "report"], "log_mismatch": ["halt", "report", "reconcile_logs"]}
    assert responses.quiz == {"mc_airgap": 2, "mc_dual": 1, "sa_crl": "serial and reason"}
    result = score_rehearsal(CONFIG, responses)
    assert result.passed and result.points == result.max_points


def test_a_preselected_scenario_skips_the_questions_and_quitting_returns_nothing() -> None:
    app = CeremonyApp(CONFIG, scenario="initial_setup_happy", trainee="Bo")

    async def script(app: CeremonyApp, pilot) -> None:
        assert app.current.kind == "step" and "check_airgap" in app.current.text
        await _next(pilot)
        await pilot.press("ctrl+q")

    asyncio.run(_drive(app, script))
    assert app.return_value is None


def test_lumen_ceremony_without_answers_runs_the_ui_and_scores_what_it_returns(workspace, tmp_path, capsys,
                                                                               monkeypatch) -> None:
    """The CLI's interactive branch: `lumen ceremony` opens CeremonyApp; here Textual's harness stands in for the
    terminal (App.run_test), the trainee answers through it, and the CLI logs and certifies as for --answers."""
    import json

    from lumen_assets.cli import main

    async def trainee(app: CeremonyApp, pilot) -> None:
        await _next(pilot)                                          # check_airgap ... store_safe_B: six steps
        for _ in range(5):
            await _next(pilot)
        await pilot.press("down", "down", "enter")                  # mc_airgap
        await pilot.press("down", "enter")                          # mc_dual
        await pilot.press(*"serial, reason", "enter")               # sa_crl

    def run_in_harness(app: CeremonyApp):
        asyncio.run(_drive(app, trainee))
        return app.return_value

    monkeypatch.setattr(CeremonyApp, "run", run_in_harness)
    code = main(["ceremony", "--workspace", str(workspace), "--scenario", "initial_setup_happy", "--trainee", "Mina"])
    out = capsys.readouterr().out
    assert code == 0, out
    [log_path] = (workspace / "custody" / "sim" / "artifacts").glob("rehearsal_initial_setup_happy_*.json")
    log = json.loads(log_path.read_text(encoding="utf-8"))
    assert log["mode"] == "interactive" and log["trainee"] == "Mina" and log["passed"] and log["points"] == 4

    async def quitter(app: CeremonyApp, pilot) -> None:
        await pilot.press("ctrl+q")

    monkeypatch.setattr(CeremonyApp, "run", lambda app: (asyncio.run(_drive(app, quitter)), app.return_value)[1])
    assert main(["ceremony", "--workspace", str(workspace), "--scenario", "initial_setup_happy", "--trainee", "Mina"]) == 1
    assert "quit before the end: nothing scored, nothing written" in capsys.readouterr().out
    assert len(list((workspace / "custody" / "sim" / "artifacts").glob("rehearsal_*.json"))) == 1
