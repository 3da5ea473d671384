"""The audit viewer: compliance filters the log by complaint, person, action and period, verifies
the chain from the page (and sees a tampered entry), and exports what it filtered as CSV."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from processes.engine import audit
from processes.engine.models import AuditEntry

PW = "audit-pass-55120"


def _seed(app):
    with app.extensions["redress.db"].write_session.begin() as s:
        audit.append(s, "wang", "task_completed", business_key="TS-1", detail={"note": "赔偿 300"})
        audit.append(s, "li", "task_completed", business_key="TS-2")
        audit.append(s, "wang", "task_claimed", business_key="TS-2")


def _login(app, username):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PW}).status_code == 302
    client.post("/language", data={"locale": "en"})
    return client


def test_compliance_filters_verifies_and_exports(app, make_user):
    make_user("zhao", "management", "compliance_reviewer", PW)
    make_user("cs1", "customer_service", "agent", PW)
    _seed(app)
    assert _login(app, "cs1").get("/admin/audit/").status_code == 403
    client = _login(app, "zhao")

    table = client.get("/admin/audit/?user=wang&action=task_completed").get_data(as_text=True)
    rows = table.split('id="audit-entries"')[1].split("<tbody>")[1]
    assert "TS-1" in rows and "TS-2" not in rows
    assert "TS-2" in client.get("/admin/audit/?reference=TS-2").get_data(as_text=True).split("<tbody>")[1]
    future = client.get("/admin/audit/?since=2999-01-01").get_data(as_text=True)
    assert "No entries match." in future

    bad = client.get("/admin/audit/?since=yesterday")
    assert bad.status_code == 422 and 'id="since-error"' in bad.get_data(as_text=True)

    exported = client.get("/admin/audit/export.csv?user=wang")
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert exported.mimetype == "text/csv" and lines[0].startswith("#,Time (Asia/Shanghai (UTC+08:00)),Who,Action")
    assert len(lines) == 3 and all(",wang," in line for line in lines[1:]) and "赔偿 300" in lines[-1]

    assert "The chain is intact" in client.get("/admin/audit/?verify=1").get_data(as_text=True)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.business_key == "TS-1").values(actor="someone else"))
    broken = client.get("/admin/audit/?verify=1").get_data(as_text=True)
    assert "The chain is broken" in broken and "was changed after it was written" in broken


def _export(client) -> list[list[str]]:
    response = client.get("/admin/audit/export.csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_export_names_people_and_actions_and_writes_times_in_the_deployment_zone(app, make_user):
    from processes.engine.users import add_user

    make_user("zhao", "management", "compliance_reviewer", PW)
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "wang.agent", "customer_service", "agent", PW, display_name="王小二")
        audit.append(s, "wang.agent", "task_claimed", business_key="TS-1", detail={"to": "wang.agent"})
        audit.append(s, "customer-portal", "message_received", business_key="TS-1")
        audit.append(s, "timer", "timer_fired", business_key="TS-1")
    with app.extensions["redress.db"].session() as s:
        stored = {e.actor: e.at for e in s.scalars(select(AuditEntry).where(AuditEntry.business_key == "TS-1"))}
    client = _login(app, "zhao")

    header, *rows = _export(client)
    assert header[:4] == ["#", "Time (Asia/Shanghai (UTC+08:00))", "Who", "Action"]
    by_action = {row[3]: row for row in rows}
    claimed = by_action["Task claimed"]
    assert claimed[2] == "王小二" and '"to": "王小二"' in claimed[6] and "wang.agent" not in ",".join(claimed)
    assert by_action["Message received"][2] == "The customer (portal)"
    assert by_action["Deadline reached"][2] == "System (deadline)"
    shanghai = stored["wang.agent"].astimezone(ZoneInfo("Asia/Shanghai"))
    assert claimed[1] == shanghai.strftime("%Y-%m-%d %H:%M:%S")  # the deployment's zone, not UTC

    client.post("/language", data={"locale": "zh_CN"})
    header, *rows = _export(client)
    assert header[:4] == ["#", "时间（Asia/Shanghai (UTC+08:00)）", "操作人", "操作"]
    assert {row[2] for row in rows} >= {"王小二", "客户（门户）", "系统（时限到期）"}
    assert "领取任务" in {row[3] for row in rows}
