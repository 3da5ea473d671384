"""The administration API (issue 15): accounts (edit, reactivate, reset, sign out, tokens), reviewed
settings, budgets, skip (four eyes), cancel and the outbox; roles enforced by the same services as
the pages, bad input answered 422 with the message under the field's name; all in the OpenAPI document."""

from __future__ import annotations

from sqlalchemy import select

from processes.engine.models import AuditEntry, ProcessInstance
from tests.test_operations import PW, failed_once  # noqa: F401 - the fixture
from tests.test_operations_repair import failed_message


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_accounts_through_the_api(client, make_user):
    _, admin = make_user("root", "management", "admin", PW)
    _, lead = make_user("lead", "customer_service", "supervisor", PW)
    make_user("li", "product", "department_staff", PW)
    assert client.patch("/api/v1/users/li", json={"role": "agent"}, headers=bearer(lead)).status_code == 403
    bad = client.patch("/api/v1/users/li", json={"role": "wizard"}, headers=bearer(admin))
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]
    edited = client.patch("/api/v1/users/li", json={"department": "technical", "display_name": "李工"},
                          headers=bearer(admin)).get_json()
    assert edited["user"]["department"] == "technical" and edited["changed"] == ["department", "display_name"]
    created = client.post("/api/v1/users/li/tokens", json={"label": "CRM"}, headers=bearer(admin))
    assert created.status_code == 201
    li = created.get_json()["token"]
    assert client.get("/api/v1/tasks", headers=bearer(li)).status_code == 200
    tokens = client.get("/api/v1/users/li/tokens", headers=bearer(admin)).get_json()["tokens"]
    assert tokens[0]["label"] == "CRM" and "token" not in tokens[0]
    reset = client.post("/api/v1/users/li/reset-password", headers=bearer(admin)).get_json()
    assert len(reset["temporary_password"]) >= 10
    assert client.get("/api/v1/tasks", headers=bearer(li)).status_code == 401  # a reset revokes tokens
    assert client.post("/api/v1/users/li/sign-out", headers=bearer(admin)).get_json() == {"sessions_ended": 0}
    again = client.post("/api/v1/users/li/tokens", headers=bearer(admin)).get_json()["token"]
    assert client.post("/api/v1/users/li/tokens/revoke", json={}, headers=bearer(admin)).get_json() == {"revoked": 1}
    assert client.get("/api/v1/tasks", headers=bearer(again)).status_code == 401
    client.post("/api/v1/users/li/deactivate", headers=bearer(admin))
    assert client.post("/api/v1/users/li/reactivate", headers=bearer(admin)).get_json()["user"]["active"] is True


def test_a_settings_change_through_the_api_is_reviewed_by_someone_else(client, make_user):
    _, designer = make_user("dora", "management", "process_designer", PW)
    _, reviewer = make_user("rita", "management", "compliance_reviewer", PW)
    values = client.get("/api/v1/config/settings", headers=bearer(designer)).get_json()["values"]
    bad = client.post("/api/v1/config/settings/changes", headers=bearer(designer), json={
        "values": {**values, "details_timeout": "seven days"}, "note": "x"})
    assert bad.status_code == 422 and "ISO 8601" in bad.get_json()["errors"]["details_timeout"]
    proposed = client.post("/api/v1/config/settings/changes", headers=bearer(designer), json={
        "values": {**values, "compensation_approval_threshold": 300}, "note": "Tighter control"})
    assert proposed.status_code == 201
    change = proposed.get_json()["change"]
    assert change["changes"] == [{"key": "compensation_approval_threshold", "old": 500, "new": 300}]
    assert client.post(f"/api/v1/config-changes/{change['id']}/approve", headers=bearer(designer)).status_code == 403
    approved = client.post(f"/api/v1/config-changes/{change['id']}/approve", headers=bearer(reviewer)).get_json()
    assert approved["change"]["approved_version"] == 1
    now = client.get("/api/v1/config/settings", headers=bearer(reviewer)).get_json()
    assert (now["version"], now["values"]["compensation_approval_threshold"]) == (1, 300)


