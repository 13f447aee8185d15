"""Fixtures for the browser test: the real `dagster dev` on a demo workspace, a webhook receiver for alerts,
and headless Debian chromium driven by Playwright (never `playwright install`: the system browser)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.dagster_dev import (
    FAST_OVERRIDES,
    DagsterDev,
    free_port,
    prepare_dagster_dev_workspace,
    start_dagster_dev,
)
from tests.support import servers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FAILURES = Path(tempfile.gettempdir()) / "lumen-e2e-failures"  # what the page showed when a step failed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed browser step leaves $TMPDIR/lumen-e2e-failures/<test>.png behind (and says so)."""
    yield
    if request.node.stash.get(_FAILED, False) and "page" in request.fixturenames:
        FAILURES.mkdir(parents=True, exist_ok=True)
        path = FAILURES / f"{request.node.name}.png"
        try:
            request.getfixturevalue("page").screenshot(path=str(path), full_page=True)
            print(f"failure screenshot: {path}")
        except Exception as exc:  # noqa: BLE001 - a post-mortem must not mask the real failure
            print(f"no failure screenshot: {exc}")


@pytest.fixture(scope="module")
def alert_receiver() -> Iterator[servers.HttpReceiver]:
    """The shared `http_receiver` server, for the whole module (dagster dev outlives one test)."""
    with servers.serve_http() as receiver:
        yield receiver


class _ReportsHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with their charset: without `charset=utf-8` a browser shows the Korean Markdown report
    as Latin-1 mojibake (an operator's web server for controls/reports needs the same setting)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8"}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A read-only static HTTP server for `folder` on 127.0.0.1 (what an operator's web server does for
    controls/reports); yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_ReportsHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory, alert_receiver: servers.HttpReceiver) -> Iterator[DagsterDev]:
    """`dagster dev` (webserver + daemon) on 127.0.0.1, DAGSTER_HOME and LUMEN_WORKSPACE on a demo workspace
    with a 5 s sensor and 5 s effect windows; alerts go to the local webhook receiver and link to this
    webserver's real address; the reports folder is served over HTTP for the daily_report page's links."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: run scripts/system-deps.sh")
    root = tmp_path_factory.mktemp("e2e")
    workspace = root / "workspace"
    env = prepare_dagster_dev_workspace(workspace, FAST_OVERRIDES, hours=0.5)
    env["LUMEN_ALERT_WEBHOOK_URL"] = alert_receiver.url
    port = free_port()
    env["LUMEN_UI_BASE_URL"] = f"http://127.0.0.1:{port}"
    with serve_folder(workspace / "controls" / "reports") as reports_url:
        env["LUMEN_REPORTS_URL"] = reports_url
        dev = start_dagster_dev(workspace, env, root / "dagster-dev.log", port=port)
        dev.reports_url = reports_url  # type: ignore[attr-defined]
        try:
            yield dev
        finally:
            dev.stop()
            log = root / "dagster-dev.log"
            if log.exists():  # kept next to the screenshots' tmp dir for post-mortems
                shutil.copy(log, root / "dagster-dev.kept.log")


@pytest.fixture(scope="module")
def page(dagster_ui: DagsterDev):
    """One browser page for the whole journey; Dagster's first-visit community dialog is dismissed
    whenever it shows up."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1100})
        context.set_default_timeout(60_000)
        tab = context.new_page()
        tab.add_locator_handler(
            tab.get_by_text("Join the Dagster community"),
            lambda: tab.get_by_role("button", name="Skip").click(),
        )
        try:
            yield tab
        finally:
            context.close()
            browser.close()
