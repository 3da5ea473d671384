# ruff: noqa: F811 - pytest fixtures imported from test_complaint_pages
"""Process settings changed in the browser and reviewed like a process definition (issue 15).

The must-show: a designer lowers the compensation approval threshold from 500 to 300, a compliance
reviewer sees exactly that one value old beside new and approves; the next complaint with a
compensation of 400 goes to management approval, a complaint started before keeps 500."""

from __future__ import annotations

import lxml.html
import pytest
from sqlalchemy import select

import tests.test_complaint_paths as paths
from processes.complaints.records import ConfigVersion
from processes.engine.models import AuditEntry, ProcessInstance
from processes.engine.users import add_user
from processes.governance.models import ConfigDraft
from tests.test_complaint_pages import PASSWORD, csrf_of, current_values, dbsession, web_app  # noqa: F401 - fixtures


def login(app, username, department="management", role="process_designer"):
    with app.extensions["redress.db"].write_session.begin() as s:
        from processes.engine.models import User

        if s.scalar(select(User).where(User.username == username)) is None:
            add_user(s, username, department, role, PASSWORD)
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    client.post("/language", data={"locale": "en", "csrf_token": csrf_of(client.get("/account/").get_data(as_text=True))})
    return client


def settings_form(client, **changes) -> dict:
    """The settings form as drawn, with `changes` typed into its controls."""
    page = client.get("/admin/settings")
    assert page.status_code == 200
    form = lxml.html.fromstring(page.get_data(as_text=True)).xpath('//form[@id="settings-form"]')[0]
    values: dict[str, list[str]] = {}
    for name, value in current_values(form):
        values.setdefault(name, []).append(value)
    for name, value in changes.items():
        assert form.xpath(f'.//*[@name="{name}"]'), f"the page has no control for {name}"
        values[name] = value if isinstance(value, list) else [value]
    return values


def post(client, url, data):
    token = csrf_of(client.get("/admin/settings").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


@pytest.fixture
def begin(web_app, dbsession):
    from tests.test_complaint_pages import PageHarness

    runtime = web_app.extensions["redress.runtime"]
    PageHarness.app, PageHarness.client, PageHarness.walked = web_app, web_app.test_client(), set()
    started = []

    def begin(reference, **customer):
        data = paths.complaint_start_data(reference, order_value=800, **customer)
        del data["settings"]  # as intake does: the settings in force come from the runtime
        harness = PageHarness.start(runtime, data, dbsession)
        started.append(harness)
        return harness

    yield begin
    for harness in started:
        harness.close()


def to_compensation_gateway(h):
    paths.classify(h, "product_quality", "low", safety=True)  # critical: cash, half the order value
    paths.investigate(h, "product", "company", is_defect=True)
    paths.confirm_strategy(h, "compensation")
    paths.choose_compensation(h, ("cash", 400))  # a person takes the policy's suggestion
    assert (h.data["compensation_kind"], h.data["compensation_amount"]) == ("cash", 400)


def test_threshold_500_to_300_reviewed_and_only_new_complaints_use_it(web_app, begin, dbsession):
    before = begin("C-2025-0001")
    designer = login(web_app, "dora.designer")
    response = post(designer, "/admin/settings", settings_form(
        designer, compensation_approval_threshold="300", note=["Too many large payouts without approval."]))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    draft_url = response.headers["Location"]
    # The author cannot approve their own change (four eyes).
    page = designer.get(draft_url).get_data(as_text=True)
    assert "someone other than you must review" in page and "/approve" not in page
    refused = post(designer, draft_url + "/approve", {})
    assert "Four eyes" in designer.get(refused.headers["Location"]).get_data(as_text=True)

    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    page = reviewer.get(draft_url).get_data(as_text=True)
    rows = lxml.html.fromstring(page).xpath('//table[@id="changed-values"]/tbody/tr')
    assert [(r.get("data-key"), [c.text_content().strip() for c in r]) for r in rows] == [
        ("compensation_approval_threshold", ["Compensation approval threshold", "500", "300"])]
    assert "Too many large payouts without approval." in page
    assert 'id="test-run"' in page  # the designer's test run, with the draft's settings
    done = post(reviewer, draft_url + "/approve", {"comment": "ok"})
    assert done.status_code == 302
    assert 'id="approved-version">1<' in reviewer.get(draft_url).get_data(as_text=True)

    after = begin("C-2025-0002", customer_name="李雷", customer_phone="13900139000",
                  customer_email="li.lei@example.cn", subject="微波炉门打不开", description="门锁坏了")
    with web_app.extensions["redress.db"].session() as s:
        versions = {i.business_key: i.settings_version for i in s.scalars(
            select(ProcessInstance).where(ProcessInstance.process_key == "complaint_handling"))}
        assert versions == {"C-2025-0001": None, "C-2025-0002": 1}
        approved = s.scalars(select(AuditEntry).where(AuditEntry.action == "config_approved")).one()
        assert (approved.actor, approved.detail["changed"]) == ("rita.reviewer", ["compensation_approval_threshold"])
    to_compensation_gateway(after)
    assert after.data["settings"]["compensation_approval_threshold"] == 300
    assert after.ready_ids() == ["Task_Approve_Compensation"]  # 400 > 300: management approves
    to_compensation_gateway(before)
    assert before.data["settings"]["compensation_approval_threshold"] == 500
    assert before.ready_ids() == ["Task_Write_Offer"]  # 400 ≤ 500 as when it started: no approval
    assert designer.get("/admin/settings").get_data(as_text=True).count("Version 1 is in force") == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("details_timeout", "7 days", "is not an ISO 8601 duration"),
    ("follow_up_wait", "P", "is not an ISO 8601 duration"),
    ("compensation_approval_threshold", "-300", "must be above 0"),
    ("default_monthly_budget", "abc", "Enter an amount"),
    ("max_mediation_rounds", "0", "whole number from 1"),
    ("required_fields", ["nonsense"], "Unknown: nonsense"),
    ("agent_channels", [], "Choose at least one"),
])
def test_bad_settings_are_said_next_to_the_field_and_nothing_changes(web_app, field, value, message):
    designer = login(web_app, "dora.designer")
    response = post(designer, "/admin/settings", settings_form(designer, **{field: value, "note": "try"}))
    assert response.status_code == 422
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    assert message in doc.xpath(f'//*[@id="{field}-error"]')[0].text_content()
    assert response.get_data(as_text=True).count('text-bg-warning">changed<') == 1  # only what they edited
    if isinstance(value, str):  # what the person typed is still there
        assert doc.xpath(f'//input[@name="{field}"]')[0].get("value") == value
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigDraft)) is None and s.scalar(select(ConfigVersion)) is None


