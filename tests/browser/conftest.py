"""Browser-test fixtures: a live Redress server on a temporary SQLite file, and Chromium pages.

`live_server` is the base URL (a str) of an app with the models in bpmn/ and forms/
deployed (as `redress init` does) and the demo users of processes.complaints.demo (password
`DEMO_PASSWORD`); `live_server.app` and `live_server.runtime` reach behind the UI
when a test must play the customer or the clock. `browser_page` is a fresh
Playwright page (own cookies) in Debian's Chromium; `screenshot(page, name)` saves
artifacts/screenshots/<name>.png for review.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("REDRESS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class LiveServer(str):
    """The base URL, carrying the app and its runtime for tests that act outside the browser."""

    app = None
    runtime = None

    def url(self, path: str = "/") -> str:
        return self.rstrip("/") + path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(tmp_path, sqlite_shipped):
    from werkzeug.serving import make_server

    from processes.complaints.demo import DEMO_PASSWORD, DEMO_USERS
    from processes.engine.users import add_user
    from web import create_app

    shutil.copyfile(sqlite_shipped, tmp_path / "live.db")  # migrated and deployed once per session
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "live-test", "SERVER_NAME": None})
    app.instance_path = str(tmp_path / "instance")
    runtime = app.extensions["redress.runtime"]
    with app.extensions["redress.db"].write_session.begin() as s:
        for username, department, role, name in DEMO_USERS:
            add_user(s, username, department, role, DEMO_PASSWORD, display_name=name)
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    base = LiveServer(f"http://127.0.0.1:{port}")
    base.app, base.runtime = app, runtime
    yield base
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["redress.db"].dispose()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        reason = f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("REDRESS_REQUIRE_BROWSER") or os.environ.get("CI"):  # CI never skips silently
            pytest.fail(reason + " and REDRESS_REQUIRE_BROWSER or CI is set")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A page in a fresh browser context (no cookies), Chinese first like our users' browsers."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def new_page(chromium):
    """More pages, each with its own cookies (two people at once)."""
    contexts = []

    def make(locale: str = "zh-CN"):
        context = chromium.new_context(locale=locale, viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, base: str, username: str, password: str | None = None) -> None:
    from processes.complaints.demo import DEMO_PASSWORD

    page.goto(base.rstrip("/") + "/login")
    page.fill("#username", username)
    page.fill("#password", password or DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def logout(page) -> None:
    page.click("nav form[action$='/logout'] button")
    page.wait_for_url(lambda url: "/login" in url)