def test_budgets_through_the_api(client, make_user):
    _, boss = make_user("boss", "management", "manager", PW)
    _, lead = make_user("lead", "customer_service", "supervisor", PW)
    negative = client.put("/api/v1/budgets/sales/2026-03", json={"amount": -5}, headers=bearer(boss))
    assert negative.status_code == 422 and "0 or more" in negative.get_json()["errors"]["amount"]
    assert client.put("/api/v1/budgets/sales/2026-03", json={"amount": 5}, headers=bearer(lead)).status_code == 403
    done = client.put("/api/v1/budgets/sales/2026-03", json={"amount": "1200.50", "note": "Q1"},
                      headers=bearer(boss)).get_json()
    assert (done["amount"], done["previous"]) == ("1200.50", None)
    listed = client.get("/api/v1/budgets?month=2026-03", headers=bearer(lead)).get_json()["budgets"]
    assert {"department": "sales", "amount": "1200.50", "own": True, "spent": "0.00",
            "remaining": "1200.50"} in listed
    history = client.get("/api/v1/budgets/history?department=sales", headers=bearer(lead)).get_json()["changes"]
    assert [(c["changed_by"], c["new"], c["note"]) for c in history] == [("boss", "1200.50", "Q1")]


def test_skip_with_four_eyes_cancel_and_outbox_through_the_api(app, client, make_user, failed_once):  # noqa: F811
    _, lead = make_user("lead", "customer_service", "supervisor", PW)
    _, root = make_user("root", "management", "admin", PW)
    _, cs1 = make_user("cs1", "customer_service", "agent", PW)
    url = f"/api/v1/operations/instances/{failed_once}"
    assert client.post(url + "/skip", json={"reason": "x"}, headers=bearer(cs1)).status_code == 403
    assert client.post(url + "/skip", json={"reason": ""}, headers=bearer(lead)).status_code == 422
    request_id = client.post(url + "/skip", json={"reason": "done by hand"}, headers=bearer(lead)).get_json()[
        "request"]["id"]
    assert client.post(f"/api/v1/operations/skips/{request_id}/confirm", headers=bearer(lead)).status_code == 403
    assert client.post(f"/api/v1/operations/skips/{request_id}/confirm", headers=bearer(root)).get_json() == {
        "status": "running"}
    cancelled = client.post(url + "/cancel", json={"reason": "Customer withdrew"}, headers=bearer(root))
    assert cancelled.get_json() == {"status": "cancelled"}
    with app.extensions["redress.db"].session() as s:
        assert s.get(ProcessInstance, failed_once).status == "cancelled"
        assert {e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.actor == "root"))} >= {
            "step_skipped", "instance_cancelled"}
    message_id = failed_message(app)
    assert client.get(f"/api/v1/outbox/{message_id}", headers=bearer(cs1)).status_code == 403
    shown = client.get(f"/api/v1/outbox/{message_id}", headers=bearer(lead)).get_json()["message"]
    assert (shown["body"], shown["attempts"], shown["last_error"]) == (
        "王女士您好,我们的答复如下。", 5, "550 mailbox unavailable")
    assert client.post(f"/api/v1/outbox/{message_id}/resend", headers=bearer(lead)).status_code == 409  # no SMTP
    discarded = client.post(f"/api/v1/outbox/{message_id}/discard", json={"reason": "duplicate"},
                            headers=bearer(lead)).get_json()
    assert discarded["message"]["status"] == "discarded"


def test_the_openapi_document_describes_the_administration_api(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/users/{username}", "/users/{username}/reset-password", "/users/{username}/tokens",
                 "/users/{username}/tokens/revoke", "/config/{kind}", "/config/{kind}/changes",
                 "/config-changes/{change_id}/{decision}", "/budgets/{department}/{month}", "/budgets/history",
                 "/operations/instances/{instance_id}/skip", "/operations/skips/{request_id}/confirm",
                 "/operations/instances/{instance_id}/cancel", "/outbox/{message_id}/discard"):
        assert path in paths, path
