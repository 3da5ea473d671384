"""The inbox of a complaint desk in Chromium: a supervisor saves a view, sorts by priority and
finds the safety complaint first, reassigns two tasks in one action, watches a countdown tick and
turn red at the deadline (the page's clock moved by the test), and exports the view; the same
pages in English speak English, and the layout holds at 1366 px and on a 390 px phone."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from processes.complaints.registration import register
from processes.engine.models import HumanTask
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser

SAFETY = {"channel": "phone", "customer": {"name": "张伟", "phone": "13800138001"}, "subject": "电水壶底座漏电",
          "description": "使用三天后底座漏电。", "remedy_sought": "退货", "product": "电水壶 K200",
          "safety_issue": True}
OTHERS = [
    {"channel": "web", "customer": {"name": "李娜", "phone": "13900139002"}, "subject": "快递延误一周",
     "description": "下单后一周仍未发货。", "remedy_sought": "尽快发货", "category": "logistics_delivery",
     "severity": "medium"},
    {"channel": "email", "customer": {"name": "王芳", "phone": "13700137003"}, "subject": "包装有折痕",
     "description": "外包装有折痕。", "remedy_sought": "说明", "category": "other", "severity": "low"},
]
RAW_KEYS = re.compile(r"\b(customer_service|awaiting_customer|on_time|at_risk|Task_[A-Za-z_]+|Gateway_\w+|"
                      r"demo\.\w+|cs_lead)\b")


def _seed(live_server) -> dict[str, str]:
    runtime = live_server.runtime
    refs = {"low": register(runtime, OTHERS[1]), "medium": register(runtime, OTHERS[0])}
    refs["safety"] = register(runtime, SAFETY)  # registered last, yet it must come first
    return refs


def _first_reference(page) -> str:
    return page.locator("#inbox-rows tr").first.get_attribute("data-reference")


def test_supervisor_views_sorts_bulk_reassigns_watches_the_clock_and_exports(live_server, new_page):
    refs = _seed(live_server)
    page = new_page("zh-CN")
    login(page, live_server, "cs_lead")
    assert page.locator("h1").inner_text() == "待办"

    # A saved view of everything in the department, with its count in the views bar.
    page.goto(live_server.url("/?scope=all&sort=created"))
    assert _first_reference(page) != refs["safety"]
    page.fill("#view-name", "全部待办")
    page.check("#view-shared")
    page.click("text=保存为视图")
    page.wait_for_selector(".alert-success")
    view = page.locator(".saved-views a", has_text="全部待办")
    total = page.locator("#inbox-rows tr").count()
    assert view.locator("[data-view-count]").inner_text() == str(total)

    # Sorting by priority (the column header) puts the safety complaint first.
    page.click("#inbox-table thead a:has-text('优先级')")
    page.wait_for_url(re.compile(r"sort=priority|scope=all$|scope=all&"))
    assert _first_reference(page) == refs["safety"]
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("优先级")
    screenshot(page, "inbox-supervisor-zh-1366")

    # Two tasks reassigned to a colleague in one action, a result per task.
    low, medium = (page.locator(f"#inbox-rows tr[data-reference='{refs[k]}']") for k in ("low", "medium"))
    low.locator(".bulk-pick").check()
    medium.locator(".bulk-pick").check()
    page.select_option("#bulk-action", "reassign")
    page.select_option("#bulk-to", "agent")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#bulk-results")
    assert page.locator("#bulk-results tr[data-ok=yes]").count() == 2
    assert "王客服" in page.locator("h1").inner_text()
    screenshot(page, "inbox-bulk-result-zh")
    with live_server.app.extensions["redress.db"].session() as s:
        holders = set(s.scalars(select(HumanTask.assignee).where(
            HumanTask.business_key.in_([refs["low"], refs["medium"]]), HumanTask.status == "open")))
    assert holders == {"agent"}

    # A countdown that ticks, turns amber past 80 % and red at the deadline: the page's clock is
    # the test's, moved forward; the server's rows stay as they are.
    now = datetime.now(UTC).replace(microsecond=0)
    with live_server.app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.business_key == refs["safety"], HumanTask.status == "open")
                  .values(created_at=now - timedelta(minutes=20), due_at=now + timedelta(minutes=2)))
    page.clock.install(time=now)
    page.goto(live_server.url("/?scope=all"))
    clock = page.locator(f"#inbox-rows tr[data-reference='{refs['safety']}'] .countdown")
    row = page.locator(f"#inbox-rows tr[data-reference='{refs['safety']}']")
    page.clock.run_for(1000)
    first = clock.inner_text()
    assert re.search(r"剩余", first), first
    assert "sla-row-at_risk" in row.get_attribute("class")
    page.clock.run_for(5000)
    assert clock.inner_text() != first  # it ticks
    page.clock.run_for(2 * 60 * 1000)
    assert "超时" in clock.inner_text()
    assert "sla-row-breached" in row.get_attribute("class")
    assert row.locator("[data-sla-badge]").inner_text() == "已超时"
    # retried: the row refresh (htmx, every 20 s) may swap the row while it is read
    expect(row.locator(".countdown")).to_have_css("color", "rgb(176, 42, 55)")
    screenshot(page, "inbox-countdown-breached-zh")

    # The export is the current view, as Excel.
    page.goto(live_server.url("/?scope=all&severity=critical"))
    with page.expect_download() as download:
        page.click("text=导出 Excel")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = list(sheet.values)
    assert "Asia/Shanghai" in rows[0][0] and [r[6] for r in rows[1:]] == [refs["safety"]]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_inbox_reads_in_the_interface_language_and_fits_1366_and_a_phone(live_server, new_page, locale):
    _seed(live_server)
    page = new_page(locale)
    login(page, live_server, "cs_lead")
    page.goto(live_server.url("/?scope=all"))
    body = page.locator("main").inner_text()
    if locale == "en":
        assert "Register complaint" in body and "登记投诉" not in body
        assert "Customer service" in body and "Times in Asia/Shanghai" in body
    else:
        assert "登记投诉" in body and "时间均为 Asia/Shanghai" in body
    assert not RAW_KEYS.search(body), RAW_KEYS.search(body)
    # 1366 px: the navigation is one row and "Log out" does not break inside its button.
    nav = page.locator("nav.navbar").bounding_box()
    assert nav["height"] < 70, nav
    logout_button = page.locator("nav form[action$='/logout'] button").bounding_box()
    assert logout_button["height"] < 40, logout_button
    screenshot(page, f"inbox-{locale}-1366")
    # A 390 px phone: the navigation collapses and nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url("/?scope=all"))
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    screenshot(page, f"inbox-{locale}-390")
    assert width[0] <= width[1], (width, _too_wide(page))
    assert page.locator("nav .navbar-toggler").is_visible()
    screenshot(page, f"inbox-{locale}-390")
    page.goto(live_server.url("/escalations"))
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], (width, _too_wide(page))


def _too_wide(page) -> list[str]:
    """The outermost elements that reach past the window's right edge (what to fix)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(n => n.getBoundingClientRect().right > window.innerWidth + 1 && !n.closest('.table-responsive'))
        .slice(0, 8).map(n => n.tagName + '.' + n.className + ' ' + Math.round(n.getBoundingClientRect().right)
                         + ' in ' + n.parentElement.className + ' ' + getComputedStyle(n.parentElement).overflowX)""")
