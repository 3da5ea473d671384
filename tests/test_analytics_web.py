"""The dashboard page, its CSV exports and the analytics API give the same numbers, and only
the people who may see them get them."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from processes.complaints import analytics
from processes.complaints.analytics import Filters
from processes.complaints.analytics_charts import CHARTS
from processes.engine.definitions import read_files
from tests.conftest import ROOT
from tests.test_analytics import MARCH, seed

PASSWORD = "pw-12345678"
MARCH_ARGS = "from=2025-03-01&to=2025-03-31&interval=week"


def _web_app(url: str, tmp_path):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    app.instance_path = str(tmp_path / "instance")
    return app


@pytest.fixture
def app(snapshot_copy, tmp_path):
    """The app on the nine complaints, seeded through the app's own runtime once per session."""

    def build(url):
        app = _web_app(url, tmp_path)
        runtime = app.extensions["redress.runtime"]
        runtime.deploy(read_files(ROOT, "bpmn", "forms"))
        seed(runtime, app.extensions["redress.db"])
        app.extensions["redress.db"].dispose()

    app = _web_app(snapshot_copy("analytics-nine-web", build), tmp_path)
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def tokens(make_user):
    return {name: make_user(name, dept, role, PASSWORD)[1] for name, dept, role in
            [("boss", "management", "manager"), ("agent", "customer_service", "agent")]}


def login(client, username, locale):
    client.post("/logout")
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    client.post("/language", data={"locale": locale})


def api(client, token, path):
    return client.get("/api/v1/analytics/" + path, headers={"Authorization": f"Bearer {token}"})


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def cells(rows) -> list[list[str]]:
    return [["" if v is None else str(v) for v in row] for row in rows]


def test_api_page_and_export_give_the_same_numbers(app, client, tokens):
    with app.extensions["redress.db"].session() as s:
        expected = analytics.kpis(s, MARCH, Filters())
    body = api(client, tokens["boss"], "kpis?from=2025-03-01&to=2025-03-31").get_json()
    assert body["current"] == json.loads(json.dumps(expected["current"]))
    assert (body["current"]["received"], body["current"]["compensation_paid"], body["previous"]["received"]) == (
        8, "50.00", 1)

    login(client, "boss", "zh_CN")
    page = client.get("/dashboard/?" + MARCH_ARGS).get_data(as_text=True)
    tile = re.search(r'data-kpi="received".*?kpi-value">([^<]+)</div>\s*<div[^>]*>([^<]+)</div>', page, re.DOTALL)
    assert tile and tile.group(1).strip() == "8" and "1" in tile.group(2)
    paid = re.search(r'data-kpi="compensation_paid".*?kpi-value">([^<]+)<', page, re.DOTALL)
    assert paid.group(1).strip() == "50.00"
    rate = re.search(r'data-kpi="sla_compliance".*?kpi-value">([^<]+)<', page, re.DOTALL)
    assert rate.group(1).strip() == "80.0 %"

    export = read_csv(client.get("/dashboard/export/kpis.csv?" + MARCH_ARGS))
    by_key = {row[1]: row for row in export[1:]}
    assert by_key["received"][2:] == ["8", "1"] and by_key["compensation_paid"][2] == "50.00"
    assert export[0][0] == "指标"  # the header in the interface language

    for chart in CHARTS:
        from_api = api(client, tokens["boss"], f"{chart.replace('_', '-')}?{MARCH_ARGS}").get_json()
        embedded = json.loads(re.search(rf'id="chart-{chart}-data">(.*?)</script>', page, re.DOTALL).group(1))
        exported = read_csv(client.get(f"/dashboard/export/{chart}.csv?{MARCH_ARGS}"))
        assert from_api["rows"] == embedded["rows"], chart
        assert cells(from_api["rows"]) == exported[1:], chart
    trend = api(client, tokens["boss"], f"trend?{MARCH_ARGS}").get_json()
    assert sum(row[1] for row in trend["rows"]) == 8  # received, week by week


def test_every_tile_and_bar_leads_to_as_many_complaints(app, client, tokens):
    login(client, "boss", "en")
    page = client.get("/dashboard/?" + MARCH_ARGS).get_data(as_text=True)
    link = re.search(r'data-kpi="compensation_paid" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    listed = client.get(link).get_data(as_text=True)
    assert re.findall(r">(C-\d)</a>", listed) == ["C-2"]
    backlog = json.loads(re.search(r'id="chart-backlog-data">(.*?)</script>', page, re.DOTALL).group(1))
    for row, links in zip(backlog["rows"], backlog["links"], strict=True):
        listed = client.get(links["open"]).get_data(as_text=True)
        assert len(re.findall(r">(C-\d)</a>", listed)) == row[3]
    category = json.loads(re.search(r'id="chart-category-data">(.*?)</script>', page, re.DOTALL).group(1))
    product_quality = next(i for i, row in enumerate(category["rows"]) if row[1] == "product_quality")
    listed = client.get(category["links"][product_quality]["received"]).get_data(as_text=True)
    assert len(re.findall(r">(C-\d)</a>", listed)) == category["rows"][product_quality][2]


def test_only_managers_see_the_figures_and_bad_input_is_named(app, client, tokens):
    assert api(client, tokens["agent"], "kpis").status_code == 403
    assert api(client, tokens["agent"], "trend").status_code == 403
    bad = api(client, tokens["boss"], "kpis?from=2025-13-01")
    assert bad.status_code == 422 and "from" in bad.get_json()["errors"]
    assert api(client, tokens["boss"], "kpis?from=2025-03-31&to=2025-03-01").status_code == 422
    assert api(client, tokens["boss"], "nonsense").status_code == 404
    login(client, "agent", "zh_CN")
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/export/trend.csv").status_code == 403
    login(client, "boss", "zh_CN")
    page = client.get("/dashboard/?from=2025-02-30&to=2025-03-31")
    assert page.status_code == 400
    assert re.search(r'id="f-from-error">请输入', page.get_data(as_text=True))
    assert client.get("/dashboard/complaints?metric=nonsense").status_code == 400
    assert client.get("/dashboard/export/nonsense.csv").status_code == 404