def test_a_change_needs_a_note_and_a_difference_and_only_designers_propose(web_app):
    designer = login(web_app, "dora.designer")
    response = post(designer, "/admin/settings", settings_form(designer, compensation_approval_threshold="300"))
    assert response.status_code == 422 and 'id="note-error"' in response.get_data(as_text=True)
    same = post(designer, "/admin/settings", settings_form(designer, note="nothing"))
    assert "Nothing differs" in same.get_data(as_text=True)
    agent = login(web_app, "ann.agent", "customer_service", "agent")
    assert agent.get("/admin/settings").status_code == 403
    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    assert 'name="note"' not in reviewer.get("/admin/settings").get_data(as_text=True)  # reads, may not propose
    refused = post(reviewer, "/admin/settings", {**settings_form(reviewer, compensation_approval_threshold="300"),
                                                 "note": "I may not"})
    assert refused.status_code == 403
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigDraft)) is None


def test_a_rejected_change_needs_a_reason_and_changes_nothing(web_app):
    designer = login(web_app, "dora.designer")
    draft_url = post(designer, "/admin/settings", settings_form(
        designer, details_timeout="P10D", note="Customers need longer.")).headers["Location"]
    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    empty = post(reviewer, draft_url + "/reject", {"comment": ""})
    assert empty.status_code == 422 and 'id="comment-error"' in empty.get_data(as_text=True)
    post(reviewer, draft_url + "/reject", {"comment": "Regulator says 7 days."})
    page = designer.get("/admin/settings").get_data(as_text=True)
    assert "The shipped defaults are in force" in page and "Rejected" in page
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigVersion)) is None


def test_an_administrator_who_proposed_a_change_cannot_approve_it(web_app):
    admin = login(web_app, "root", role="admin")  # may both propose and review: never their own
    draft_url = post(admin, "/admin/settings", settings_form(
        admin, compensation_approval_threshold="300", note="Tighter control")).headers["Location"]
    assert "/approve" not in admin.get(draft_url).get_data(as_text=True)
    refused = post(admin, draft_url + "/approve", {})
    assert "you proposed this change, so someone else must review it" in admin.get(
        refused.headers["Location"]).get_data(as_text=True)
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigVersion)) is None
        assert s.scalar(select(ConfigDraft)).status == "submitted"


def test_the_approved_hotline_and_company_name_reach_customers(web_app):
    from datetime import timedelta

    from processes.channels.portal_models import OutboundMessage
    from tests.test_portal import FORM

    designer = login(web_app, "dora.designer")
    bad = post(designer, "/admin/settings", settings_form(designer, hotline="call us", note="x"))
    assert "Enter a phone number" in lxml.html.fromstring(bad.get_data(as_text=True)).xpath(
        '//*[@id="hotline-error"]')[0].text_content()
    draft_url = post(designer, "/admin/settings", settings_form(
        designer, hotline="400-820-1234", company_name="康达家电", note="New hotline")).headers["Location"]
    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    post(reviewer, draft_url + "/approve", {})
    web_app.config["HOTLINE"] = "400-000-0000"  # the deployment's, overridden by the approved setting
    web_app.config["PORTAL_RATE_LIMITS"] = {"submit": (0, timedelta(hours=1))}
    customer = web_app.test_client()
    refused = customer.post("/portal/", data={**FORM, "csrf_token": csrf_of(customer.get("/portal/").get_data(
        as_text=True))})
    assert refused.status_code == 429 and "400-820-1234" in refused.get_data(as_text=True)
    with web_app.extensions["redress.db"].write_session.begin() as s:
        web_app.extensions["redress.runtime"].mailer.queue_link(s, "C-1", "a@example.com", "zh-CN")
    with web_app.extensions["redress.db"].session() as s:
        assert "——\n康达家电 客户服务部" in s.scalar(select(OutboundMessage.body))


def test_every_setting_has_a_kind_a_label_and_help():
    """A setting added to the process must be editable (checked by kind) and named on the page."""
    from processes.complaints.settings import KINDS, SETTINGS
    from web.config_labels import SETTING_HELP, SETTING_LABELS

    assert set(KINDS) == set(SETTINGS) == set(SETTING_LABELS) == set(SETTING_HELP)
