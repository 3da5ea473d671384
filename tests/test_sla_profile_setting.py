# ruff: noqa: F811 - pytest fixtures imported from test_complaint_pages and test_process_settings
"""The SLA profile is a reviewed process setting (issue 15): a designer proposes it on
/admin/settings, a compliance reviewer approves it there, and only complaints started afterwards
run under the new profile; an open complaint keeps the profile, and the deadlines, it started with."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html
from sqlalchemy import select

from processes.channels import outbound_mail
from processes.complaints import analytics
from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_models import ComplaintFact
from processes.complaints.complaint_sla import resolve_due
from processes.complaints.records import Complaint
from processes.complaints.settings import check_settings, default_settings
from processes.complaints.sla import SlaPolicy
from processes.engine.models import HumanTask
from tests.test_complaint_pages import dbsession, web_app  # noqa: F401 - fixtures
from tests.test_process_settings import begin, login, post, settings_form  # noqa: F401 - fixtures
from web import case_file

import tests.test_complaint_paths as paths  # isort: skip


def _received(h) -> datetime:
    value = datetime.fromisoformat(h.data["received_at"])
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _classified(h):
    paths.classify(h, "product_quality", "low")
    return datetime.fromisoformat(h.data["resolve_due"])


def test_profile_changed_on_the_pages_reaches_new_complaints_only(web_app, begin, dbsession):
    before = begin("C-2025-0001")
    designer = login(web_app, "dora.designer")
    form = settings_form(designer, sla_profile="FCA", note=["UK branch: the FCA limits apply."])
    response = post(designer, "/admin/settings", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    draft_url = response.headers["Location"]

    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    page = reviewer.get(draft_url).get_data(as_text=True)
    rows = lxml.html.fromstring(page).xpath('//table[@id="changed-values"]/tbody/tr')
    assert [(r.get("data-key"), [c.text_content().strip() for c in r]) for r in rows] == [
        ("sla_profile", ["SLA profile", "default: internal targets", "FCA: financial services, United Kingdom"])]
    assert post(reviewer, draft_url + "/approve", {"comment": "ok"}).status_code == 302
    doc = lxml.html.fromstring(designer.get("/admin/settings").get_data(as_text=True))
    assert doc.xpath('//select[@name="sla_profile"]/option[@selected]')[0].get("value") == "FCA"

    after = begin("C-2025-0002", customer_name="李雷", customer_phone="13900139000",
                  customer_email="li.lei@example.cn", subject="微波炉门打不开", description="门锁坏了")
    assert (before.data["settings"]["sla_profile"], after.data["settings"]["sla_profile"]) == ("default", "FCA")
    # The resolve deadline of a low-severity complaint: 10 days (default) against the FCA's 8 weeks.
    policies = {before: SlaPolicy.profile("default"), after: SlaPolicy.profile("FCA")}
    expected = {h: policy.deadline("resolve", "low", _received(h)) for h, policy in policies.items()}
    assert _classified(after) == expected[after]
    assert _classified(before) == expected[before]  # the old one keeps its own profile
    assert [(expected[h].date() - _received(h).date()).days for h in (before, after)] == [10, 56]
    with web_app.extensions["redress.db"].session() as s:
        profiles = dict(s.execute(select(ComplaintFact.reference, ComplaintFact.sla_profile)).all())
        assert profiles == {"C-2025-0001": "default", "C-2025-0002": "FCA"}
        # The complaint's page and its e-mails read the complaint's own profile.
        for h in (before, after):
            complaint = s.scalar(select(Complaint).where(Complaint.reference == h.data["business_key"]))
            assert resolve_due(complaint) == expected[h]
            assert outbound_mail.resolve_deadline(complaint) == case_file.resolve_due(complaint) == expected[h]
        # The investigation's deadline: its own profile's respond limit (FCA: 3 English working days).
        for h, policy in policies.items():
            tasks = s.scalars(select(HumanTask).where(HumanTask.business_key == h.data["business_key"],
                                                      HumanTask.status == "open")).all()
            assert [t.bpmn_id for t in tasks] == ["Task_Investigate_Product"]
            assert tasks[0].due_at == policy.deadline("respond", "low", tasks[0].created_at)
        # The analytics filter by profile counts each complaint under its own.
        today = datetime.now(UTC).date()
        period = Period(today.replace(day=1), today)
        by_profile = {name: analytics.kpis(s, period, Filters(sla_profile=name))["current"]["received"]
                      for name in ("default", "FCA", "CBIRC")}
    assert by_profile == {"default": 1, "FCA": 1, "CBIRC": 0}
    # Re-decorating the open tasks (`redress tasks redecorate`) keeps each complaint's own profile.
    runtime = web_app.extensions["redress.runtime"]
    with web_app.extensions["redress.db"].session() as s:
        before_dues = sorted(s.scalars(select(HumanTask.due_at).where(HumanTask.status == "open")))
    runtime.redecorate_open_tasks()
    with web_app.extensions["redress.db"].session() as s:
        assert sorted(s.scalars(select(HumanTask.due_at).where(HumanTask.status == "open"))) == before_dues


def test_an_unknown_profile_is_refused_next_to_the_field(web_app):
    designer = login(web_app, "dora.designer")
    response = post(designer, "/admin/settings", settings_form(designer, sla_profile="NFRA", note="try"))
    assert response.status_code == 422
    error = lxml.html.fromstring(response.get_data(as_text=True)).xpath('//*[@id="sla_profile-error"]')[0]
    assert "Choose one of the SLA profiles: default, SAMR, CBIRC, FCA, CFPB." in error.text_content()


def test_the_environment_names_the_profile_until_a_version_chooses_one(monkeypatch):
    monkeypatch.setenv("REDRESS_SLA_PROFILE", "fca")
    assert default_settings()["sla_profile"] == "FCA"
    cleaned, problems = check_settings({**default_settings(), "sla_profile": "cfpb"})
    assert not problems and cleaned["sla_profile"] == "CFPB"


def test_a_task_deadline_follows_the_profile_in_the_task_data():
    """No attached timer here: the stage limit alone, under the complaint's own profile."""
    from processes.complaints.task_urgency import deadline

    arrived = datetime(2025, 3, 3, 9, tzinfo=UTC)  # a Monday
    data = {"severity": "low", "settings": {"sla_profile": "FCA"}}
    assert deadline("respond", data, arrived) == SlaPolicy.profile("FCA").deadline("respond", "low", arrived)
    assert deadline("respond", {**data, "settings": {"sla_profile": "default"}}, arrived) == datetime(
        2025, 3, 10, 9, tzinfo=UTC)
