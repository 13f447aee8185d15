"""The operator's journey in the real Dagster UI (issue 8), in headless chromium against `dagster dev`.

The steps run in order on one `dagster dev` and one page: 1 the asset graph shows every asset and group;
2 everything is materialised from the UI; 3 an appended rule event becomes a sensor run that materialises
its effects partition; 4 a broken SLO shows as a failed check and arrives at the webhook as an alert.
Expected assets and groups are read from lumen_assets.definitions, so the test grows with the graph.
A screenshot per step is saved in docs/screenshots/.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lumen_assets.ingest.rules import read_rule_events
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.dagster_dev import DagsterDev, wait_for, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
# upper bounds, not targets: a 2-core machine shared with other work can take several times the usual minutes
IDLE_TIMEOUT_S = 900

VIEWPORT = {"width": 1600, "height": 1100}  # as in conftest.page
GRAPH_VIEWPORT = {"width": 1600, "height": 1700}
DEMO_DAY = "2025-10-23"  # lumen_assets.demo.DEMO_START's reporting day


def _graph():
    from lumen_assets.definitions import build_definitions

    return build_definitions().resolve_asset_graph()


def _assets_by_kind() -> dict[str, list[str]]:
    """Materialisable assets split into what one UI backfill can take at a time: everything not daily and
    not downstream of a daily asset (`first`), the daily ones (`daily`), and what depends on them (`after`)."""
    graph = _graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    daily = {k for k in keys if isinstance(graph.get(k).partitions_def, dg.TimeWindowPartitionsDefinition)}
    after = set(dg.AssetSelection.assets(*daily).downstream(include_self=False).resolve(graph)) - daily
    first = set(keys) - daily - after
    name = lambda ks: sorted(k.to_user_string() for k in ks)  # noqa: E731
    return {"first": name(first), "daily": name(daily), "after": name(after)}


def _selection_url(dev: DagsterDev, names: list[str]) -> str:
    selection = " or ".join(f'key:"{n}"' for n in names)
    return f"{dev.url}/asset-groups~{urllib.parse.quote(selection)}/"


def _shot(page, name: str) -> Path:
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)
    return path


def _materialize_button(page):
    """The lineage's "Materialize all…" (partitions or config: it opens a dialog), or "Materialize all"
    (it launches a run at once)."""
    return page.locator("button:visible").filter(has_text="Materialize all").first


def _button(page, icon: str):
    return page.locator(f"button:has([aria-label='{icon}'])").last


def _expand_and_fit(page) -> None:
    """Expand every group of the lineage graph, hide the side panels and zoom to fit (the zoom buttons land
    at a different scale on each visit)."""
    _button(page, "zoom_out").wait_for()  # the graph (and its settings gear, not the nav's) is rendered
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    expand = page.get_by_role("menuitem", name="Expand all groups")
    collapse = page.get_by_role("menuitem", name="Collapse all groups")
    for attempt in range(3):  # Dagster's community dialog may pop up over the open menu and close it
        try:
            _button(page, "settings").click()
            expand.or_(collapse).first.wait_for(timeout=15_000)
            if expand.count():  # a second visit remembers the expanded groups (the menu then offers "Collapse")
                expand.click(timeout=15_000)
            else:
                page.keyboard.press("Escape")
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    if page.locator("button:has([aria-label='panel_show_right'])").count():
        _button(page, "panel_show_right").click()
    hide = page.get_by_role("button", name="Hide navigation")
    if hide.count() and hide.is_visible():
        hide.click()
    # the graph zooms to fit when it first renders, but never below a legible scale: a tall window
    page.set_viewport_size(GRAPH_VIEWPORT)
    page.reload()
    _button(page, "zoom_out").wait_for()
    hide = page.get_by_role("button", name="Hide navigation")
    if hide.count() and hide.is_visible():
        hide.click()
    if page.locator("button:has([aria-label='panel_show_right'])").count():
        _button(page, "panel_show_right").click()
    page.mouse.move(5, 600)  # no hover highlight in the picture
    page.wait_for_timeout(2500)


def _launch_materialize_all(page, partitions: str | None) -> None:
    """Click "Materialize all…" on the current lineage selection and launch what it opens."""
    _materialize_button(page).click()
    confirm = page.get_by_role("button", name="Confirm")
    dialog_title = page.get_by_text("Launch runs to materialize")
    deadline = time.time() + 10
    while time.time() < deadline and not (confirm.is_visible() or dialog_title.is_visible()):
        page.wait_for_timeout(250)
    if confirm.is_visible():  # "upstream assets have not been materialized yet": they are in this backfill
        confirm.click()
    if partitions is None and not dialog_title.is_visible():
        return  # unpartitioned selection: a run was launched directly
    dialog_title.wait_for()
    if partitions == "all":
        page.get_by_role("button", name="All", exact=True).click()
    elif partitions:
        show_all = page.get_by_text("Show all partitions")
        if show_all.count() and show_all.is_visible():
            show_all.click()
        page.get_by_role("button", name="Custom", exact=True).click()
        one = page.get_by_text("1 partition", exact=True)
        for attempt in range(4):  # the dialog re-renders while its partition data loads: type again
            field = page.locator(".bp5-dialog input[type=text], [role=dialog] input[type=text]").last
            field.fill(partitions)
            field.press("Enter")
            try:
                one.wait_for(timeout=5_000)
                break
            except PlaywrightTimeout:
                if attempt == 3:
                    raise
    # "Launch backfill", or "Launch 1 run" when the selection is a single partition
    page.get_by_role("button", name=re.compile(r"^Launch (backfill|\d+ runs?)$")).click()
    page.get_by_text("Launch runs to materialize").wait_for(state="hidden")


def test_01_asset_graph_shows_every_asset_and_group(dagster_ui: DagsterDev, page) -> None:
    graph = _graph()
    groups = sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()})
    assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert {"ingest", "analysis", "evidence", "reporting", "trust", "observability"} <= set(groups)

    # the sensor's first ticks launch one run per demo event already covered by metrics: a still picture
    wait_until_idle(dagster_ui, IDLE_TIMEOUT_S)
    page.goto(f"{dagster_ui.url}/asset-groups")
    for group in groups:
        page.get_by_role("button", name=group).first.wait_for()
    _expand_and_fit(page)
    for group in groups:  # the expanded groups' headers in the graph
        page.get_by_text(group, exact=True).first.wait_for()
    _shot(page, "01-asset-graph.png")

    page.goto(f"{dagster_ui.url}/assets")  # the catalog lists every asset with its group
    for name in assets:
        page.locator(f'a[href$="/assets/{name}"]').first.wait_for()
    body = page.inner_text("body")
    missing_groups = [g for g in groups if g not in body]
    assert not missing_groups, f"groups not shown in the catalog: {missing_groups}"


def test_02_materialize_everything_from_the_ui(dagster_ui: DagsterDev, page) -> None:
    wait_until_idle(dagster_ui, IDLE_TIMEOUT_S)
    plan = _assets_by_kind()
    started = time.time()
    for names, partitions in ((plan["first"], "all"), (plan["daily"], DEMO_DAY), (plan["after"], None)):
        if not names:
            continue
        page.goto(_selection_url(dagster_ui, names))
        _materialize_button(page).wait_for()
        page.wait_for_timeout(1500)  # let the selection's partition data load before the dialog opens
        _launch_materialize_all(page, partitions)
        runs = wait_until_idle(dagster_ui, IDLE_TIMEOUT_S)
        failed = [r["runId"] for r in runs if r.get("status") == "FAILURE" and (r.get("startTime") or 0) >= started - 5]
        assert not failed, f"runs failed after materialising {names}: {failed}\n{dagster_ui.log_tail()}"

    never = [n for n in plan["first"] + plan["daily"] + plan["after"] if dagster_ui.latest_materialization(n) is None]
    assert not never, f"never materialised: {never}"
    page.goto(f"{dagster_ui.url}/asset-groups")
    _expand_and_fit(page)
    page.wait_for_timeout(2000)
    _shot(page, "02-materialized.png")
    # the daily assets have one partition per day since 2025-01-01 and only the demo day is materialised,
    # so they stay grey in the zoomed-out graph: close up, their nodes show the partition counts
    page.goto(_selection_url(dagster_ui, plan["daily"] + plan["after"]))
    _button(page, "zoom_out").wait_for()
    page.get_by_text("daily_report").first.wait_for()
    page.mouse.move(5, 600)
    page.wait_for_timeout(2500)
    _shot(page, "02b-daily-partitions.png")


def test_03_appended_rule_event_runs_through_the_sensor(dagster_ui: DagsterDev, page) -> None:
    from lumen_assets.live import run_live

    history = dagster_ui.workspace / "controls/rules_history.jsonl"
    before = {e.event_id for e in read_rule_events(history).events}
    # `lumen demo --live` in miniature: 5 Hz rows now, one rule event after 8 s, rows until 8 s later
    live = threading.Thread(target=run_live, args=(dagster_ui.workspace, 8.0),
                            kwargs={"max_events": 1, "out": lambda _: None}, daemon=True)
    live.start()
    live.join(60)
    new = [e for e in read_rule_events(history).events if e.event_id not in before]
    assert len(new) == 1
    event_id = new[0].event_id

    def sensor_run() -> dict | None:
        runs = [r for r in dagster_ui.runs(50) if r["tags"].get("lumen/event_id") == event_id]
        if runs and runs[0]["status"] == "FAILURE":
            raise AssertionError(f"sensor run {runs[0]['runId']} failed\n{dagster_ui.log_tail()}")
        return runs[0] if runs and runs[0]["status"] == "SUCCESS" else None

    run = wait_for(sensor_run, 180, 2.0, f"the sensor-launched run for rule event {event_id}")
    assert run["tags"].get("dagster/sensor_name") == "rule_event_sensor"
    assert event_id in dagster_ui.materialized_partitions("rule_effects")

    page.goto(f"{dagster_ui.url}/runs/{run['runId']}")
    page.get_by_text("rule_event_sensor").first.wait_for()
    page.get_by_text(event_id).first.wait_for()
    page.get_by_text("Success").first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "03-sensor-run.png")


def test_04_broken_slo_fails_a_check_and_alerts(dagster_ui: DagsterDev, page, alert_receiver) -> None:
    graph = _graph()
    check = dg.AssetCheckKey(dg.AssetKey("resonance_scores"), "risk_band_slo")
    if dg.AssetKey("resonance_scores") not in graph.get_all_asset_keys() or check not in graph.asset_check_keys:
        pytest.skip("needs the resonance area's resonance_scores asset and its risk_band_slo check")
    try:
        from lumen_assets.alerts import sensors as _alert_sensors  # noqa: F401
    except ImportError:
        pytest.skip("needs the alerts area (lumen_assets.alerts) for the webhook alert")

    from lumen_assets.config import load_config
    from lumen_assets.live import LiveState, append_metrics_span

    config = load_config(dagster_ui.workspace / "lumen.yaml")
    now = datetime.now(config.tz)
    state = LiveState()
    state.levels["risk_band"] = 0.9  # the loop runs hot: far above thresholds.risk_band_max
    append_metrics_span(dagster_ui.workspace / config.paths.metrics_csv, now - timedelta(seconds=1),
                        now + timedelta(seconds=120), state, np.random.default_rng(4))
    already = len(alert_receiver.requests)
    before = dagster_ui.check_executions("resonance_scores", "risk_band_slo")
    assert not before or before[0]["evaluation"]["success"] is True, f"risk_band_slo failing already: {before}"

    page.goto(_selection_url(dagster_ui, ["metrics", "resonance_scores"]))
    _materialize_button(page).wait_for()
    page.wait_for_timeout(1500)
    _launch_materialize_all(page, None)
    wait_until_idle(dagster_ui, IDLE_TIMEOUT_S)
    executions = dagster_ui.check_executions("resonance_scores", "risk_band_slo")
    assert executions and executions[0]["evaluation"]["success"] is False, executions

    page.goto(f"{dagster_ui.url}/assets/resonance_scores?view=checks")
    page.get_by_text("risk_band_slo", exact=True).first.click()  # its detail pane, not the first check's
    page.get_by_text("breaks <= ").first.wait_for()  # the failed evaluation's description
    page.get_by_text("What to do:").first.wait_for()  # ... says what to do (issue 15 §4)
    page.get_by_text("Failed").first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "04-failed-check.png")

    def alerted() -> list[dict]:
        return [r for r in alert_receiver.requests[already:] if b"risk_band_slo" in r["body"]]

    hits = wait_for(alerted, 120, 2.0, "the risk_band_slo alert at the webhook receiver")
    assert hits[0]["json"] and "text" in hits[0]["json"]
    assert f"{dagster_ui.url}/runs/".encode() in hits[0]["body"]  # the webserver's real address (issue 15 §3)
    time.sleep(3)  # a duplicate (retry, second channel post, re-sent state) would land right behind it
    assert len(alerted()) == 1, [r["body"][:200] for r in alerted()]


def _partition_page(dev: DagsterDev, asset: str, partition: str) -> str:
    return f"{dev.url}/assets/{asset}?view=partitions&partition={urllib.parse.quote(partition)}"


def test_05_an_event_partition_shows_its_own_evidence(dagster_ui: DagsterDev, page) -> None:
    """Issue 15 §1: the operator finds a rule event by its partition key and reads that event's own time,
    actor, rule, old → new, Δ with an interval, n and status (not a run-wide table)."""
    history = read_rule_events(dagster_ui.workspace / "controls/rules_history.jsonl").events
    runs = [r for r in dagster_ui.runs(200) if r["tags"].get("lumen/event_id") and r["status"] == "SUCCESS"]
    assert runs, "no sensor run for a rule event"
    by_id = {e.event_id: e for e in history}
    run = next(r for r in runs if r["tags"]["lumen/event_id"] in by_id)
    event, key = by_id[run["tags"]["lumen/event_id"]], run["tags"]["dagster/partition"]

    page.goto(f"{dagster_ui.url}/assets/rule_effects?view=partitions")
    search = page.get_by_placeholder(re.compile("Filter|Search", re.I)).first
    search.wait_for()
    search.fill(key[:12])  # find it by (part of) its key
    page.get_by_text(key, exact=True).first.click()
    page.get_by_text(event.ts_text, exact=True).first.wait_for()
    for text in (event.actor, f"→ {event.new:.4g}", "Δ "):
        page.get_by_text(text).first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "05-event-partition.png")

    # a second event of the same single-run backfill shows its own figures, not the first one's
    other = next(e for e in history if e.event_id != event.event_id and e.ts_text != event.ts_text
                 and e.event_id in dagster_ui.materialized_partitions("rule_effects"))
    page.goto(_partition_page(dagster_ui, "rule_effects", other.event_id))
    page.get_by_text(other.ts_text, exact=True).first.wait_for()
    assert page.get_by_text(event.ts_text, exact=True).count() == 0
