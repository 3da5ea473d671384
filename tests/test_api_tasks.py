"""The task endpoints of the JSON API, with bearer tokens."""

from __future__ import annotations

import pytest

from processes.engine.actors import SYSTEM

pytestmark = pytest.mark.backend_neutral  # what the task API answers; its queries run on both in test_inbox and test_runtime


def deploy_and_start(app, standin_files, key="C-9"):
    runtime = app.extensions["redress.runtime"]
    runtime.deploy(standin_files)
    runtime.start("standin", key, {"channel": "api", "rounds_done": 0}, SYSTEM)
    return runtime


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_requires_authentication(client):
    response = client.get("/api/v1/tasks")
    assert response.status_code == 401 and "token" in response.get_json()["error"]
    assert client.get("/api/v1/tasks", headers=auth("rd_nonsense")).status_code == 401


def test_group_claim_complete_flow(app, client, make_user, standin_files):
    deploy_and_start(app, standin_files)
    _, agent = make_user("agent1", "customer_service", "agent")
    _, product = make_user("prod1", "product", "department_staff")

    group = client.get("/api/v1/tasks?scope=group", headers=auth(agent)).get_json()["tasks"]
    assert [t["bpmn_id"] for t in group] == ["Task_Register"]
    task = group[0]
    assert set(task) >= {"id", "bpmn_id", "name", "lane", "complaint_reference", "assignee", "due_at", "created_at"}
    assert client.get("/api/v1/tasks?scope=group", headers=auth(product)).get_json()["tasks"] == []

    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=auth(agent)).get_json()
    assert detail["form"]["required"] == ["subject", "severity"] and "settings" not in detail["data"]
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=auth(product)).status_code == 403

    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth(agent)).get_json()["assignee"] == "agent1"
    mine = client.get("/api/v1/tasks?scope=mine", headers=auth(agent)).get_json()["tasks"]
    assert [t["id"] for t in mine] == [task["id"]]

    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(agent), json={"data": {"subject": "x"}})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"subject", "severity"}

    forbidden = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(product),
                            json={"data": {"subject": "Broken kettle", "severity": "low"}})
    assert forbidden.status_code == 403

    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(agent),
                       json={"data": {"subject": "Broken kettle", "severity": "low"}})
    assert done.status_code == 200
    assert [t["bpmn_id"] for t in done.get_json()["tasks"]] == ["Task_Handle"]

    again = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(agent),
                        json={"data": {"subject": "Broken kettle", "severity": "low"}})
    assert again.status_code == 409 and "already completed" in again.get_json()["error"]
    assert client.get("/api/v1/tasks/does-not-exist", headers=auth(agent)).status_code == 404


def test_malformed_body_is_a_clear_400(app, client, make_user, standin_files):
    deploy_and_start(app, standin_files)
    _, agent = make_user("agent1", "customer_service", "agent")
    task = client.get("/api/v1/tasks?scope=group", headers=auth(agent)).get_json()["tasks"][0]
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(agent), json={"data": [1, 2]})
    assert response.status_code == 400 and "data" in response.get_json()["error"]


def test_openapi_document_lists_task_paths(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "/tasks/{task_id}/complete" in doc["paths"]
