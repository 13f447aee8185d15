"""The operator's journey in the real Dagster UI (issue 8), in headless chromium against `dagster dev`.

The steps run in order on one `dagster dev` and one page: 1 the asset graph shows every asset and group;
2 everything is materialised from the UI; 3 an appended rule event becomes a sensor run that materialises
its effects partition; 4 a broken SLO shows as a failed check and arrives at the webhook as an alert.
Expected assets and groups are read from lumen_assets.definitions, so the test grows with the graph.
A screenshot per step is saved in docs/screenshots/.
"""

from __future__ import annotations

import json
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

from lumen_assets.humanize import number
from lumen_assets.ingest.rules import event_day, read_rule_events
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


def _has_partitions(names: list[str]) -> bool:
    """Whether "Materialize all…" on these assets opens the partition dialog (any of them partitioned)."""
    graph = _graph()
    return any(graph.get(dg.AssetKey.from_user_string(n)).partitions_def is not None for n in names)


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


def _select_one_partition(page, key: str) -> None:
    """Type one partition key into the launch dialog's Custom field until the dialog has taken it.

    The dialog loads its partitions after it opens and then may narrow itself to the last 90 days ("Show all
    partitions"), so a key typed early can be refused ("Could not find partition") or dropped by a re-render;
    typing the same text again into a field that already shows it changes nothing React sees, so each attempt
    dismisses the error, widens the range, empties the field and types again."""
    show_all = page.get_by_text("Show all partitions")
    not_found = page.get_by_text("Could not find partition")
    custom = page.get_by_role("button", name="Custom", exact=True)
    field = page.locator('[role=dialog] input[placeholder^="ex:"], .bp5-dialog input[placeholder^="ex:"]').last
    one = page.get_by_text("1 partition", exact=True)
    page.get_by_text(re.compile(r"^\d+ partitions?$")).first.wait_for()
    page.wait_for_timeout(1_000)  # the 90-day banner, if any, comes with the partition data
    for _ in range(6):
        if not_found.is_visible():
            page.get_by_role("button", name="OK", exact=True).click()
        if show_all.is_visible():
            show_all.click()
        custom.click()
        field.wait_for()
        field.fill("")
        field.press_sequentially(key, delay=20)
        field.press("Enter")
        try:
            one.wait_for(timeout=5_000)
            page.wait_for_timeout(500)  # a late re-render may still reset the selection
            if one.is_visible() and field.input_value() == key and not not_found.is_visible():
                return
        except PlaywrightTimeout:
            pass
    dialog = page.locator("[role=dialog], .bp5-dialog").last
    text = dialog.inner_text() if dialog.count() else page.inner_text("body")
    raise AssertionError(f"the launch dialog never selected partition {key}; it shows:\n{text}")


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
        _select_one_partition(page, partitions)
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
    # the first selection has no partitioned asset since rule_effects is daily: "Materialize all" runs at once
    first_partitions = "all" if _has_partitions(plan["first"]) else None
    for names, partitions in ((plan["first"], first_partitions), (plan["daily"], DEMO_DAY), (plan["after"], None)):
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
    other_day = [n for n in plan["daily"] if DEMO_DAY not in dagster_ui.materialized_partitions(n)]
    assert not other_day, f"the dialog launched another partition than {DEMO_DAY} for {other_day}"
    page.goto(f"{dagster_ui.url}/asset-groups")
    _expand_and_fit(page)
    page.wait_for_timeout(2000)
    _shot(page, "02-materialized.png")
    # the daily assets have one partition per day since 2025-01-01 and only the demo day is materialised,
    # so they stay grey in the zoomed-out graph: close up, their nodes show the partition counts
    page.goto(_selection_url(dagster_ui, plan["daily"]))
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
    event = new[0]
    day = event_day(event, _tz(dagster_ui))

    run = wait_for(lambda: _sensor_run(dagster_ui, event.event_id), 180, 2.0,
                   f"the sensor-launched run for rule event {event.event_id}")
    assert run["tags"].get("dagster/sensor_name") == "rule_event_sensor"
    # one run per reporting day with due events: the event's day is the partition it materialised
    assert run["tags"].get("dagster/partition") == day
    assert day in dagster_ui.materialized_partitions("rule_effects")

    page.goto(f"{dagster_ui.url}/runs/{run['runId']}")
    page.get_by_text("rule_event_sensor").first.wait_for()
    page.get_by_text(day).first.wait_for()  # the run's partition: the event's reporting day
    page.get_by_text("Success").first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "03-sensor-run.png")


