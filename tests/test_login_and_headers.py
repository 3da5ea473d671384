"""Logging in under attack, response headers, and who may open the customer's files (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from processes.channels.portal_models import Attachment, RateLimitHit
from processes.complaints.registration import register
from processes.engine.definitions import read_files
from processes.engine.users import add_user
from tests.conftest import ROOT

PW = "pw-12345678"


def _try(client, username, password, address="10.0.0.1", **kw):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, **kw)


def _let_time_pass(app, seconds: int) -> None:
    """Age every counted failure, as if `seconds` had passed."""
    with app.extensions["redress.db"].write_session.begin() as s:
        for hit in s.scalars(select(RateLimitHit)):
            hit.at -= timedelta(seconds=seconds)


def test_wrong_passwords_earn_a_growing_wait_not_a_lock_out(app, client, make_user):
    make_user("cs1", "customer_service", "agent", PW)
    for _ in range(5):
        assert _try(client, "cs1", "wrong").status_code == 401
    first = _try(client, "cs1", PW)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert "cs1" in first.get_data(as_text=True)  # the form keeps the user name
    _let_time_pass(app, 3)
    assert _try(client, "cs1", "wrong").status_code == 401
    assert _try(client, "cs1", PW).headers["Retry-After"] == "4"  # doubled
    _let_time_pass(app, 5)
    assert _try(client, "cs1", PW).status_code == 302  # the owner gets in once the wait is over


def test_successful_logins_never_count_against_an_office_address(app, make_user):
    for n in range(40):
        make_user(f"clerk{n}", "customer_service", "agent", PW)
    for n in range(40):
        assert _try(app.test_client(), f"clerk{n}", PW, "192.0.2.10").status_code == 302


def test_a_stranger_guessing_cannot_lock_the_owner_out(app, client, make_user):
    make_user("victim", "customer_service", "agent", PW)
    for n in range(40):  # guesses from many machines
        _try(app.test_client(), "victim", "guess", f"198.51.100.{n}")
    owner = app.test_client()
    waited = _try(owner, "victim", PW, "10.9.9.9")
    # Spread guessing delays the account by at most a minute, never the 15-minute lock of old.
    assert waited.status_code == 302 or int(waited.headers["Retry-After"]) <= 60
    _let_time_pass(app, 61)
    assert _try(owner, "victim", PW, "10.9.9.9").status_code == 302


def test_a_header_splitting_next_after_login_is_ignored_not_a_500(app, client, make_user):
    make_user("cs2", "customer_service", "agent", PW)
    for target in ("/complaints/%0d%0aSet-Cookie:x=1", "/\\evil.example", "//evil.example/x"):
        response = client.post(f"/login?next={target}", data={"username": "cs2", "password": PW})
        assert response.status_code == 302, target
        assert response.headers["Location"].endswith("/"), response.headers["Location"]
        client.post("/logout")


def test_staff_pages_and_api_answers_are_never_cached(app, client, make_user):
    _, token = make_user("cs3", "customer_service", "agent", PW)
    client.post("/login", data={"username": "cs3", "password": PW})
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    api = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in api.headers  # plain HTTP in tests: no HSTS


def test_hsts_when_cookies_are_secure(database_url, tmp_path):
    from processes.config import Settings
    from web import create_app

    settings = Settings(database_url=database_url, instance_dir=tmp_path, secure_cookies=True, secret_key="x")
    app = create_app({"TESTING": True}, settings=settings)
    try:
        response = app.test_client().get("/login", base_url="https://127.0.0.1")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        app.extensions["redress.db"].dispose()


def test_customer_files_follow_the_need_to_know_rule(app, make_user):
    runtime = app.extensions["redress.runtime"]
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    reference = register(runtime, {"channel": "web", "customer": {"name": "王芳", "phone": "13800138000"},
                                   "subject": "漏水", "description": "底座漏水"})
    db = app.extensions["redress.db"]
    with db.write_session.begin() as s:
        s.add(Attachment(reference=reference, filename="王芳-身份证.png", content_type="image/png", size=4,
                         sha256="0" * 64, data=b"\x89PNG", channel="web"))
        add_user(s, "prod", "product", "manager", PW)
        add_user(s, "cs4", "customer_service", "agent", PW)
    with db.session() as s:
        file_id = s.query(Attachment.id).scalar()
    other = app.test_client()
    other.post("/login", data={"username": "prod", "password": PW})
    page = other.get(f"/complaints/{reference}").get_data(as_text=True)
    assert "身份证" not in page and "***.png" in page
    assert other.get(f"/complaints/{reference}/customer-files/{file_id}").status_code == 403
    service = app.test_client()
    service.post("/login", data={"username": "cs4", "password": PW})
    assert "王芳-身份证.png" in service.get(f"/complaints/{reference}").get_data(as_text=True)
    assert service.get(f"/complaints/{reference}/customer-files/{file_id}").data == b"\x89PNG"


def test_a_far_future_occurred_at_is_refused_by_name_and_an_old_one_still_shows(app, make_user):
    from processes.complaints.records import Complaint

    _, token = make_user("cs5", "customer_service", "agent", PW)
    runtime = app.extensions["redress.runtime"]
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    api = app.test_client()
    body = {"customer": {"name": "甲", "email": "a@example.com"}, "subject": "s", "description": "d",
            "occurred_at": "9999-12-31T23:59:59+00:00"}
    refused = api.post("/api/v1/complaints", json=body, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 422 and "occurred_at" in refused.json["errors"]
    # A complaint stored with such a date before the check (it used to make the page a 500) still opens.
    reference = register(runtime, {**body, "channel": "api", "occurred_at": None})
    with app.extensions["redress.db"].write_session.begin() as s:
        s.query(Complaint).filter_by(reference=reference).one().received_at = datetime(9999, 12, 31, 23, 59,
                                                                                       tzinfo=UTC)
    staff = app.test_client()
    staff.post("/login", data={"username": "cs5", "password": PW})
    assert staff.get(f"/complaints/{reference}").status_code == 200
