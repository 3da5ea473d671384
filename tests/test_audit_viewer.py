"""The audit viewer: compliance filters the log by complaint, person, action and period, verifies
the chain from the page (and sees a tampered entry), and exports what it filtered as CSV."""

from __future__ import annotations

from sqlalchemy import update

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
    assert exported.mimetype == "text/csv" and lines[0].startswith("id,at,actor,action")
    assert len(lines) == 3 and all(",wang," in line for line in lines[1:]) and "赔偿 300" in lines[-1]

    assert "The chain is intact" in client.get("/admin/audit/?verify=1").get_data(as_text=True)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.business_key == "TS-1").values(actor="someone else"))
    broken = client.get("/admin/audit/?verify=1").get_data(as_text=True)
    assert "The chain is broken" in broken and "was changed after it was written" in broken
