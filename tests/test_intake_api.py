"""The intake API other systems use: register, read, answer on the customer's behalf, hand in e-mail."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from processes.complaints.records import Complaint
from processes.engine.users import add_user, create_token
from tests.portal_support import make_app, staff_to_mediation

COMPLAINT = {
    "channel": "api",
    "customer": {"name": "张三", "phone": "13800138000", "email": "zhang@example.com", "address": "上海市",
                 "tier": "gold"},
    "subject": "冰箱不制冷", "description": "用了一周就不制冷了", "remedy_sought": "上门维修",
    "product": "BCD-300", "order_number": "SO-2001", "occurred_at": "2025-03-01T10:00:00+08:00",
}


@pytest.fixture
def api_app(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path)
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def token(api_app):
    return _token(api_app, "crm", "customer_service", "agent")


def _token(app, username, department, role):
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, username, department, role, "pw-12345678")
        return create_token(s, username)


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _count(app) -> int:
    with app.extensions["redress.db"].session() as s:
        return s.scalar(select(func.count()).select_from(Complaint))


def test_a_complaint_is_registered_and_can_be_read_back(api_app, token):
    client = api_app.test_client()
    response = client.post("/api/v1/complaints", json=COMPLAINT, headers=_auth(token))
    assert response.status_code == 201
    reference = response.json["reference"]
    assert response.headers["Location"].endswith(f"/api/v1/complaints/{reference}")

    body = client.get(f"/api/v1/complaints/{reference}", headers=_auth(token)).json
    assert body["reference"] == reference and body["status"] == "acknowledged" and body["channel"] == "api"
    assert body["escalation_level"] == 1 and body["awaiting"] == []
    assert [t["bpmn_id"] for t in body["tasks"]] == ["Task_Classify"]
    assert set(body["tasks"][0]) >= {"id", "name", "lane", "complaint_reference", "due_at"}
    actions = [h["action"] for h in body["history"]]
    assert "instance_started" in actions
    assert "customer" not in body  # personal data is not part of the status


def test_the_channel_defaults_to_api_and_a_call_centre_may_record_phone(api_app, token):
    client = api_app.test_client()
    bare = {k: v for k, v in COMPLAINT.items() if k != "channel"}
    reference = client.post("/api/v1/complaints", json=bare, headers=_auth(token)).json["reference"]
    phone = client.post("/api/v1/complaints", json={**COMPLAINT, "channel": "phone"}, headers=_auth(token))
    with api_app.extensions["redress.db"].session() as s:
        channels = dict(s.execute(select(Complaint.reference, Complaint.channel)).all())
    assert channels == {reference: "api", phone.json["reference"]: "phone"}


def test_invalid_complaints_get_field_errors_and_store_nothing(api_app, token):
    client = api_app.test_client()
    bad = {**COMPLAINT, "customer": {"name": "", "email": "not-an-email"}, "severity": "apocalyptic"}
    del bad["subject"]
    response = client.post("/api/v1/complaints", json=bad, headers=_auth(token))
    assert response.status_code == 422
    errors = response.json["errors"]
    assert {"subject", "customer.name", "customer.email", "severity"} <= set(errors)
    assert client.post("/api/v1/complaints", data="[1,2", headers={**_auth(token), "Content-Type":
                                                                     "application/json"}).status_code == 400
    assert _count(api_app) == 0


def test_authentication_and_roles_are_required(api_app, token):
    client = api_app.test_client()
    assert client.post("/api/v1/complaints", json=COMPLAINT).status_code == 401
    assert client.post("/api/v1/complaints", json=COMPLAINT, headers=_auth("nonsense")).status_code == 401
    reviewer = _token(api_app, "cui.compliance", "management", "compliance_reviewer")
    assert client.post("/api/v1/complaints", json=COMPLAINT, headers=_auth(reviewer)).status_code == 403
    assert client.get("/api/v1/outbox", headers=_auth(token)).status_code == 403
    assert _count(api_app) == 0


def test_unknown_complaints_are_404(api_app, token):
    client = api_app.test_client()
    assert client.get("/api/v1/complaints/TS-20200101-ABCDE", headers=_auth(token)).status_code == 404
    response = client.post("/api/v1/complaints/TS-20200101-ABCDE/messages/survey_answer",
                           json={"data": {"satisfaction_score": 3, "resolved": True}}, headers=_auth(token))
    assert response.status_code == 404


def test_an_agent_records_the_customers_answer_from_the_phone(api_app, token):
    client = api_app.test_client()
    runtime = api_app.extensions["redress.runtime"]
    reference = client.post("/api/v1/complaints", json=COMPLAINT, headers=_auth(token)).json["reference"]
    url = f"/api/v1/complaints/{reference}/messages/customer_response"

    # Not waiting for an answer yet: 409.
    early = client.post(url, json={"data": {"customer_decision": "accept"}}, headers=_auth(token))
    assert early.status_code == 409 and "not waiting" in early.json["error"]

    staff_to_mediation(runtime, reference)
    assert client.get(f"/api/v1/complaints/{reference}", headers=_auth(token)).json["awaiting"] == \
        ["customer_response"]
    invalid = client.post(url, json={"data": {"customer_decision": "maybe"}}, headers=_auth(token))
    assert invalid.status_code == 422 and "data.customer_decision" in invalid.json["errors"]
    assert client.post(url, json={"data": "accept"}, headers=_auth(token)).status_code == 422
    unknown = client.post(f"/api/v1/complaints/{reference}/messages/anything", json={"data": {}},
                          headers=_auth(token))
    assert unknown.status_code == 404

    response = client.post(url, json={"data": {"customer_decision": "counter", "counter_proposal": "全额退款",
                                               "comment": "电话中客户表示"}}, headers=_auth(token))
    assert response.status_code == 202 and response.json["delivered"] is True
    history = client.get(f"/api/v1/complaints/{reference}", headers=_auth(token)).json["history"]
    received = [h for h in history if h["action"] == "message_received"]
    assert received[-1]["actor"] == "crm"
    assert received[-1]["detail"]["data"]["counter_proposal"] == "全额退款"


def test_a_raw_email_is_handed_in_and_a_reply_is_attached(api_app, token):
    client = api_app.test_client()
    message = EmailMessage()
    message["From"] = "Li Si <li.si@example.com>"
    message["Subject"] = "Parcel lost"
    message.set_content("The parcel never arrived. I want a refund.")
    response = client.post("/api/v1/intake/email", data=message.as_bytes(),
                           headers={**_auth(token), "Content-Type": "message/rfc822"})
    assert response.status_code == 201 and response.json["outcome"] == "registered"
    reference = response.json["reference"]

    del message["Subject"]
    message["Subject"] = f"RE: Please complete your complaint {reference}"
    reply = client.post("/api/v1/intake/email", data=message.as_bytes(), headers=_auth(token))
    assert reply.status_code == 200 and reply.json == {"reference": reference, "outcome": "attached",
                                                        "skipped_attachments": []}
    empty = client.post("/api/v1/intake/email", data=b"", headers=_auth(token))
    assert empty.status_code == 422
    assert _count(api_app) == 1


def test_admins_see_the_outbox(api_app, token):
    client = api_app.test_client()
    client.post("/api/v1/complaints", json=COMPLAINT, headers=_auth(token))
    admin = _token(api_app, "root", "management", "admin")
    messages = client.get("/api/v1/outbox", headers=_auth(admin)).json["messages"]
    assert [(m["template"], m["status"], m["to"]) for m in messages] == \
        [("acknowledgement", "outbox", "zhang@example.com")]


def test_the_endpoints_are_in_the_openapi_document(api_app):
    document = api_app.test_client().get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert "post" in paths["/complaints"] and "get" in paths["/complaints/{reference}"]
    assert "202" in paths["/complaints/{reference}/messages/{name}"]["post"]["responses"]
    assert "409" in paths["/complaints/{reference}/messages/{name}"]["post"]["responses"]
    assert "post" in paths["/intake/email"]
    assert "ComplaintIntake" in document["components"]["schemas"]
