"""Personal data and case work stay with the people who need them (保密原则, least privilege)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from processes.complaints.records import Complaint
from processes.engine.models import HumanTask
from processes.engine.users import create_token


@pytest.fixture
def demo(demo_app):
    """Helpers on the demo's complaints (`demo_app`)."""
    db = demo_app.extensions["redress.db"]

    def token(username):
        with db.write_session.begin() as s:
            return {"Authorization": f"Bearer {create_token(s, username)}"}

    def complaint(subject):
        with db.session() as s:
            return s.scalar(select(Complaint).where(Complaint.subject == subject))

    def task(reference):
        with db.session() as s:
            return s.scalar(select(HumanTask).where(HumanTask.business_key == reference,
                                                    HumanTask.status == "open"))

    return token, complaint, task


def test_task_api_masks_customer_data_outside_customer_service(client, demo):
    token, complaint, task = demo
    crash = complaint("App keeps crashing after update")
    technical_task = task(crash.reference)
    data = client.get(f"/api/v1/tasks/{technical_task.id}", headers=token("tech")).get_json()["data"]
    assert data["customer_email"] == "t***@example.com" and data["customer_name"] == "T****"
    clear = client.get(f"/api/v1/tasks/{technical_task.id}", headers=token("cs_lead")).get_json()["data"]
    assert clear["customer_email"] == "tom@example.com"


def test_complaint_history_masks_customer_data(client, demo):
    token, complaint, _task = demo
    kettle = complaint("电水壶底座漏电")
    body = client.get(f"/api/v1/complaints/{kettle.reference}", headers=token("tech")).get_json()
    assert "13800138001" not in str(body["history"]) and "张伟" not in str(body["history"])


def test_only_customer_service_answers_for_the_customer(client, demo):
    token, complaint, _task = demo
    delayed = complaint("快递延误一周")  # waits for the customer's answer to the compensation offer
    answer = {"data": {"customer_decision": "accept", "comment": ""}}
    refused = client.post(f"/api/v1/complaints/{delayed.reference}/messages/customer_response",
                          headers=token("tech"), json=answer)
    assert refused.status_code == 403
    accepted = client.post(f"/api/v1/complaints/{delayed.reference}/messages/customer_response",
                           headers=token("agent"), json=answer)
    assert accepted.status_code == 202


def test_designers_and_reviewers_have_no_case_work(client, demo):
    token, _complaint, _task = demo
    for user in ("designer", "reviewer"):
        for scope in ("mine", "group", "all"):
            listed = client.get(f"/api/v1/tasks?scope={scope}", headers=token(user)).get_json()["tasks"]
            assert listed == [], (user, scope)


def test_search_by_phone_only_for_those_who_see_it(app, client, demo):
    _token, complaint, _task = demo
    kettle = complaint("电水壶底座漏电")

    def search_as(username, text):
        client.post("/login", data={"username": username, "password": "redress-demo"})
        page = client.get("/complaints/", query_string={"q": text}, follow_redirects=True).get_data(as_text=True)
        client.post("/logout")
        return page

    assert kettle.reference in search_as("agent", "13800138001")
    assert kettle.reference not in search_as("tech", "13800138001")
    assert kettle.reference not in search_as("tech", "张_")
