"""Only people who may decide a task can claim, complete or be given it (issue 12).

A customer-service supervisor oversees customer service, not management's compensation approval:
refused by the runtime itself, by the API (403) and by the task page (403)."""

from __future__ import annotations

import pytest

import tests.test_complaint_paths as paths
from processes.engine.actors import Actor
from processes.engine.errors import Forbidden
from processes.engine.users import add_user, create_token
from tests.test_complaint_pages import PASSWORD, csrf_of, run, web_app  # noqa: F401 - fixtures

CS_SUPERVISOR = Actor("cs.lead", "customer_service", "supervisor")
MANAGER = Actor("boss", "management", "manager")


@pytest.fixture
def approval(run, dbsession):  # noqa: F811 - the fixture imported above
    """A complaint waiting for management's approval of a cash compensation above the threshold."""
    h = run(customer_tier="vip", order_value=3000)
    paths.classify(h, "product_quality", "high")
    paths.investigate(h, "product", "company")
    paths.confirm_strategy(h, "compensation")
    paths.choose_compensation(h, ("cash", 900))
    assert h.ready_ids() == ["Task_Approve_Compensation"]
    return h, h._row("Task_Approve_Compensation")


@pytest.fixture
def dbsession(db):
    with db.session() as session:
        yield session


def test_the_runtime_refuses_a_supervisor_of_another_department(approval, web_app):  # noqa: F811
    _h, row = approval
    runtime = web_app.extensions["redress.runtime"]
    with pytest.raises(Forbidden):
        runtime.claim(row.id, CS_SUPERVISOR)
    with pytest.raises(Forbidden):
        runtime.complete(row.id, CS_SUPERVISOR, {"approval_decision": "approve"})
    with pytest.raises(Forbidden):  # nor can it be given to them
        runtime.reassign(row.id, MANAGER, CS_SUPERVISOR)
    assert runtime.claim(row.id, MANAGER).assignee == "boss"


def test_api_and_page_answer_403_and_the_reassign_list_offers_only_managers(approval, web_app):  # noqa: F811
    h, row = approval
    with web_app.extensions["redress.db"].write_session.begin() as s:
        for username, department, role in [("cs.lead", "customer_service", "supervisor"),
                                           ("boss", "management", "manager"), ("boss2", "management", "manager"),
                                           ("mgmt.designer", "management", "process_designer"),
                                           ("mgmt.admin", "management", "admin")]:
            add_user(s, username, department, role, PASSWORD)
        token = create_token(s, "cs.lead")
    client = web_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/tasks/{row.id}/claim", headers=headers).status_code == 403
    assert client.post(f"/api/v1/tasks/{row.id}/complete", headers=headers,
                       json={"data": {"approval_decision": "approve"}}).status_code == 403

    def login(username):
        client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})

    login("cs.lead")
    page = client.get(f"/tasks/{row.id}").get_data(as_text=True)
    token = csrf_of(page)
    assert client.post(f"/tasks/{row.id}/claim", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/tasks/{row.id}", data={"csrf_token": token, "action": "complete",
                                                 "approval_decision": "approve"}).status_code == 403
    assert h._row("Task_Approve_Compensation").assignee is None

    client.post("/logout", data={"csrf_token": token})
    login("boss")
    page = client.get(f"/tasks/{row.id}").get_data(as_text=True)
    assert client.post(f"/tasks/{row.id}/claim", data={"csrf_token": csrf_of(page)}).status_code == 302
    page = client.get(f"/tasks/{row.id}").get_data(as_text=True)
    options = page.split('id="reassign-to"', 1)[1].split("</select>", 1)[0]
    assert 'value="boss2"' in options
    assert "mgmt.designer" not in options and "cs.lead" not in options
    assert "mgmt.admin" not in options  # an administrator runs the system, not management's decisions


ADMIN = Actor("mgmt.admin", "management", "admin")


def test_an_admin_cannot_claim_complete_or_be_given_a_management_approval(approval, web_app):  # noqa: F811
    _h, row = approval
    runtime = web_app.extensions["redress.runtime"]
    with pytest.raises(Forbidden):
        runtime.claim(row.id, ADMIN)
    with pytest.raises(Forbidden):
        runtime.complete(row.id, ADMIN, {"approval_decision": "approve"})
    runtime.claim(row.id, MANAGER)
    with pytest.raises(Forbidden):
        runtime.reassign(row.id, MANAGER, ADMIN)


def test_a_supervisors_task_is_for_supervisors_of_that_department(run, web_app):  # noqa: F811
    """Confirming the strategy is customer service's supervisors' decision: another department's
    supervisor is refused by the runtime and by the page, and is not offered in the reassign list."""
    h = run()
    paths.classify(h, "product_quality", "medium")
    paths.investigate(h, "product", "customer")
    row = h._row("Task_Review_Strategy")
    assert (row.department, row.candidate_group) == ("customer_service", "supervisor")
    product_lead = Actor("pd.lead", "product", "supervisor")
    runtime = web_app.extensions["redress.runtime"]
    with pytest.raises(Forbidden):
        runtime.claim(row.id, product_lead)
    with pytest.raises(Forbidden):
        runtime.complete(row.id, product_lead, {"override_strategy": False})
    with web_app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "pd.lead", "product", "supervisor", PASSWORD)
        add_user(s, "cs.lead", "customer_service", "supervisor", PASSWORD)
        add_user(s, "cs.lead2", "customer_service", "supervisor", PASSWORD)
    client = web_app.test_client()
    client.post("/login", data={"username": "pd.lead", "password": PASSWORD,
                                "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    token = csrf_of(client.get("/").get_data(as_text=True))
    assert client.post(f"/tasks/{row.id}/claim", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/tasks/{row.id}", data={"csrf_token": token, "action": "complete",
                                                 "override_strategy": "false"}).status_code == 403
    runtime.claim(row.id, CS_SUPERVISOR)
    client.post("/logout", data={"csrf_token": token})
    client.post("/login", data={"username": "cs.lead", "password": PASSWORD,
                                "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    page = client.get(f"/tasks/{row.id}").get_data(as_text=True)
    options = page.split('id="reassign-to"', 1)[1].split("</select>", 1)[0]
    assert 'value="cs.lead2"' in options and "pd.lead" not in options
