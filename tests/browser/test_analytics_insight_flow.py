"""A manager opens the process heatmap in Chinese, sets a KPI target and sees it missed, exports
the regulatory return to Excel, and a supervisor records an archive review note; screenshots of
the new pages in both languages at 1366 and 390 px."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import login, logout, screenshot
from tests.test_analytics import seed

pytestmark = pytest.mark.browser
MARCH = "from=2025-03-01&to=2025-03-31"


def _both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1366, "height": 900})


def _english(page) -> None:
    page.select_option("#locale-select", "en")
    page.click("nav form[action$='/language'] button")
    page.wait_for_load_state()


def test_manager_reads_the_heatmap_sets_a_target_exports_the_return(live_server, browser_page):
    seed(live_server.runtime, live_server.app.extensions["redress.db"])
    page = browser_page
    login(page, live_server, "manager")
    page.goto(live_server.url(f"/dashboard/?{MARCH}"))
    page.click("nav.analytics-more a[href*='/dashboard/heatmap']")
    page.wait_for_selector("#heatmap-diagram[data-ready=true]")
    coloured = page.get_attribute("#heatmap-diagram", "data-coloured").split()
    assert "Task_Investigate_Product" in coloured and "Task_Classify" in coloured
    # The bottleneck is outlined on the diagram and flagged in the table.
    assert page.locator("g.djs-element.rd-bottleneck[data-element-id=Task_Investigate_Product]").count() == 1
    assert "瓶颈" in page.locator("tr[data-element=Task_Investigate_Product]").inner_text()
    _both_widths(page, "analytics-heatmap-zh")

    # A target through the form: no open complaint past its limit (C-4 and C-8 are), checked now.
    page.goto(live_server.url("/dashboard/targets"))
    page.select_option("#t-kpi", "breached_open")
    page.fill("#t-target", "0")
    page.click("form[action$='/dashboard/targets'] button[type=submit]")
    page.click("form[action$='/targets/check'] button")
    page.wait_for_selector("tr[data-state=missed]")
    _both_widths(page, "analytics-targets-zh")
    page.goto(live_server.url("/notifications"))
    assert "指标未达标" in page.content()

    # The regulatory return, printable, exported to Excel.
    page.goto(live_server.url(f"/dashboard/returns?{MARCH}"))
    assert page.locator("tr.return-total td.text-end").first.inner_text() == "8"
    _both_widths(page, "analytics-return-zh")
    with page.expect_download() as download:
        page.click("a.return-export-xlsx")
    assert download.value.suggested_filename == "complaints-return-2025-03-01-2025-03-31.xlsx"
    rows = list(load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active.iter_rows(values_only=True))
    assert rows[0][0] == "产品或服务" and rows[-1][2] == 8

    # The same pages in English.
    page.goto(live_server.url(f"/dashboard/heatmap?{MARCH}"))
    _english(page)
    page.wait_for_selector("#heatmap-diagram[data-ready=true]")
    assert "Process heatmap" in page.content() and "Bottleneck" in page.content()
    assert "调查处理" not in page.locator("table.heatmap-elements").inner_text()  # task names in English too
    _both_widths(page, "analytics-heatmap-en")
    page.goto(live_server.url("/dashboard/targets"))
    _both_widths(page, "analytics-targets-en")
    page.goto(live_server.url(f"/dashboard/returns?{MARCH}"))
    _both_widths(page, "analytics-return-en")
    logout(page)


def test_supervisor_records_an_archive_review_note(live_server, browser_page):
    seed(live_server.runtime, live_server.app.extensions["redress.db"])
    page = browser_page
    login(page, live_server, "cs_lead")
    page.goto(live_server.url("/dashboard/review?cycle=2025-03"))
    item = page.locator("section.review-item[data-reference=C-3]")
    assert item.get_attribute("data-reason") == "reopened"
    item.locator("select[name=verdict]").select_option("concern")
    item.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "请说明疑虑所在" in page.locator("section.review-item[data-reference=C-3]").inner_text()
    item = page.locator("section.review-item[data-reference=C-3]")
    item.locator("textarea[name=note]").fill("重开后答复口径需要统一")
    item.locator("button[type=submit]").click()
    page.wait_for_selector("section.review-item[data-reference=C-3] .review-done")
    _both_widths(page, "analytics-review-zh")
    _english(page)
    assert "Archive review" in page.content()
    _both_widths(page, "analytics-review-en")
