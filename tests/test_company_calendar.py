# ruff: noqa: F811 - pytest fixtures imported from test_complaint_pages
"""The business calendar (issue 15): statutory days come from the `holidays` package; an
administrator adds company closures, extra working days and working hours, a compliance reviewer
approves them, and the SLA clocks use them from the moment of approval."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html
import pytest
from sqlalchemy import select

from processes.complaints.calendar import BusinessCalendar
from processes.complaints.records import ConfigVersion
from processes.complaints.sla import Limit, sla_deadline
from processes.governance.models import ConfigDraft
from tests.test_complaint_pages import web_app  # noqa: F401 - fixture
from tests.test_process_settings import login, post

START = "2026-12-21T02:00:00+00:00"  # Monday 10:00 in Shanghai


def test_a_closure_approved_by_compliance_moves_the_sla_deadlines_from_then_on(web_app):
    before = sla_deadline("details", "medium", START)  # 2 working days: Wednesday 23rd
    assert before.startswith("2026-12-23")
    admin = login(web_app, "root", role="admin")
    response = post(admin, "/admin/calendar", {"closures": "2026-12-22 Company anniversary", "workdays": "",
                                               "opening": "09:00", "closing": "18:00",
                                               "note": "Anniversary day off"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    change = response.headers["Location"]
    assert sla_deadline("details", "medium", START) == before  # not before approval
    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    rows = lxml.html.fromstring(reviewer.get(change).get_data(as_text=True)).xpath(
        '//table[@id="changed-values"]/tbody/tr')
    assert [[c.text_content().strip() for c in r] for r in rows] == [
        ["Company closures", "—", "2026-12-22 Company anniversary"]]
    post(reviewer, change + "/approve", {})
    assert sla_deadline("details", "medium", START).startswith("2026-12-24")  # the closure does not count
    page = admin.get("/admin/calendar").get_data(as_text=True)
    assert "Version 1 is in force." in page and "2026-12-22 Company anniversary" in page


def test_the_page_lists_the_statutory_days_of_the_year(web_app):
    admin = login(web_app, "root", role="admin")
    doc = lxml.html.fromstring(admin.get("/admin/calendar?year=2026").get_data(as_text=True))
    table = doc.xpath('//table[@id="statutory-holidays"]')[0].text_content()
    assert "2026-10-01" in table and "National Day" in table
    assert "2026-02-14" in doc.text_content()  # a make-up working day (调休)


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"closures": "2026-13-01 Nonsense"}, "closures", "is not a date"),
    ({"closures": "2026-12-24 x", "workdays": "2026-12-24 y"}, "workdays", "both a closure and a working day"),
    ({"opening": "9 o'clock"}, "opening", "HH:MM"),
    ({"opening": "18:00", "closing": "09:00"}, "closing", "after opening"),
])
def test_bad_calendar_input_is_said_next_to_the_field_and_nothing_changes(web_app, form, field, message):
    admin = login(web_app, "root", role="admin")
    data = {"closures": "", "workdays": "", "opening": "09:00", "closing": "18:00", "note": "x", **form}
    response = post(admin, "/admin/calendar", data)
    assert response.status_code == 422
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    assert message in doc.xpath(f'//*[@id="{field}-error"]')[0].text_content()
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigDraft)) is None and s.scalar(select(ConfigVersion)) is None


def test_only_an_administrator_proposes_calendar_changes(web_app):
    designer = login(web_app, "dora.designer")
    assert 'name="note"' not in designer.get("/admin/calendar").get_data(as_text=True)
    refused = post(designer, "/admin/calendar", {"closures": "2026-12-22 x", "workdays": "", "opening": "09:00",
                                                 "closing": "18:00", "note": "x"})
    assert refused.status_code == 403


def test_working_hours_limits_count_only_opening_hours_of_working_days():
    calendar = BusinessCalendar.for_country("CN", [2026]).with_working_hours(9 * 60, 18 * 60)
    friday_four_pm = datetime(2026, 12, 18, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
    end = Limit(4, "working_hours").add_to(friday_four_pm, calendar)
    assert calendar.localize(end).isoformat() == "2026-12-21T11:00:00+08:00"  # Monday 11:00
    early = Limit(1.5, "working_hours").add_to(datetime(2026, 12, 21, 0, 0, tzinfo=UTC), calendar)
    assert calendar.localize(early).isoformat() == "2026-12-21T10:30:00+08:00"
