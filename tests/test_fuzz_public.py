"""Malformed and oversized input to the public endpoints: never a 5xx, never half a complaint."""

from __future__ import annotations

import io
import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from processes.channels.portal_models import Attachment, TrackingToken
from processes.complaints.records import Complaint
from processes.engine.models import ProcessInstance
from processes.engine.users import add_user, create_token
from tests.portal_support import make_app

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
long_text = st.one_of(text, st.integers(0, 30000).map(lambda n: "长" * n))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                   st.dictionaries(text, inner, max_size=4)),
                           max_leaves=12)


@pytest.fixture
def fuzz_app(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path, PORTAL_RATE_LIMITS={k: (100000, timedelta(hours=1))
                                                               for k in ("submit", "answer", "track", "lost")})
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "crm", "customer_service", "agent", "pw-12345678")
        app.token = create_token(s, "crm")
    yield app
    app.extensions["redress.db"].dispose()


def _consistent(app) -> int:
    """Every stored complaint is whole: it has its running process, and nothing hangs loose."""
    with app.extensions["redress.db"].session() as s:
        complaints = s.scalar(select(func.count()).select_from(Complaint))
        whole = s.scalar(select(func.count()).select_from(Complaint).join(
            ProcessInstance, ProcessInstance.id == Complaint.instance_id))
        assert whole == complaints
        for model in (Attachment, TrackingToken):
            loose = s.scalar(select(func.count()).select_from(model).where(
                model.reference.not_in(select(Complaint.reference))))
            assert loose == 0, f"{model.__tablename__} rows without a complaint"
        return complaints


form_values = st.fixed_dictionaries({}, optional={
    name: long_text for name in ("name", "phone", "email", "address", "subject", "description", "remedy_sought",
                                 "product", "order_number", "occurred_at", "occurred_where", "consent", "website")
})


VALID_FORM = {"name": "张三", "email": "z@example.com", "subject": "屏幕坏了", "description": "三天就坏",
              "remedy_sought": "换货", "consent": "yes"}
PNG = b"\x89PNG\r\n\x1a\n"


@FUZZ
@given(form=st.one_of(form_values, form_values.map(lambda f: {**VALID_FORM, **f})),
       filename=st.one_of(text, text.map(lambda t: t + ".png")),
       content=st.one_of(st.binary(max_size=2048), st.binary(max_size=2048).map(lambda b: PNG + b)))
def test_portal_form(fuzz_app, form, filename, content):
    before = _consistent(fuzz_app)
    data = {**form, "attachments": (io.BytesIO(content), filename or "f")}
    response = fuzz_app.test_client().post("/portal/", data=data, content_type="multipart/form-data")
    assert response.status_code < 500
    after = _consistent(fuzz_app)
    assert after == before + (1 if response.status_code == 302 else 0)


@FUZZ
@given(reference=st.text(alphabet=string.ascii_letters + string.digits + "-_%.~", min_size=1, max_size=80),
       token=st.text(alphabet=string.ascii_letters + string.digits + "-_%.~", min_size=1, max_size=300),
       name=st.sampled_from(["customer_details", "customer_response", "survey_answer", "x"]),
       form=st.dictionaries(text, long_text, max_size=5))
def test_tracking_pages(fuzz_app, reference, token, name, form):
    client = fuzz_app.test_client()
    assert client.get(f"/portal/track/{reference}/{token}").status_code in (404, 308)
    assert client.post(f"/portal/track/{reference}/{token}/{name}", data=form).status_code in (404, 308)
    # A NUL byte in any field is a 400 naming it (web/input_guard.py); otherwise the same answer always.
    assert client.post("/portal/lost-link", data=form).status_code == (400 if any(
        "\x00" in k or "\x00" in v for k, v in form.items()) else 200)


@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "channel": st.one_of(st.sampled_from(["api", "web", "phone", "x"]), json_scalars),
    "customer": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "name": long_text, "phone": json_scalars, "email": json_scalars, "tier": json_scalars})),
    "subject": st.one_of(long_text, json_scalars), "description": st.one_of(long_text, json_values),
    "remedy_sought": json_scalars, "occurred_at": json_scalars, "severity": json_scalars,
    "safety_issue": json_scalars, "attachments": json_values,
})))
def test_api_complaints(fuzz_app, body):
    before = _consistent(fuzz_app)
    response = fuzz_app.test_client().post("/api/v1/complaints", json=body,
                                           headers={"Authorization": f"Bearer {fuzz_app.token}"})
    assert response.status_code in (201, 400, 422)
    assert _consistent(fuzz_app) == before + (1 if response.status_code == 201 else 0)


@FUZZ
@given(name=st.sampled_from(["customer_details", "customer_response", "survey_answer"]), body=json_values)
def test_api_messages(fuzz_app, name, body):
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {fuzz_app.token}"}
    if not hasattr(fuzz_app, "reference"):
        fuzz_app.reference = client.post("/api/v1/complaints", headers=headers, json={
            "customer": {"name": "甲", "email": "a@example.com"}, "subject": "s", "description": "d",
            "remedy_sought": "r"}).json["reference"]
    response = client.post(f"/api/v1/complaints/{fuzz_app.reference}/messages/{name}", headers=headers,
                           json={"data": body} if isinstance(body, dict) else body)
    assert response.status_code in (400, 409, 422)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=4096), text.map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.builds(lambda sender, subject, body: (
                         f"From: {sender}\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                         f"{body}").encode("utf-8", "surrogatepass"), text, text, long_text)))
def test_api_email(fuzz_app, raw):
    before = _consistent(fuzz_app)
    response = fuzz_app.test_client().post("/api/v1/intake/email", data=raw,
                                           headers={"Authorization": f"Bearer {fuzz_app.token}"})
    assert response.status_code in (200, 201, 422)
    assert _consistent(fuzz_app) == before + (1 if response.status_code == 201 else 0)


def test_oversized_requests_are_refused_politely(fuzz_app):
    client = fuzz_app.test_client()
    huge = b"x" * (21 * 1024 * 1024)
    portal = client.post("/portal/", data=huge, content_type="application/x-www-form-urlencoded")
    assert portal.status_code == 413 and "太大" in portal.get_data(as_text=True)
    api = client.post("/api/v1/intake/email", data=huge, headers={"Authorization": f"Bearer {fuzz_app.token}"})
    assert api.status_code == 413 and "error" in api.json
    assert _consistent(fuzz_app) == 0
