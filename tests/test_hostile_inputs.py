"""Every public and staff entry point driven with malformed, oversized and adversarial input.

No answer is a 5xx, and nothing is half-stored: the row count of every table is the same
before and after each refused input (rate-limit counters aside). The number of inputs tried
is printed at the end of each test. Runs on SQLite and, with REDRESS_TEST_DATABASE_URL, on
PostgreSQL, where NUL and lone surrogates used to be a 500.
"""

from __future__ import annotations

import functools
import io
import json
import math
from datetime import timedelta
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from processes.engine.db import Base
from processes.engine.users import add_user, create_token
from tests.portal_support import make_app

PW = "pw-12345678"
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Texts that broke something once: NUL, a lone surrogate, header splitting, absurd dates and sizes.
NASTY = ["\x00", "a\x00b", "\ud800", "x\udfff", "\r\nSet-Cookie: x=1", "%00", "9999-12-31T23:59:59+00:00",
         "0001-01-01", "2999-01-01", "'; DROP TABLE complaints; --", "長" * 25000, "\u202e", "{{ 7*7 }}"]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),  # surrogates included
                       st.text(max_size=20).map(lambda t: t + "\x00"))
# Characters a browser can send in a form (no surrogates: they cannot be UTF-8 encoded).
form_text = nasty_text.map(lambda t: t.encode("utf-8", "replace").decode("utf-8"))
COUNTED = {"rate_limit_hits"}  # refused requests may count towards a limit; nothing else may change
tried = {"n": 0}


@pytest.fixture
def hostile_app(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path, PORTAL_RATE_LIMITS={k: (10**6, timedelta(hours=1))
                                                               for k in ("submit", "answer", "track", "lost")})
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "cs", "customer_service", "agent", PW)
        app.token = create_token(s, "cs")
    client = app.test_client()
    app.headers = {"Authorization": f"Bearer {app.token}"}
    created = client.post("/api/v1/complaints", headers=app.headers, json={
        "customer": {"name": "甲", "email": "a@example.com"}, "subject": "s", "description": "d",
        "remedy_sought": "r"})
    assert created.status_code == 201
    app.reference = created.json["reference"]
    app.task_id = app.extensions["redress.runtime"].open_tasks(app.reference)[0].id
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def report(capsys):
    tried["n"] = 0
    yield tried
    with capsys.disabled():
        print(f"\n  hostile inputs tried: {tried['n']}")


@functools.cache
def _all_counts(tables: tuple[str, ...]):
    """Every table's row count in one statement (a query per table was most of this module's time)."""
    return select(*[select(func.count()).select_from(Base.metadata.tables[name]).scalar_subquery().label(name)
                    for name in tables])


def _counts(app) -> dict[str, int]:
    tables = tuple(t.name for t in Base.metadata.sorted_tables if t.name not in COUNTED)  # all the app loaded
    with app.extensions["redress.db"].engine.connect() as connection:
        return dict(connection.execute(_all_counts(tables)).one()._mapping)


def _refused(app, response, before) -> None:
    tried["n"] += 1
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert _counts(app) == before, "a refused input left rows behind"


def _staff(app):
    """One logged-in staff client per app: a login hashes a password, too slow for every example."""
    if not hasattr(app, "staff"):
        app.staff = app.test_client()
        assert app.staff.post("/login", data={"username": "cs", "password": PW}).status_code == 302
    return app.staff


def _raw_json(value) -> bytes:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes, the way an attacker sends them
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


BODIES = [
    b"[" * 100000 + b"]" * 100000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"subject": "\\ud800", "customer": {"name": "x"}, "description": "d"}',
    b'{"subject": "a\\u0000b", "customer": {"name": "x", "email": "a@b.example"}, "description": "d"}',
    b'{"order_value": ' + b"9" * 5000 + b"}",
    b'{"order_value": NaN, "subject": "s"}',
    (b'{"occurred_at": "9999-12-31T23:59:59+00:00", "customer": {"name": "x", "email": "a@b.example"}, '
     b'"subject": "s", "description": "d"}'),
    b"\xff\xfe\x00garbage",
    b"x" * (2 * 1024 * 1024),
]


def test_fixed_hostile_bodies_on_the_api(hostile_app, report):
    client, app = hostile_app.test_client(), hostile_app
    for body in BODIES:
        for url in ("/api/v1/complaints", f"/api/v1/complaints/{app.reference}/messages/customer_details",
                    f"/api/v1/tasks/{app.task_id}/complete"):
            before = _counts(app)
            _refused(app, client.post(url, data=body, headers={**app.headers, "Content-Type": "application/json"}),
                     before)


def _hostile(field: str, value) -> bool:
    """Whether a value must be refused, judged without the code under test."""
    if isinstance(value, str):
        bad_char = any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in value)
        return bad_char or (field == "occurred_at" and value in NASTY[6:9])
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, int) and value >= 10**40


def _answered(app, response, before, hostile: bool) -> None:
    tried["n"] += 1
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if hostile:
        assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert _counts(app) == before, "a refused input left rows behind"