def _tz(dev: DagsterDev):
    from lumen_assets.config import load_config

    return load_config(dev.workspace / "lumen.yaml").tz


def _sensor_run(dev: DagsterDev, event_id: str) -> dict | None:
    """The successful rule_event_sensor run whose events include `event_id`; raises if that run failed."""
    run = dev.event_run(event_id)
    if run and run["status"] == "FAILURE":
        raise AssertionError(f"sensor run {run['runId']} failed\n{dev.log_tail()}")
    return run if run and run["status"] == "SUCCESS" else None


def test_03b_a_waiting_event_says_why_in_the_sensor_ticks(dagster_ui: DagsterDev, page) -> None:
    """Issue 15 §3: a rule event the metrics do not cover yet is not run; the sensor's tick says why, in the
    UI (the tick's details: "Skip reason: … event <key> …"). Once metrics arrive, the run follows."""
    from lumen_assets.config import load_config
    from lumen_assets.live import LiveState, append_lines, append_metrics_span, current_rule_values

    config = load_config(dagster_ui.workspace / "lumen.yaml")
    history = dagster_ui.workspace / "controls/rules_history.jsonl"
    before = {e.event_id for e in read_rule_events(history).events}
    now = datetime.now(config.tz)
    old = current_rule_values(history).get("creative_min", 0.22)
    append_lines(history, [json.dumps({"ts": now.isoformat(timespec="microseconds"), "actor": "Operator",
                                       "rule": "creative_min", "old": old, "new": round(old + 0.01, 4)})])
    [event] = [e for e in read_rule_events(history).events if e.event_id not in before]

    page.goto(f"{dagster_ui.url}/automation")
    page.get_by_text("rule_event_sensor", exact=True).first.click()
    page.wait_for_url(re.compile(r"/sensors/rule_event_sensor"))
    reason = page.get_by_text(re.compile(r"event " + re.escape(event.event_id)))
    deadline = time.time() + 120
    close = page.get_by_role("button", name="Close", exact=True)
    while True:  # the newest tick's details; ticks come every sensor.interval_s, the table refreshes itself
        newest = page.locator("tbody tr").filter(has=page.get_by_role("button", name="View logs")).first
        newest.get_by_role("button", name=re.compile(r"^\d+ runs? requested$")).click()
        close.wait_for()
        page.get_by_text("Loading tick details").wait_for(state="hidden")
        try:
            reason.first.wait_for(timeout=3_000)
            break
        except PlaywrightTimeout:
            if time.time() > deadline:
                raise
            close.click()
            page.wait_for_timeout(4000)
    text = reason.first.inner_text()
    assert "metrics do not cover" in text or "waits for its post window" in text, text
    assert _sensor_run(dagster_ui, event.event_id) is None  # not run while it waits
    page.wait_for_timeout(1000)
    _shot(page, "07-sensor-skip-reason.png")
    close.click()

    # the metrics catch up: the sensor launches the event's day
    state = LiveState()
    append_metrics_span(dagster_ui.workspace / config.paths.metrics_csv, now - timedelta(seconds=10),
                        now + timedelta(seconds=config.effects.post_s + 2), state, np.random.default_rng(7))
    run = wait_for(lambda: _sensor_run(dagster_ui, event.event_id), 240, 2.0,
                   f"the sensor run for {event.event_id} once the metrics cover it")
    assert run["tags"].get("dagster/partition") == event_day(event, config.tz)
    wait_until_idle(dagster_ui, IDLE_TIMEOUT_S)


