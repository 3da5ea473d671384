"""A manager reads the overview in Chinese: changes the period, follows a bar to the complaints
behind it, exports a chart's data; screenshots of the overview in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import login, screenshot
from tests.test_analytics import seed

pytestmark = pytest.mark.browser


def test_manager_reads_the_overview_and_follows_a_bar(live_server, browser_page):
    seed(live_server.runtime, live_server.app.extensions["redress.db"])
    page = browser_page
    login(page, live_server, "manager")
    page.goto(live_server.url("/dashboard/?from=2025-03-01&to=2025-03-14&interval=week"))
    assert page.locator("[data-kpi=received] .kpi-value").inner_text() == "7"  # C-1 to C-7
    # The period picker: the whole of March.
    page.fill("#f-to", "2025-03-31")
    page.click("form.analytics-filters button[type=submit]")
    page.wait_for_url(lambda url: "to=2025-03-31" in url)
    assert page.locator("[data-kpi=received] .kpi-value").inner_text() == "8"
    page.wait_for_selector("#chart-category svg path", state="attached")  # ECharts drew the stacked bars
    screenshot(page, "analytics-overview-zh")
    # Export a chart's data.
    with page.expect_download() as download:
        page.click("[data-chart-name=category] a.chart-export")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "时间段,类别,受理量"
    # A click on a bar of the backlog histogram opens the complaints behind it.
    chart = page.locator("#chart-backlog")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.evaluate("""() => {
      const chart = echarts.getInstanceByDom(document.getElementById('chart-backlog'));
      const [x, y] = chart.convertToPixel({seriesIndex: 0}, [3, 0.5]);
      window.__bar = {x, y};
    }""")
    bar = page.evaluate("window.__bar")
    page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    page.wait_for_url(lambda url: "/dashboard/complaints" in url and "metric=open" in url)
    assert page.locator(".drill-list tbody tr").count() == 1
    assert page.locator(".drill-list").inner_text().count("C-4") == 1
    # The same overview in English.
    page.goto(live_server.url("/dashboard/?from=2025-03-01&to=2025-03-31&interval=week"))
    page.select_option("#locale-select", "en")
    page.click("nav form[action$='/language'] button")
    page.wait_for_selector("#chart-trend svg path", state="attached")
    assert "Received by category" in page.content()
    screenshot(page, "analytics-overview-en")