@FUZZ
@given(field=st.sampled_from(["subject", "description", "occurred_at", "remedy_sought", "customer"]),
       value=st.one_of(nasty_text, st.integers(min_value=10**40), st.just(float("nan")),
                       st.recursive(st.none(), lambda inner: st.lists(inner, min_size=1, max_size=1),
                                    max_leaves=40)))
def test_api_intake_and_answers(hostile_app, report, field, value):
    app = hostile_app
    client = app.test_client()
    headers = {**app.headers, "Content-Type": "application/json"}
    hostile = _hostile(field, value)
    good = {"customer": {"name": "乙", "email": "b@example.com"}, "subject": "s", "description": "d"}
    before = _counts(app)
    _answered(app, client.post("/api/v1/complaints", data=_raw_json({**good, field: value}), headers=headers),
              before, hostile)
    before = _counts(app)
    key = "occurred_at" if field == "occurred_at" else "description"
    answer = _raw_json({"data": {key: value}})
    _answered(app, client.post(f"/api/v1/complaints/{app.reference}/messages/customer_details", data=answer,
                               headers=headers), before, hostile)
    before = _counts(app)
    complete = _raw_json({"data": {"classification_note": value, "category": "other", "severity": "low"}})
    response = client.post(f"/api/v1/tasks/{app.task_id}/complete", data=complete, headers=headers)
    _answered(app, response, before, hostile and field != "occurred_at")
    assert response.status_code != 200 or not hostile, "the task was completed with a hostile value"


@FUZZ
@given(value=form_text.filter(lambda t: "\x00" in t or t in NASTY[6:9]),
       field=st.sampled_from(["subject", "description", "name", "occurred_at", "product"]))
def test_portal_forms(hostile_app, report, value, field):
    app = hostile_app
    client = app.test_client()
    form = {"name": "张三", "email": "z@example.com", "subject": "屏幕坏了", "description": "三天就坏",
            "remedy_sought": "换货", "consent": "yes", field: value}
    if field != "occurred_at" and "\x00" not in value:
        form["occurred_at"] = value  # the date attacks go to the date field
    before = _counts(app)
    response = client.post("/portal/", data={**form, "attachments": (io.BytesIO(b"x\x00"), "a.txt")},
                           content_type="multipart/form-data")
    _refused(app, response, before)
    if "\x00" in value:  # what the customer typed comes back, with the field named
        assert response.status_code == 422 and "无法保存的字符" in response.get_data(as_text=True)
    _answered(app, client.post("/portal/lost-link", data={"reference": value, "email": value}), before,
              hostile="\x00" in value)


@FUZZ
@given(value=form_text.filter(lambda t: "\x00" in t))
def test_staff_search_filters_and_task_forms(hostile_app, report, value):
    app = hostile_app
    client = _staff(app)
    q = quote(value)
    for url in (f"/?q={q}", f"/?scope={q}&category={q}", f"/complaints/?q={q}", f"/complaints/duplicates?customer_phone={q}",
                f"/api/v1/tasks?scope={q}", f"/login?next={q}"):
        before = _counts(app)
        _refused(app, client.get(url, headers=app.headers if url.startswith("/api") else {}), before)
    before = _counts(app)
    for action in ("draft", "complete"):
        response = client.post(f"/tasks/{app.task_id}", data={"classification_note": value, "category": "other",
                                                               "severity": "low", "action": action})
        _refused(app, response, before)
        assert "无法保存" in response.get_data(as_text=True)  # named beside the field, input kept


def test_login_next_with_crlf_after_a_good_login_is_no_500(hostile_app, report):
    client = hostile_app.test_client()
    response = client.post("/login?next=/%0d%0aSet-Cookie:%20x=1", data={"username": "cs", "password": PW})
    tried["n"] += 1
    assert response.status_code == 302 and "Set-Cookie: x" not in response.headers.get("Location", "")


def test_hostile_mail_through_the_api_and_the_cli(hostile_app, report, database_url, monkeypatch):
    app = hostile_app
    client = app.test_client()
    mails = [b"From: a <a@example.com>\nSubject: " + b"=?utf-8?q?=E6=8A=95?= " * 30000 + b"\n\nx\n",
             b"From: a <a@example.com>\nSubject: s\n\nbody \x00 with NUL\n",
             b'From: a <a@example.com>\nContent-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n\nx\n" * 5000,
             b"\x00\xff" * 1000]
    for raw in mails:
        before = _counts(app)
        _refused(app, client.post("/api/v1/intake/email", data=raw, headers=app.headers), before)
    monkeypatch.setenv("REDRESS_DATABASE_URL", database_url)
    from web.cli import main

    before = _counts(app)
    mbox = b"".join(b"From x@y Sat Mar  1 10:00:00 2025\n" + m + b"\n" for m in mails[:3])
    result = CliRunner().invoke(main, ["ingest-mail", "-"], input=mbox)
    tried["n"] += 3
    assert result.exit_code == 1 and result.output.count("not registered") == 3, result.output
    assert _counts(app) == before