def test_04_broken_slo_fails_a_check_and_alerts(dagster_ui: DagsterDev, page, alert_receiver) -> None:
    graph = _graph()
    check = dg.AssetCheckKey(dg.AssetKey("resonance_scores"), "risk_band_slo")
    if dg.AssetKey("resonance_scores") not in graph.get_all_asset_keys() or check not in graph.asset_check_keys:
        pytest.skip("needs the resonance area's resonance_scores asset and its risk_band_slo check")
    from lumen_assets.definitions import build_definitions

    sensors = {s.name for s in build_definitions().sensors or []}
    if "check_alert_sensor" not in sensors:  # (it moved to sensors/alerts.py: never skip on a module path)
        pytest.skip("needs check_alert_sensor for the webhook alert")

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


def _open_partition(page, dev: DagsterDev, asset: str, partition: str) -> None:
    """The asset's Partitions tab, the partition found through the filter box and picked, as an operator does."""
    page.goto(f"{dev.url}/assets/{asset}?view=partitions")
    search = page.get_by_placeholder(re.compile("Filter|Search", re.I)).first
    search.wait_for()
    search.fill(partition)
    # the filtered list's entry is the last element with exactly that text (the range bar above labels its
    # first and last days too); the detail pane then leaves "No partition selected"
    none_selected = page.get_by_text("No partition selected")
    shown = page.get_by_text(partition, exact=True).filter(visible=True)
    for attempt in range(4):
        page.wait_for_timeout(1000)
        candidates = shown.count()
        shown.nth(max(candidates - 1 - attempt % max(candidates, 1), 0)).click()
        try:
            none_selected.wait_for(state="hidden", timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == 3:
                raise


def _event_row(page, event) -> str:
    """The row of the day's `day_events` table that is this event's (found by its readable key: UTC time and
    rule), checked to show the event's own time, actor, rule, old → new, Δ with an interval, n and status."""
    row = page.locator("tr:not(:has(tr))").filter(has_text=event.event_id).first  # the table's own row
    row.wait_for()
    text = row.inner_text()
    for part in (event.ts_text, event.actor, event.rule, f"→ {number(event.new)}"):
        assert part in text, f"{part!r} not in the row of {event.event_id}: {text!r}"
    assert any(status in text for status in ("complete", "pending:", "insufficient:")), text
    if "complete" in text:  # Δ with its 95 % interval, per signal
        assert re.search(r"Δ [+−]\d\.\d{4} \[[+−]\d\.\d{4}, [+−]\d\.\d{4}\]", text), text
    cells = [c.strip() for c in text.split("\t")]
    counts = [int(c) for c in cells if c.isdigit()]  # n_pre, n_post
    assert len(counts) >= 2 and ("complete" not in text or min(counts) > 0), cells
    return text


def test_05_an_event_partition_shows_its_own_evidence(dagster_ui: DagsterDev, page) -> None:
    """Issue 15 §1: the operator finds a rule event by its time and rule and reads that event's own time,
    actor, rule, old → new, Δ with an interval, n and status. rule_effects is partitioned by reporting day:
    the operator picks the event's day (its local date) and finds the event's row, keyed by UTC time and
    rule, in that day's table; each row holds that event's own figures, not a run-wide copy."""
    tz = _tz(dagster_ui)
    history = read_rule_events(dagster_ui.workspace / "controls/rules_history.jsonl").events
    by_id = {e.event_id: e for e in history}
    runs = [r for r in dagster_ui.runs(200) if r["tags"].get("lumen/event_id") in by_id and r["status"] == "SUCCESS"
            and event_day(by_id[r["tags"]["lumen/event_id"]], tz) != DEMO_DAY]
    assert runs, "no sensor run for a single live rule event"
    event = by_id[runs[-1]["tags"]["lumen/event_id"]]  # the oldest such run: test 03's live event
    day = runs[-1]["tags"]["dagster/partition"]
    assert day == event_day(event, tz)

    _open_partition(page, dagster_ui, "rule_effects", day)
    page.get_by_text("day_events").first.wait_for()
    assert "complete" in _event_row(page, event)  # the sensor ran it once its window was covered
    page.wait_for_timeout(1500)
    _shot(page, "05-event-partition.png")

    # the demo day, computed by one backfill run: every event has its own row with its own figures
    demo = [e for e in history if event_day(e, tz) == DEMO_DAY]
    assert len(demo) >= 2, [e.event_id for e in demo]
    _open_partition(page, dagster_ui, "rule_effects", DEMO_DAY)
    rows = {e.event_id: _event_row(page, e) for e in demo}
    for e in demo:
        others = [o.ts_text for o in demo if o.ts_text != e.ts_text]
        assert not any(ts in rows[e.event_id] for ts in others), rows[e.event_id]


def test_06_the_daily_report_page_links_figures_and_trust(dagster_ui: DagsterDev, page) -> None:
    """Issue 15 §2: the daily_report partition's page links the PDF and Markdown (openable over HTTP), shows
    the headline figures in the configured language, and whether the report is signed and logged (envelope
    digest, log index, checkpoint size, verified), linking to the attestation and log assets."""
    import hashlib

    from lumen_assets.config import load_config
    from lumen_assets.reports.content import TEXT

    config = load_config(dagster_ui.workspace / "lumen.yaml")
    _open_partition(page, dagster_ui, "daily_report", DEMO_DAY)
    page.get_by_text("markdown_link").first.wait_for()
    base = dagster_ui.reports_url  # type: ignore[attr-defined]
    links = {}
    for kind in ("pdf", "md"):
        href = f"{base}/report_{DEMO_DAY}.{kind}"
        anchor = page.locator(f'a[href="{href}"]').first
        anchor.wait_for()
        links[kind] = href
    pdf = page.context.request.get(links["pdf"])
    assert pdf.ok and pdf.body()[:5] == b"%PDF-", (pdf.status, pdf.body()[:20])

    # the headline figures, under their names in reports.language, are the report's own
    text = TEXT[config.reports.language]
    figures = {}
    for key in ("events", "complete", "quotes", "avg_conf", "risks", "samples"):
        row = page.locator("tr").filter(has=page.get_by_text(text[key], exact=True)).first
        row.wait_for()
        figures[text[key]] = row.inner_text().replace(text[key], "", 1).strip().split()[0]
    demo_events = [e for e in read_rule_events(dagster_ui.workspace / "controls/rules_history.jsonl").events
                   if event_day(e, config.tz) == DEMO_DAY]
    assert figures[text["events"]] == str(len(demo_events)), figures

    # signed and logged: the observation the trust assets recorded on this day's partition
    envelope = dagster_ui.workspace / config.attest.attest_dir / f"controls/reports/report_{DEMO_DAY}.pdf.dsse.json"
    digest = hashlib.sha256(envelope.read_bytes()).hexdigest()
    page.get_by_text("yes, verified").first.wait_for()
    for key in ("pdf_envelope_sha256", "pdf_log_index", "pdf_checkpoint_size", "pdf_verified", "md_verified"):
        page.get_by_text(key, exact=True).first.wait_for()
    page.get_by_text(digest).first.wait_for()
    for asset in ("attestations", "transparency_log"):
        page.locator(f'a[href*="/assets/{asset}"]').first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "06-daily-report.png")

    # the operator opens the Markdown link (a new tab): the report, legible, with the same headline figures
    with page.context.expect_page() as opened:
        page.locator(f'a[href="{links["md"]}"]').first.click()
    tab = opened.value
    try:
        tab.wait_for_load_state()
        assert tab.url == links["md"]
        body = tab.inner_text("body")
    finally:
        tab.close()
    assert DEMO_DAY in body and all(f"{name}" in body and value in body for name, value in figures.items()), body[:2000]
