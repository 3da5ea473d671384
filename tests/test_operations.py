"""Operations: a failed service step shows on the operations page with its step and error, a
supervisor's retry completes it and the audit names them; worker health counts late timers;
the API for accounts and operations enforces the same roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from processes.engine import handlers as registry
from processes.engine.models import AuditEntry, ProcessInstance, Timer, utcnow
from tests.test_runtime import only_open_task, start_standin

PW = "ops-pass-44120"


@pytest.fixture
def failed_once(app, standin_files, monkeypatch, agent):
    """An instance whose service step failed once (the CRM did not answer); the next call works."""
    calls = {"n": 0}

    def flaky(ctx):
        calls["n"] += 1
        if calls["n"] == 1:
            raise registry.HandlerError("the CRM did not answer")
        return {"echo_subject": ctx.params["subject"]}

    registry.get_handler("echo")
    monkeypatch.setitem(registry._HANDLERS, "echo", flaky)
    runtime = app.extensions["redress.runtime"]
    instance_id = start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Broken kettle", "severity": "low"})
    return instance_id


def login(app, username):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PW}).status_code == 302
    client.post("/language", data={"locale": "en"})
    return client


def test_a_failed_step_is_listed_and_a_supervisors_retry_completes_it(app, make_user, failed_once):
    make_user("lead", "customer_service", "supervisor", PW)
    make_user("cs1", "customer_service", "agent", PW)
    assert login(app, "cs1").get("/admin/operations/").status_code == 403
    lead = login(app, "lead")
    page = lead.get("/admin/operations/").get_data(as_text=True)
    table = page.split('id="failed-instances"')[1]
    assert "C-1" in table and "the CRM did not answer" in table and "Task_Echo" in table
    done = lead.post(f"/admin/operations/instances/{failed_once}/retry", follow_redirects=True)
    assert "the process went on" in done.get_data(as_text=True)
    assert "No process is stopped by an error." in done.get_data(as_text=True)
    with app.extensions["redress.db"].session() as s:
        assert s.get(ProcessInstance, failed_once).status == "running"
        retried = s.scalars(select(AuditEntry).where(AuditEntry.action == "instance_retried")).one()
    assert retried.actor == "lead"
    again = lead.post(f"/admin/operations/instances/{failed_once}/retry", follow_redirects=True)
    assert "no failed step to retry" in again.get_data(as_text=True)


def test_worker_health_counts_due_and_late_timers(app, make_user, standin_files, agent):
    make_user("root", "management", "admin", PW)
    runtime = app.extensions["redress.runtime"]
    start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Kettle", "severity": "low"})
    client = login(app, "root")
    page = client.get("/admin/operations/").get_data(as_text=True)
    assert 'id="timers-late">0' in page and "Keeping up" in page
    with app.extensions["redress.db"].write_session.begin() as s:
        s.execute(update(Timer).values(due_at=utcnow() - timedelta(minutes=30)))
    page = client.get("/admin/operations/").get_data(as_text=True)
    assert 'id="timers-due">1' in page and 'id="timers-late">1' in page and "Timers are late" in page


def test_the_api_enforces_roles_for_accounts_and_operations(app, make_user, failed_once):
    _, admin = make_user("root", "management", "admin", PW)
    _, lead = make_user("lead", "customer_service", "supervisor", PW)
    _, cs = make_user("cs1", "customer_service", "agent", PW)
    client = app.test_client()

    def call(method, path, token, **kw):
        return getattr(client, method)(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kw)

    assert call("get", "/operations/failed", cs).status_code == 403
    listed = call("get", "/operations/failed", lead).get_json()["instances"]
    assert [(i["reference"], "the CRM did not answer" in i["error"]) for i in listed] == [("C-1", True)]
    assert call("post", f"/operations/instances/{failed_once}/retry", lead).get_json() == {"status": "running"}

    assert call("get", "/users", lead).status_code == 403
    assert call("post", "/users", lead, json={"username": "x1", "department": "product",
                                               "role": "admin"}).status_code == 403
    duplicate = call("post", "/users", admin, json={"username": "cs1", "department": "product", "role": "agent"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.get_json()["errors"]["username"]
    unknown = call("post", "/users", admin, json={"username": "new1", "department": "product", "role": "wizard"})
    assert unknown.status_code == 422 and "unknown role" in unknown.get_json()["errors"]["role"]
    created = call("post", "/users", admin, json={"username": "new1", "department": "product",
                                                   "role": "department_staff"})
    assert created.status_code == 201 and created.get_json()["user"]["must_change_password"] is True
    assert call("post", "/users/cs1/deactivate", admin).get_json()["user"]["active"] is False
    assert call("get", "/tasks", cs).status_code == 401  # the deactivated agent's token stopped
    names = [u["username"] for u in call("get", "/users?q=new", admin).get_json()["users"]]
    assert names == ["new1"]

    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/users", "/users/{username}/deactivate", "/operations/failed",
            "/operations/instances/{instance_id}/retry"} <= set(paths)
