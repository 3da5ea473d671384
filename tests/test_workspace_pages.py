"""The staff workspace's pages through the Flask test client, on the real complaint process."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from processes.complaints.registration import register
from processes.engine.models import HumanTask
from tests.conftest import needs_shipped_model

PASSWORD = "pw-12345678"
PHONE_COMPLAINT = {
    "channel": "phone", "customer": {"name": "张伟", "phone": "13800138001", "email": "zhangwei@example.com"},
    "subject": "电水壶底座漏电", "description": "使用三天后底座漏电。", "remedy_sought": "退货",
    "product": "电水壶 K200",
}
WEB_COMPLAINT = {
    "channel": "web", "customer": {"name": "李娜", "phone": "13900139002"}, "subject": "快递延误一周",
    "description": "下单后一周仍未发货。", "remedy_sought": "尽快发货", "category": "logistics_delivery",
    "severity": "medium",
}


@pytest.fixture
@needs_shipped_model
def app(database_url, tmp_path):
    """The app with the complaint process from bpmn/ and forms/ and its default settings."""
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False})
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def people(make_user):
    for username, department, role in [("agent", "customer_service", "agent"), ("lead", "customer_service", "supervisor"),
                                       ("product", "product", "department_staff"),
                                       ("product2", "product", "department_staff"),
                                       ("tech", "technical", "department_staff"),
                                       ("designer", "management", "process_designer")]:
        make_user(username, department, role, PASSWORD)


def login(client, username, locale="zh_CN"):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data
    client.post("/language", data={"locale": locale})


def open_task(app, reference, bpmn_id=None) -> HumanTask:
    with app.extensions["redress.db"].session() as s:
        query = select(HumanTask).where(HumanTask.business_key == reference, HumanTask.status == "open")
        if bpmn_id:
            query = query.where(HumanTask.bpmn_id == bpmn_id)
        return s.scalars(query).first()


def to_investigation(app, client) -> tuple[str, HumanTask]:
    """A web complaint classified by customer service: it waits in the product department."""
    runtime = app.extensions["redress.runtime"]
    reference = register(runtime, {**WEB_COMPLAINT, "category": "product_quality"})
    classify = open_task(app, reference, "Task_Classify")
    login(client, "agent")
    response = client.post(f"/tasks/{classify.id}", data={"action": "complete", "category": "product_quality",
                                                          "severity": "medium", "legitimacy": "justified"})
    assert response.status_code == 302, response.data.decode()
    return reference, open_task(app, reference, "Task_Investigate_Product")


def text(response) -> str:
    return response.get_data(as_text=True)


# -- logging in ---------------------------------------------------------------------


def test_login_logout_and_pages_need_a_session(client, people):
    assert client.get("/").status_code == 302
    bad = client.post("/login", data={"username": "agent", "password": "wrong"})
    assert bad.status_code == 401 and "用户名或密码错误" in text(bad)
    good = client.post("/login", data={"username": "agent", "password": PASSWORD})
    assert good.status_code == 302
    cookie = good.headers.get("Set-Cookie", "")
    assert "Expires=" in cookie and "HttpOnly" in cookie  # the session expires
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_forms_need_the_csrf_token(database_url, tmp_path, make_user, people):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t"})
    app.instance_path = str(tmp_path / "csrf")
    client = app.test_client()
    response = client.post("/login", data={"username": "agent", "password": PASSWORD})
    assert response.status_code == 400 and "表单已过期" in text(response)
    page = text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    response = client.post("/login", data={"username": "agent", "password": PASSWORD,
                                            "csrf_token": token.group(1)})
    assert response.status_code == 302
    inbox = text(client.get("/?scope=group"))
    assert 'name="csrf_token"' in inbox
    app.extensions["redress.db"].dispose()


# -- the inbox ----------------------------------------------------------------------


def test_inbox_claim_with_one_post_and_sla_colours(app, client, people):
    runtime = app.extensions["redress.runtime"]
    reference = register(runtime, PHONE_COMPLAINT)
    task = open_task(app, reference)
    login(client, "agent")
    group = text(client.get("/?scope=group"))
    assert reference in group and "登记投诉" in group and "领取" in group
    assert reference not in text(client.get("/?scope=mine"))
    response = client.post(f"/tasks/{task.id}/claim", data={"next": "/?scope=mine"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/?scope=mine")
    mine = text(client.get("/?scope=mine"))
    assert reference in mine
    assert reference not in text(client.get("/?scope=group"))

    with app.extensions["redress.db"].write_session.begin() as s:
        now = datetime.now(UTC)
        s.execute(update(HumanTask).where(HumanTask.id == task.id)
                  .values(created_at=now - timedelta(hours=5), due_at=now - timedelta(hours=1)))
    login(client, "lead")
    breached = text(client.get("/?scope=all&sla=breached"))
    assert reference in breached and "sla-row-breached" in breached and "已超时" in breached
    assert reference not in text(client.get("/?scope=all&sla=on_time"))


def test_inbox_in_english_uses_bpmn_english_names(app, client, people):
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    login(client, "agent", "en")
    page = text(client.get("/?scope=group"))
    assert reference in page and "Register complaint" in page and "Claim" in page and "登记投诉" not in page


# -- the task page ------------------------------------------------------------------


def test_task_form_keeps_input_and_shows_errors_next_to_fields(app, client, people):
    reference, task = to_investigation(app, client)
    login(client, "product")
    page = text(client.get(f"/tasks/{task.id}"))
    assert "调查事实" in page and 'type="radio"' in page and "f-warranty_status" in page
    assert "139****9002" in page and "13900139002" not in page  # masked outside customer service

    response = client.post(f"/tasks/{task.id}", data={"action": "complete", "findings": "电容损坏",
                                                     "order_value": "abc", "responsibility": "company"})
    page = text(response)
    assert response.status_code == 422
    assert "电容损坏" in page  # what was typed is kept
    assert re.search(r'id="f-root_cause-error">此项为必填项。', page)
    assert re.search(r'id="f-order_value-error">请输入数字', page)
    assert re.search(r'value="company" checked', page)
    assert open_task(app, reference, "Task_Investigate_Product") is not None  # nothing moved on

    login(client, "product", "en")
    page = text(client.post(f"/tasks/{task.id}", data={"action": "complete", "findings": "x"}))
    assert "Root cause" in page and "This field is required." in page


def test_draft_then_complete_shows_what_happens_next(app, client, people):
    reference, task = to_investigation(app, client)
    login(client, "product")
    response = client.post(f"/tasks/{task.id}", data={"action": "draft", "findings": "草稿内容", "is_defect": "on"})
    assert response.status_code == 302
    page = text(client.get(f"/tasks/{task.id}"))
    assert "草稿内容" in page and re.search(r'name="is_defect" checked', page)

    response = client.post(f"/tasks/{task.id}", data={
        "action": "complete", "findings": "属实", "root_cause": "电容批次问题", "responsibility": "customer",
        "warranty_status": "out_of_warranty", "order_value": "2,999.50"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{task.id}/done")
    done = text(client.get(response.headers["Location"]))
    assert "接下来" in done and "主管确认策略" in done and "客服部" in done
    assert open_task(app, reference, "Task_Review_Strategy") is not None


def test_file_attachments_are_stored_and_listed(app, client, people):
    reference, task = to_investigation(app, client)
    login(client, "product")
    data = {"action": "draft", "findings": "见照片", "evidence": (io.BytesIO(b"jpeg"), "photo.jpg")}
    assert client.post(f"/tasks/{task.id}", data=data, content_type="multipart/form-data").status_code == 302
    page = text(client.get(f"/tasks/{task.id}"))
    stored = re.search(r'name="evidence__keep" value="([^"]+)"', page).group(1)
    assert stored.endswith("photo.jpg")
    complaint = text(client.get(f"/complaints/{reference}"))
    assert "photo.jpg" in complaint
    download = client.get(f"/complaints/{reference}/attachments/{stored}")
    assert download.status_code == 200 and download.data == b"jpeg"
    assert client.get(f"/complaints/{reference}/attachments/..%2Fsecret").status_code == 404


def test_another_department_gets_the_403_page(app, client, people):
    _reference, task = to_investigation(app, client)
    login(client, "tech")
    response = client.get(f"/tasks/{task.id}")
    assert response.status_code == 403 and "无权访问" in text(response) and "Traceback" not in text(response)
    assert client.post(f"/tasks/{task.id}/claim").status_code == 403
    assert client.post(f"/tasks/{task.id}", data={"action": "complete"}).status_code == 403


def test_reassign_notifies_the_colleague(app, client, people):
    _reference, task = to_investigation(app, client)
    login(client, "product")
    client.post(f"/tasks/{task.id}/claim")
    assert client.post(f"/tasks/{task.id}/reassign", data={"to": "product2"}).status_code == 302
    login(client, "product2")
    page = text(client.get("/notifications"))
    assert "分派给您的任务" in page and task.id in page
    note_id = re.search(r'/notifications/(\d+)/read', page).group(1)
    assert client.post(f"/notifications/{note_id}/read").status_code == 302
    assert f"/notifications/{note_id}/read" not in text(client.get("/notifications"))
    login(client, "tech")
    assert client.post(f"/notifications/{note_id}/read").status_code == 404


# -- the complaint file, search, intake ---------------------------------------------


def test_complaint_file_masks_personal_data_outside_customer_service(app, client, people):
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    login(client, "agent")
    page = text(client.get(f"/complaints/{reference}"))
    assert "13800138001" in page and "zhangwei@example.com" in page and "投诉流程已启动" in page
    login(client, "product")
    page = text(client.get(f"/complaints/{reference}"))
    assert "138****8001" in page and "z***@example.com" in page and "张*" in page
    assert "13800138001" not in page and "zhangwei@" not in page
    login(client, "designer")
    assert client.get(f"/complaints/{reference}").status_code == 403


def test_diagram_endpoint_marks_the_current_position_and_the_path(app, client, people):
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    login(client, "product")
    body = client.get(f"/complaints/{reference}/diagram.json").get_json()
    assert body["xml"].lstrip().startswith("<?xml") and 'id="complaint_handling"' in body["xml"]
    assert "Task_Register" in body["current"]
    assert "StartEvent_Complaint_Received" in body["done"] and "Task_Register" not in body["done"]


def test_search_by_reference_phone_name_and_words(app, client, people):
    runtime = app.extensions["redress.runtime"]
    first = register(runtime, PHONE_COMPLAINT)
    second = register(runtime, WEB_COMPLAINT)
    login(client, "agent")
    assert client.get(f"/complaints/?q={first.lower()}").headers["Location"].endswith(f"/complaints/{first}")
    by_phone = text(client.get("/complaints/?q=139 0013 9002"))
    assert second in by_phone and first not in by_phone
    assert first in text(client.get("/complaints/?q=张伟"))
    assert second in text(client.get("/complaints/?q=发货")) and first not in text(client.get("/complaints/?q=发货"))
    assert "找到 0 条投诉" in text(client.get("/complaints/?q=nothing-like-this"))


def test_phone_intake_keeps_input_warns_of_duplicates_and_registers(app, client, people):
    runtime = app.extensions["redress.runtime"]
    earlier = register(runtime, PHONE_COMPLAINT)
    login(client, "agent")
    assert "电话登记" in text(client.get("/"))
    form = {"channel": "phone", "customer_name": "张伟", "customer_phone": "138 0013 8001", "subject": "",
            "description": "又漏电了", "order_value": "十块"}
    response = client.post("/complaints/new", data=form)
    page = text(response)
    assert response.status_code == 422 and "又漏电了" in page and "十块" in page
    assert re.search(r'id="in-subject-error">此项为必填项。', page)
    assert re.search(r'id="in-order_value-error">请输入数字', page)
    assert earlier in page  # the server-side duplicate warning, without JavaScript

    form.update(subject="底座再次漏电", order_value="299")
    response = client.post("/complaints/new", data=form)
    assert response.status_code == 422 and "in-duplicates_checked-error" in text(response)
    response = client.post("/complaints/new", data={**form, "duplicates_checked": "on"})
    assert response.status_code == 302
    reference = re.search(r"TS-\d{8}-\w{5}", response.headers["Location"]).group(0)
    # The intake form is the registration: no second Register complaint task (issue 12).
    assert reference != earlier and open_task(app, reference, "Task_Register") is None

    warning = text(client.get("/complaints/duplicates?customer_phone=13800138001"))
    assert earlier in warning and reference in warning
    assert text(client.get("/complaints/duplicates?customer_phone=13700000000")).strip() == ""
    login(client, "product")
    assert client.get("/complaints/new").status_code == 403


def test_notifications_list_sla_warnings_for_my_tasks(app, client, people):
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    task = open_task(app, reference)
    login(client, "agent")
    client.post(f"/tasks/{task.id}/claim")
    now = datetime.now(UTC)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == task.id)
                  .values(created_at=now - timedelta(hours=9), due_at=now + timedelta(minutes=30)))
    page = text(client.get("/notifications"))
    assert "即将超时" in page and reference in page
    login(client, "product")
    assert reference not in text(client.get("/notifications"))
    login(client, "lead")  # a supervisor watches the deadlines of everything they oversee
    page = text(client.get("/notifications"))
    assert "我负责督办" in page and reference in page


# -- the form renderer --------------------------------------------------------------

ALL_WIDGETS = {
    "type": "object",
    "required": ["title", "count"],
    "x-ui": {"title": {"zh-CN": "样例", "en": "Sample"}, "order": ["count", "title"]},
    "properties": {
        "title": {"type": "string", "x-ui": {"label": {"zh-CN": "标题", "en": "Title"}}},
        "note": {"type": "string", "x-ui": {"widget": "textarea"}},
        "count": {"type": "integer", "minimum": 1, "maximum": 9},
        "amount": {"type": "number", "x-ui": {"widget": "money"}},
        "day": {"type": "string", "format": "date"},
        "kind": {"enum": ["a", "b"], "x-ui": {"enum_labels": {"a": {"zh-CN": "甲", "en": "A"}}}},
        "side": {"type": "string", "enum": ["l", "r"], "x-ui": {"widget": "radio"}},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"enum": ["x", "y", "z"]}},
        "files": {"type": "array", "items": {"type": "string"}},
    },
}


def test_form_renderer_reads_every_widget_and_keeps_raw_input(app):
    from werkzeug.datastructures import FileStorage, MultiDict

    from web.form_render import form_fields, form_title, read_submission

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        fields = form_fields(ALL_WIDGETS, {"count": 3.0, "ok": True, "tags": ["y"]}, {"title": "Required"})
        assert [f.name for f in fields][:2] == ["count", "title"]  # x-ui.order first
        widgets = {f.name: f.widget for f in fields}
        assert widgets == {"count": "number", "title": "text", "note": "textarea", "amount": "money", "day": "date",
                           "kind": "select", "side": "radio", "ok": "checkbox", "tags": "multiselect",
                           "files": "file"}
        by_name = {f.name: f for f in fields}
        assert by_name["count"].value == "3" and by_name["count"].step == "1" and by_name["count"].maximum == 9
        assert by_name["title"].label == "Title" and by_name["title"].error == "Required"
        assert by_name["kind"].options == [("a", "A"), ("b", "b")]
        assert by_name["ok"].value is True and by_name["tags"].value == ["y"]
        assert form_title(ALL_WIDGETS) == "Sample"

        form = MultiDict([("title", " Hi "), ("count", "x"), ("amount", "1,200.50"), ("day", "2026-02-30"),
                          ("kind", "a"), ("ok", "on"), ("tags", "x"), ("tags", "z"), ("files__keep", "old.pdf")])
        files = MultiDict([("files", FileStorage(filename="new.png"))])
        data, raw, errors = read_submission(ALL_WIDGETS, form, files, lambda f: "stored-" + f.filename)
        assert data == {"title": "Hi", "amount": 1200.5, "kind": "a", "ok": True, "tags": ["x", "z"],
                        "files": ["old.pdf", "stored-new.png"]}
        assert raw["count"] == "x" and raw["day"] == "2026-02-30"
        assert set(errors) == {"count", "day"}


def test_overview_counts_open_work_and_recent_complaints(app, client, people):
    runtime = app.extensions["redress.runtime"]
    register(runtime, PHONE_COMPLAINT)
    register(runtime, WEB_COMPLAINT)
    login(client, "lead")
    page = text(client.get("/dashboard/"))
    assert "各部门待办任务" in page
    row = re.search(r"<td>客服部</td><td class=\"text-end\">(\d+)</td><td class=\"text-end\">(\d+)</td>", page)
    assert row and row.groups() == ("2", "2")  # Task_Register and Task_Classify, both unclaimed
    # Today's complaints in the charts' tables (the default period is the last 30 days).
    assert re.search(r'data-chart="category">.*?<td>物流配送</td>\s*<td><a href="[^"]+">1</a>', page, re.DOTALL)
    assert re.search(r'data-chart="channel">.*?<td>电话</td>\s*<td><a href="[^"]+">1</a>', page, re.DOTALL)
    login(client, "agent")
    assert client.get("/dashboard/").status_code == 403


def test_password_guessing_is_throttled(app, client, make_user):
    make_user("cs9", "customer_service", "agent", password="right-password-1")
    for _ in range(5):
        assert client.post("/login", data={"username": "cs9", "password": "wrong"}).status_code == 401
    # Only failures count, and the answer is a short wait, not a lock-out (tests/test_login_throttle.py).
    blocked = client.post("/login", data={"username": "cs9", "password": "right-password-1"})
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "2"
