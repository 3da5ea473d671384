"""The complaint file as people use it (issue 12, part A): phone intake in one step and the
tracking code, the case summary, the conversation and internal notes, duplicates linked by hand,
the customer's page, attachments with their previews. Through the HTML pages."""

from __future__ import annotations

import re

import pytest

from processes.complaints.registration import register
from tests.test_workspace_pages import PASSWORD, PHONE_COMPLAINT, app, login, open_task, text

__all__ = ["app"]


@pytest.fixture
def people(make_user):
    for username, department, role in [("agent", "customer_service", "agent"),
                                       ("senior", "customer_service", "senior_agent"),
                                       ("lead", "customer_service", "supervisor"),
                                       ("product", "product", "department_staff"),
                                       ("boss", "management", "manager")]:
        make_user(username, department, role, PASSWORD)


def test_phone_intake_is_the_registration_and_gives_a_tracking_code(app, client, people):
    login(client, "agent")
    form = {"channel": "phone", "customer_name": "赵敏", "customer_phone": "13600136000",
            "subject": "洗衣机漏水", "description": "新洗衣机第一次用就漏水。", "remedy_sought": "换新",
            "duplicates_checked": "on"}
    response = client.post("/complaints/new", data=form)
    assert response.status_code == 302
    reference = re.search(r"TS-\d{8}-\w{5}", response.headers["Location"]).group(0)
    page = text(client.get(response.headers["Location"]))
    code = re.search(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", page).group(0)
    assert reference in page and "/portal/find" in page
    # No "Register complaint" task repeats the form: the complaint goes on to classification.
    assert open_task(app, reference, "Task_Register") is None
    assert open_task(app, reference, "Task_Classify") is not None

    client.post("/logout")
    finder = app.test_client()
    assert "跟踪码" in text(finder.get("/portal/find"))
    wrong = finder.post("/portal/find", data={"reference": reference, "code": "22222-22222"})
    assert wrong.status_code == 404 and "不匹配" in text(wrong) and reference in text(wrong)
    bad = finder.post("/portal/find", data={"reference": reference, "code": "abc"})
    assert bad.status_code == 422 and 'id="e-code"' in text(bad)
    # Typed in lower case and with a space, as people do on the phone.
    found = finder.post("/portal/find", data={"reference": reference.lower(),
                                              "code": code.lower().replace("-", " ")})
    assert found.status_code == 302 and f"/portal/track/{reference}/{code}" in found.headers["Location"]
    track = text(finder.get(found.headers["Location"]))
    assert reference in track and "洗衣机漏水" in track


def test_the_tracking_code_page_is_rate_limited(app, people):
    app.config["PORTAL_RATE_LIMITS"] = {"find": (2, __import__("datetime").timedelta(hours=1))}
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/portal/find", data={"reference": reference, "code": "22222-22222"}).status_code == 404
    assert client.post("/portal/find", data={"reference": reference, "code": "22222-22222"}).status_code == 429
