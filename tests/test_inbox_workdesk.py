"""The inbox as people use it, through its pages: order, count, filters in the URL, saved views,
bulk work, exports, the escalations view, the row refresh and each role's landing page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from processes.complaints.records import EscalationRecord
from processes.complaints.registration import register
from processes.engine.models import HumanTask, SavedView
from tests.conftest import needs_shipped_model
from tests.test_workspace_pages import PASSWORD, PHONE_COMPLAINT, WEB_COMPLAINT, login, text

SAFETY = {**PHONE_COMPLAINT, "subject": "电水壶底座漏电", "safety_issue": True}
LOW = {**WEB_COMPLAINT, "customer": {"name": "王芳", "phone": "13700137003"}, "subject": "包装有折痕",
       "severity": "low", "category": "other"}


@pytest.fixture
@needs_shipped_model
def app(database_url, tmp_path):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False})
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def people(app, make_user):
    for username, department, role in [("agent", "customer_service", "agent"), ("agent2", "customer_service", "agent"),
                                       ("lead", "customer_service", "supervisor"),
                                       ("product", "product", "department_staff"),
                                       ("boss", "management", "manager"),
                                       ("designer", "management", "process_designer"),
                                       ("reviewer", "management", "compliance_reviewer")]:
        make_user(username, department, role, PASSWORD)
    with app.extensions["redress.db"].write_session.begin() as s:
        from processes.engine.models import User

        s.execute(update(User).where(User.username == "agent2").values(display_name="王小二"))


def register_tasks(app) -> dict[str, str]:
    """Three complaints, registered in this order: a low one, a medium one, the safety one."""
    runtime = app.extensions["redress.runtime"]
    refs = {"low": register(runtime, LOW), "medium": register(runtime, WEB_COMPLAINT),
            "safety": register(runtime, SAFETY)}
    return refs


def references_in(page: str) -> list[str]:
    return re.findall(r'data-reference="([^"]+)"', page)


def open_tasks(app, reference=None) -> list[HumanTask]:
    with app.extensions["redress.db"].session() as s:
        query = select(HumanTask).where(HumanTask.status == "open")
        if reference:
            query = query.where(HumanTask.business_key == reference)
        return list(s.scalars(query.order_by(HumanTask.created_at)))


def test_urgency_first_then_any_column_with_the_count(app, client, people):
    refs = register_tasks(app)
    login(client, "lead")
    page = text(client.get("/?scope=all"))
    order = references_in(page)
    assert order[0] == refs["safety"]  # the safety complaint first, though registered last
    assert order.index(refs["medium"]) < order.index(refs["low"])
    total = len(open_tasks(app))
    assert f"{total} 项任务" in page
    by_reference = references_in(text(client.get("/?scope=all&sort=reference")))
    assert by_reference == sorted(by_reference) and len(by_reference) == total
    reverse = references_in(text(client.get("/?scope=all&sort=-reference")))
    assert reverse == sorted(by_reference, reverse=True)
    # The header links sort: the chosen column reverses on a second click and keeps the filters.
    filtered = text(client.get("/?scope=all&sort=reference&severity=medium"))
    assert re.search(r'href="/\?scope=all&amp;severity=medium&amp;sort=-reference"', filtered)
    assert 'aria-sort="ascending"' in filtered


def test_filters_combine_and_live_in_the_url(app, client, people):
    refs = register_tasks(app)
    safety_task = open_tasks(app, refs["safety"])[0]
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == safety_task.id)
                  .values(assignee="agent2", escalation_level=2))
    login(client, "lead")
    assert references_in(text(client.get("/?scope=all&assignee=agent2"))) == [refs["safety"]]
    assert refs["safety"] not in references_in(text(client.get("/?scope=all&status=unassigned")))
    assert references_in(text(client.get("/?scope=all&status=assigned"))) == [refs["safety"]]
    assert references_in(text(client.get("/?scope=all&level=2"))) == [refs["safety"]]
    assert references_in(text(client.get("/?scope=all&level=2&severity=low"))) == []
    assert references_in(text(client.get("/?scope=all&department=product"))) == []
    today = datetime.now(UTC).date()
    assert len(references_in(text(client.get(f"/?scope=all&from={today}&to={today}")))) == len(open_tasks(app))
    assert references_in(text(client.get(f"/?scope=all&to={today - timedelta(days=1)}"))) == []
    page = text(client.get("/?scope=all&assignee=agent2&level=2"))
    # The people column shows the display name; the filter form keeps the choices.
    assert "王小二" in page and 'value="agent2" selected' in page and 'value="2" selected' in page
    # Nonsense in the URL is no filter, never an error.
    assert client.get("/?scope=all&level=99&from=2026-13-45&sort=nope&status=x").status_code == 200


def test_saved_views_mine_and_shared_with_counts(app, client, people):
    register_tasks(app)
    login(client, "agent")
    response = client.post("/inbox/views", data={"name": "低级", "scope": "group", "severity": "low",
                                                 "shared": "1", "evil": "x"})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "只有主管可以与部门共享视图" in page  # an agent keeps views of their own only
    client.post("/inbox/views", data={"name": "低级", "scope": "group", "severity": "low"})
    page = text(client.get("/"))
    link = re.search(r'href="([^"]+)">低级\s*<span id="view-count-(\d+)"></span>', page)
    assert link and "severity=low" in link.group(1) and "scope=group" in link.group(1)
    # The counts come in the page's second request (htmx, once shown), each into its view's place.
    assert 'hx-get="/inbox/view-counts" hx-trigger="load"' in page
    counts = text(client.get("/inbox/view-counts"))
    assert re.search(rf'id="view-count-{link.group(2)}" hx-swap-oob="true" data-view-count>1<', counts)
    with app.extensions["redress.db"].session() as s:
        view = s.scalar(select(SavedView).where(SavedView.owner == "agent"))
        assert view.query == {"scope": "group", "severity": "low"} and view.department is None
    login(client, "lead")
    client.post("/inbox/views", data={"name": "全部紧急", "scope": "all", "severity": "critical", "shared": "1"})
    login(client, "agent2")
    page = text(client.get("/"))
    assert "全部紧急" in page and "低级" not in page
    shared_id = re.search(r'/inbox/views/(\d+)/delete', page)
    assert shared_id is None  # only its owner or a supervisor may delete it: no button
    with app.extensions["redress.db"].session() as s:
        view_id = s.scalar(select(SavedView.id).where(SavedView.name == "全部紧急"))
    client.post(f"/inbox/views/{view_id}/delete")
    with app.extensions["redress.db"].session() as s:
        assert s.get(SavedView, view_id) is not None
    # An empty name is refused with a message.
    page = text(client.get(client.post("/inbox/views", data={"name": "  "}).headers["Location"]))
    assert "请为视图命名" in page


def test_bulk_reassign_gives_a_result_per_task(app, client, people):
    refs = register_tasks(app)
    tasks = [open_tasks(app, refs[k])[0] for k in ("low", "medium", "safety")]
    login(client, "agent")
    assert client.post("/inbox/bulk", data={"action": "claim", "task": [tasks[0].id]}).status_code == 403
    client.post(f"/tasks/{tasks[2].id}/claim")  # someone else takes one meanwhile... and finishes it
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == tasks[2].id).values(status="completed"))
    login(client, "lead")
    page = text(client.get("/?scope=all"))
    assert 'class="form-check-input bulk-pick"' in page and 'id="bulk-form"' in page
    response = client.post("/inbox/bulk", data={"action": "reassign", "to": "agent2", "next": "/?scope=all",
                                                "task": [t.id for t in tasks]})
    page = text(response)
    assert response.status_code == 200 and "3 项中完成 2 项" in page
    assert len(re.findall(r'data-ok="yes"', page)) == 2 and len(re.findall(r'data-ok="no"', page)) == 1
    assert "王小二" in page
    with app.extensions["redress.db"].session() as s:
        assert {s.get(HumanTask, t.id).assignee for t in tasks[:2]} == {"agent2"}
    release = text(client.post("/inbox/bulk", data={"action": "release", "task": [tasks[0].id]}))
    assert "1 项中完成 1 项" in release
    with app.extensions["redress.db"].session() as s:
        assert s.get(HumanTask, tasks[0].id).assignee is None
    assert "请选择同事" in text(client.get(client.post("/inbox/bulk", data={
        "action": "reassign", "to": "nobody", "task": [tasks[0].id]}).headers["Location"]))


def test_export_is_the_current_view_in_csv_and_excel(app, client, people):
    from openpyxl import load_workbook

    refs = register_tasks(app)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.business_key == refs["low"])
                  .values(summary="=HYPERLINK(\"http://evil\")", assignee="agent2"))
    login(client, "lead")
    response = client.get("/inbox/export.csv?scope=all&sort=reference")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "截止时间（Asia/Shanghai (UTC+08:00)）"
    references = [r[6] for r in rows[1:]]
    assert references == sorted(references) and set(refs.values()) <= set(references)
    low = next(r for r in rows[1:] if r[6] == refs["low"])
    assert low[7].startswith("'=") and low[12] == "王小二" and low[8] == "其他"
    assert "13800138001" not in response.get_data(as_text=True)  # no contact data, as on the page
    only = client.get("/inbox/export.xlsx?scope=all&severity=critical")
    sheet = load_workbook(io.BytesIO(only.data)).active
    values = list(sheet.values)
    assert [v[6] for v in values[1:]] == [refs["safety"]]
    assert client.get("/inbox/export.pdf").status_code == 404
    login(client, "agent", "en")
    english = client.get("/inbox/export.csv?scope=group").get_data(as_text=True)
    assert english.lstrip("\ufeff").startswith("Due (Asia/Shanghai (UTC+08:00))")


def test_escalations_view_shows_level_time_reason_and_holder(app, client, people):
    refs = register_tasks(app)
    task = open_tasks(app, refs["medium"])[0]
    since = datetime.now(UTC) - timedelta(hours=30)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == task.id).values(escalation_level=3, assignee="agent2"))
        s.add(EscalationRecord(business_key=refs["medium"], at=since, level=3, reason="rejected"))
    login(client, "lead")
    page = text(client.get("/escalations"))
    assert "第 3 级" in page and refs["medium"] in page and "客户不接受答复" in page
    assert "1 天 6 小时" in page and "王小二" in page
    assert refs["low"] not in page
    login(client, "agent")
    assert client.get("/escalations").status_code == 403


def test_rows_refresh_returns_the_table_body_only(app, client, people):
    refs = register_tasks(app)
    login(client, "lead")
    page = text(client.get("/?scope=all&severity=critical"))
    assert 'hx-get="/inbox/rows?page=1&amp;scope=all&amp;severity=critical"' in page
    rows = text(client.get("/inbox/rows?page=1&scope=all&severity=critical"))
    assert rows.lstrip().startswith("<tbody") and "<html" not in rows
    assert references_in(rows) == [refs["safety"]]
    assert 'data-due="' in rows and 'data-created="' in rows
    # The count comes along, swapped in out of band: a task that arrives shows in the number too.
    assert re.search(r'id="inbox-total" aria-live="polite" hx-swap-oob="true">1 项任务<', rows)
    register(app.extensions["redress.runtime"], {**SAFETY, "customer": {"name": "周", "phone": "13300133000"}})
    again = text(client.get("/inbox/rows?page=1&scope=all&severity=critical"))
    assert len(references_in(again)) == 2 and ">2 项任务<" in again


@pytest.mark.parametrize(("username", "landing"), [
    ("designer", "/designer/"), ("reviewer", "/definitions/"), ("boss", "/dashboard/"), ("agent", "/"),
])
def test_each_role_lands_on_its_own_page(app, client, people, username, landing):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == landing
    if username == "designer":
        assert client.get("/").headers["Location"] == landing  # the inbox is no place for designers


def test_the_diagram_speaks_the_interface_language(app, client, people):
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    login(client, "agent", "en")
    english = client.get(f"/complaints/{reference}/diagram.json").get_json()["xml"]
    assert 'name="Register complaint"' in english and 'name="登记投诉"' not in english
    assert 'id="Task_Register"' in english  # ids and the rest of the model stay as they are
    login(client, "agent")
    chinese = client.get(f"/complaints/{reference}/diagram.json").get_json()["xml"]
    assert 'name="登记投诉"' in chinese


def test_people_by_display_name_the_system_named_and_one_time_zone(app, client, people):
    refs = register_tasks(app)
    task = open_tasks(app, refs["low"])[0]
    login(client, "agent2")
    client.post(f"/tasks/{task.id}/claim")
    page = text(client.get(f"/complaints/{refs['low']}"))
    assert "<strong>王小二</strong>" in page and "<strong>agent2</strong>" not in page
    assert "时间均为 Asia/Shanghai (UTC+08:00)" in page
    with app.test_request_context():
        from flask_babel import force_locale

        from web.workspace_i18n import label, person

        with force_locale("zh_CN"):
            assert person("customer-portal") == "客户（门户）" and person("system") == "系统"
            assert person("demo.product") == "演示用户 · 产品部"
            assert label("status", "awaiting_customer") == "等待客户回复"
