# ruff: noqa: F811 - pytest passes the imported fixtures as arguments of the same name
"""The process heatmap, KPI targets and alerts, the regulatory return, the archive review and the
Excel export, on the nine complaints of tests/test_analytics.py (seeded through the real process
on a test clock), used through their pages as a manager or supervisor would."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from processes.channels import kpi_alerts
from processes.channels.portal_models import OutboundMessage
from processes.complaints.analytics import Filters
from processes.complaints.analytics_charts import CHARTS
from processes.complaints.analytics_heatmap import heatmap
from processes.complaints.analytics_models import ArchiveReview, KpiTarget
from processes.complaints.records import Notification
from processes.engine.models import AuditEntry, HumanTask, User
from processes.engine.worker import PeriodicJob, Worker
from tests.test_analytics import MARCH
from tests.test_analytics_web import MARCH_ARGS, PASSWORD, api, app, login  # noqa: F401 - fixtures

# 2025-04-01 00:00 in Shanghai: the end of March for waits still open.
END_OF_MARCH = datetime(2025, 3, 31, 16, 0, tzinfo=UTC)


@pytest.fixture
def people(make_user, app):
    made = {name: make_user(name, dept, role, PASSWORD)[1] for name, dept, role in
            [("boss", "management", "manager"), ("lead", "customer_service", "supervisor"),
             ("agent", "customer_service", "agent")]}
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(User).where(User.username == "boss").values(email="boss@example.com"))
    return made


def test_heatmap_counts_and_waits_per_task_against_the_seeded_process(app):
    with app.extensions["redress.db"].session() as s:
        figures = heatmap(s, MARCH, Filters(), now=END_OF_MARCH)
    by = {e["element"]: e for e in figures["elements"]}
    # Investigating at the product department: C-1 11 days (15,840 min); C-4 (since 03-10 09:00) and
    # C-8 (since 03-23 09:00) still waiting at the end of March: 30,659 and 11,939 minutes.
    product = by["Task_Investigate_Product"]
    assert (product["count"], product["open"], product["done"]) == (3, 2, 1)
    assert (product["median_minutes"], product["p90_minutes"]) == (15840, 30659)
    assert product["wait_minutes"] == 15840 + 30659 + 11939
    # The only bottleneck: the others hold far less than a tenth of the waiting.
    assert figures["bottlenecks"] == ["Task_Investigate_Product"] and product["bottleneck"]
    assert not by["Task_Register"]["bottleneck"]
    # Classification: eight complaints came in, C-5 never reached it; all done at once.
    assert (by["Task_Classify"]["count"], by["Task_Classify"]["open"]) == (7, 0)
    # C-6 waited two hours to be registered by phone; C-7's rehandling took an hour.
    assert by["Task_Register"]["median_minutes"] == 120 and by["Task_Senior_Rehandle"]["p90_minutes"] == 60
    # Paths: after classification, three went to after-sales (C-2, C-3, C-7), three to product (C-1, C-4, C-8).
    paths = {(p["from"], p["to"]): p["count"] for p in figures["paths"]}
    assert paths[("Task_Classify", "Task_Investigate_After_Sales")] == 3
    assert paths[("Task_Classify", "Task_Investigate_Product")] == 3
    lanes = {lane["lane"]: lane for lane in figures["lanes"]}
    assert lanes["product"]["count"] == 3 and lanes["after_sales"]["count"] == 3
    assert round(sum(e["share"] for e in figures["elements"]), 3) == 1.0
    # Filters: the after-sales department's complaints only (C-2, C-3, C-7).
    with app.extensions["redress.db"].session() as s:
        after_sales = heatmap(s, MARCH, Filters(department="after_sales"), now=END_OF_MARCH)
        assert {e["element"] for e in after_sales["elements"]} == {"Task_Investigate_After_Sales"}
        gold = heatmap(s, MARCH, Filters(tier="gold"), now=END_OF_MARCH)  # a filter read from the fact row
        assert 0 < gold["tasks"] < figures["tasks"]


def test_an_outlier_is_a_task_far_slower_than_its_peers(app):
    db = app.extensions["redress.db"]
    with db.write_session.begin() as s:
        model = s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_Classify")).first()
        start = datetime(2025, 3, 20, 1, 0, tzinfo=UTC)
        for n, minutes in enumerate((10, 12, 11, 2 * 1440)):
            s.add(HumanTask(id=f"extra-{n}", instance_id=model.instance_id, business_key=f"X-{n}",
                            process_key="complaint_handling", bpmn_id="Task_Check", name="核对", lane="product",
                            status="completed", created_at=start, completed_at=start + timedelta(minutes=minutes)))
    with db.session() as s:
        figures = heatmap(s, MARCH, Filters(), now=END_OF_MARCH)
    assert [(o["reference"], o["wait_minutes"]) for o in figures["outliers"] if o["element"] == "Task_Check"] == [
        ("X-3", 2880)]


def test_heatmap_page_and_api_show_the_same_figures_to_managers_only(app, client, people):
    body = api(client, people["boss"], "heatmap?" + MARCH_ARGS).get_json()
    assert body["bottlenecks"][0] == "Task_Investigate_Product"
    assert api(client, people["agent"], "heatmap?" + MARCH_ARGS).status_code == 403
    login(client, "boss", "zh_CN")
    page = client.get("/dashboard/heatmap?" + MARCH_ARGS).get_data(as_text=True)
    assert "流程热力图" in page and "瓶颈" in page
    row = re.search(r'data-element="Task_Investigate_Product" class="table-warning">(.*?)</tr>', page, re.DOTALL)
    assert row and [c.strip() for c in re.findall(r'<td class="text-end">([^<]*)</td>', row.group(1))][:2] == ["3", "2"]
    data = client.get("/dashboard/heatmap.json?" + MARCH_ARGS).get_json()
    assert "Task_Investigate_Product" in data["xml"] and data["tasks"] == body["tasks"]
    assert client.get("/dashboard/heatmap?from=2025-03-40").status_code == 400
    login(client, "agent", "zh_CN")
    assert client.get("/dashboard/heatmap").status_code == 403


def test_a_manager_sets_a_target_and_its_owner_is_told_once_when_it_is_missed(app, client, people):
    db = app.extensions["redress.db"]
    login(client, "boss", "zh_CN")
    page = client.get("/dashboard/targets").get_data(as_text=True)
    assert 'name="kpi"' in page and 'name="target"' in page
    # Bad input: named, and what was typed is kept.
    bad = client.post("/dashboard/targets", data={"kpi": "sla_compliance", "target": "150", "days": "30",
                                                   "owner": "boss"})
    assert bad.status_code == 400 and 'value="150"' in bad.get_data(as_text=True)
    assert "请输入" in bad.get_data(as_text=True)
    assert client.post("/dashboard/targets", data={"kpi": "sla_compliance", "direction": "", "target": "95",
                                                    "days": "30", "owner": "boss"}).status_code == 302
    client.post("/dashboard/targets", data={"kpi": "reopen_rate", "target": "50", "days": "30", "owner": "boss"})
    # The worker's job, on 2025-04-01 01:00 in Shanghai: the 30 days up to then hold March's
    # resolutions: SLA compliance 80 % (4 of 5) misses ≥ 95 %; reopen rate 20 % meets ≤ 50 %.
    when = datetime(2025, 3, 31, 17, 0, tzinfo=UTC)
    assert kpi_alerts.check_targets(db, now=when) == 1
    with db.session() as s:
        notes = s.scalars(select(Notification).where(Notification.recipient == "boss")).all()
        assert [n.template for n in notes] == ["kpi_target_missed"]
        assert "SLA 达标率" in notes[0].subject and "80.0 %" in notes[0].body and "95.0 %" in notes[0].body
        mail = s.scalars(select(OutboundMessage).where(OutboundMessage.to_address == "boss@example.com")).all()
        assert len(mail) == 1 and mail[0].notification_id == notes[0].id
        states = {t.kpi: t.state for t in s.scalars(select(KpiTarget))}
        assert states == {"sla_compliance": "missed", "reopen_rate": "met"}
    # Checked again: still missed, nobody is told twice.
    assert kpi_alerts.check_targets(db, now=when + timedelta(hours=1)) == 0
    page = client.get("/dashboard/targets").get_data(as_text=True)
    assert "未达标" in page and "80.0 %" in page
    # Removed: no longer checked nor shown.
    with db.session() as s:
        reopen = s.scalar(select(KpiTarget.id).where(KpiTarget.kpi == "reopen_rate"))
    assert client.post(f"/dashboard/targets/{reopen}/remove").status_code == 302
    assert f'data-target="{reopen}"' not in client.get("/dashboard/targets").get_data(as_text=True)
    # A supervisor sees the targets but may not set them.
    login(client, "lead", "zh_CN")
    assert client.get("/dashboard/targets").status_code == 200
    assert client.post("/dashboard/targets", data={"kpi": "csat", "target": "85", "owner": "lead"}).status_code == 403


def test_the_worker_runs_its_periodic_jobs_at_their_interval_and_survives_a_failing_one(app):
    ran = []

    def broken():
        raise RuntimeError("boom")

    worker = Worker(app.extensions["redress.runtime"], jobs=[PeriodicJob("a", 60, lambda: ran.append("a")),
                                                              PeriodicJob("b", 60, broken)])
    assert worker.run_due_jobs(now=1000.0) == ["a"]
    assert worker.run_due_jobs(now=1030.0) == [] and ran == ["a"]
    assert worker.run_due_jobs(now=1061.0) == ["a"]


def test_the_composition_root_gives_the_worker_the_target_check_and_the_digest(app, people):
    from processes.app import periodic_jobs

    runtime = app.extensions["redress.runtime"]
    jobs = {job.name: job for job in periodic_jobs(runtime)}
    assert set(jobs) == {"kpi_targets", "weekly_digest"} and jobs["kpi_targets"].every_seconds == 3600
    with runtime.db.write_session.begin() as s:  # open now past the limit: C-4 and C-8
        s.add(KpiTarget(kpi="breached_open", direction="at_most", target=0, days=30, owner="boss", active=True,
                        state="unknown", created_by="boss", created_at=datetime.now(UTC)))
    Worker(runtime, jobs=list(jobs.values())).run_due_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(KpiTarget.state)) == "missed"
        assert s.scalars(select(Notification.template).where(Notification.recipient == "boss")).all() == [
            "kpi_target_missed"]


def test_weekly_digest_goes_to_managers_once_on_monday(app, people):
    db = app.extensions["redress.db"]
    monday = datetime(2025, 3, 17, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert kpi_alerts.weekly_digest(db, now=monday - timedelta(days=1)) == 0  # Sunday
    assert kpi_alerts.weekly_digest(db, now=monday) == 1
    assert kpi_alerts.weekly_digest(db, now=monday + timedelta(hours=2)) == 0
    with db.session() as s:
        mail = s.scalars(select(OutboundMessage).where(OutboundMessage.template == "kpi_weekly_digest")).one()
        # 2025-03-10 to 03-16: C-4, C-5, C-6, C-7 came in.
        assert "2025-03-10" in mail.subject and "受理 / Received: 4" in mail.body


def test_regulatory_return_page_exports_and_audit_agree(app, client, people):
    login(client, "boss", "zh_CN")
    page = client.get("/dashboard/returns?from=2025-03-01&to=2025-03-31").get_data(as_text=True)
    total = re.search(r'class="fw-semibold return-total">(.*?)</tr>', page, re.DOTALL).group(1)
    figures = [c.strip() for c in re.findall(r'<td class="text-end">([^<]*)</td>', total)]
    # received 8, closed 6, closed within the limit 4 (C-1 late, C-5 closed incomplete), upheld 5,
    # open at the end 2 (C-4, C-8), paid 50.00 (C-2's coupon).
    assert figures == ["8", "6", "4", "5", "2", "50.00"]
    exported = list(csv.reader(io.StringIO(client.get(
        "/dashboard/returns/export.csv?from=2025-03-01&to=2025-03-31").get_data(as_text=True).lstrip("\ufeff"))))
    assert exported[0][0] == "产品或服务" and exported[-1][2:] == figures
    book = load_workbook(io.BytesIO(client.get("/dashboard/returns/export.xlsx?from=2025-03-01&to=2025-03-31").data))
    last = [c.value for c in list(book.active.iter_rows())[-1]]
    assert last[2:7] == [8, 6, 4, 5, 2] and last[7] == 50
    with app.extensions["redress.db"].session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "regulatory_return_exported")).all()
        assert [e.detail["format"] for e in entries] == ["csv", "xlsx"]
        assert entries[0].detail["sha256"] == entries[1].detail["sha256"] and entries[0].actor == "boss"
        assert entries[0].detail["total"] == [8, 6, 4, 5, 2, "50.00"]
    login(client, "agent", "zh_CN")
    assert client.get("/dashboard/returns").status_code == 403
    assert client.get("/dashboard/returns/export.csv").status_code == 403


def test_archive_review_lists_the_month_and_keeps_one_note_per_complaint(app, client, people):
    login(client, "lead", "zh_CN")
    page = client.get("/dashboard/review?cycle=2025-03").get_data(as_text=True)
    listed = dict(re.findall(r'data-reference="([^"]+)" data-reason="([^"]+)"', page))
    # Closed in March: C-1, C-2, C-3, C-5, C-6, C-7; C-3 was reopened; every department has ≤ 3.
    assert listed == {"C-1": "sample", "C-2": "sample", "C-3": "reopened", "C-5": "sample", "C-6": "sample",
                      "C-7": "sample"}
    # A concern needs a note: the error is shown beside it and the choice is kept.
    bad = client.post("/dashboard/review/2025-03/C-3", data={"verdict": "concern", "note": ""})
    assert bad.status_code == 400 and "请说明" in bad.get_data(as_text=True)
    assert re.search(r'<option value="concern" selected>', bad.get_data(as_text=True))
    assert client.post("/dashboard/review/2025-03/C-3", data={"verdict": "concern",
                                                              "note": "回访不满意后重开，复核答复口径"}).status_code == 302
    again = client.post("/dashboard/review/2025-03/C-3", data={"verdict": "ok", "note": ""})
    assert again.status_code == 409
    assert client.post("/dashboard/review/2025-03/C-4", data={"verdict": "ok"}).status_code == 400  # still open
    assert client.post("/dashboard/review/2025-03/C-1", data={"verdict": "ok", "note": "x" * 2001}).status_code == 400
    page = client.get("/dashboard/review?cycle=2025-03").get_data(as_text=True)
    assert "复核答复口径" in page and "已复核：1 / 6" in page
    with app.extensions["redress.db"].session() as s:
        assert [(r.business_key, r.verdict, r.reviewer) for r in s.scalars(select(ArchiveReview))] == [
            ("C-3", "concern", "lead")]
        assert s.scalars(select(AuditEntry.business_key).where(AuditEntry.action == "archive_reviewed")).all() == ["C-3"]
    login(client, "agent", "zh_CN")
    assert client.get("/dashboard/review").status_code == 403
    assert client.post("/dashboard/review/2025-03/C-1", data={"verdict": "ok"}).status_code == 403


def test_every_chart_exports_to_excel_with_the_csv_figures(app, client, people):
    login(client, "boss", "en")
    for chart in (*CHARTS, "kpis"):
        response = client.get(f"/dashboard/export/{chart}.xlsx?{MARCH_ARGS}")
        assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
        rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(response.data)).active.iter_rows()]
        exported = list(csv.reader(io.StringIO(client.get(
            f"/dashboard/export/{chart}.csv?{MARCH_ARGS}").get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[0] == exported[0], chart

        for x, y in zip(rows[1:], exported[1:], strict=True):
            for a, b in zip(x, y, strict=True):
                shown = "" if a is None else str(a)
                assert shown == b or (isinstance(a, (int, float)) and float(a) == float(b)), (chart, a, b)
