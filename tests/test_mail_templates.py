# ruff: noqa: F811 - pytest fixtures imported from test_complaint_pages
"""E-mail templates per language (issue 15): an administrator edits the wording with a preview and
a check that every placeholder exists; the change reaches customers only after a compliance
reviewer approves it."""

from __future__ import annotations

import lxml.html
from sqlalchemy import select

from processes.channels.mail_templates import defaults
from processes.channels.portal_models import OutboundMessage
from processes.complaints.records import ConfigVersion
from processes.governance.models import ConfigDraft
from tests.test_complaint_pages import web_app  # noqa: F401 - fixture
from tests.test_process_settings import current_values, login, post

KEY = "tracking_link.en.body"


def templates_form(client, **changes) -> dict:
    page = client.get("/admin/mail-templates")
    form = lxml.html.fromstring(page.get_data(as_text=True)).xpath('//form[@id="templates-form"]')[0]
    values = dict(current_values(form))
    for name, value in changes.items():
        assert form.xpath(f'.//*[@name="{name}"]'), name
        values[name] = value
    return values


def test_an_unknown_placeholder_is_said_next_to_the_field_in_preview_and_on_submit(web_app):
    admin = login(web_app, "root", role="admin")
    typed = "Dear {name}, your link: {link}. Your order {order_number}."
    for action in ("preview", "submit"):
        response = post(admin, "/admin/mail-templates", templates_form(admin, **{KEY: typed}, note="x", action=action))
        assert response.status_code == 422
        doc = lxml.html.fromstring(response.get_data(as_text=True))
        assert "Unknown placeholder {order_number}" in doc.xpath(f'//*[@id="{KEY}-error"]')[0].text_content()
        assert "{name}, {reference}, {link}" in doc.xpath(f'//*[@id="{KEY}-error"]')[0].text_content()
        assert doc.xpath(f'//textarea[@name="{KEY}"]')[0].text == typed  # kept as typed
    no_link = post(admin, "/admin/mail-templates", templates_form(admin, **{KEY: "Dear {name}"}, note="x",
                                                                  action="submit"))
    assert "must contain {link}" in no_link.get_data(as_text=True)
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigDraft)) is None


def test_a_previewed_and_approved_template_is_what_customers_get(web_app):
    admin = login(web_app, "root", role="admin")
    wording = "Hello {name},\n\nyour new private link for {reference}:\n{link}\n"
    preview = post(admin, "/admin/mail-templates", templates_form(admin, **{KEY: wording}, action="preview"))
    assert preview.status_code == 200
    shown = lxml.html.fromstring(preview.get_data(as_text=True)).xpath('//*[@id="preview-tracking_link-en"]')[0]
    assert "Hello Fang Wang," in shown.text_content() and "TS-20261203-7K3QX" in shown.text_content()
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(ConfigDraft)) is None  # a preview stores nothing
    change = post(admin, "/admin/mail-templates", templates_form(admin, **{KEY: wording}, note="Friendlier",
                                                                 action="submit")).headers["Location"]
    reviewer = login(web_app, "rita.reviewer", role="compliance_reviewer")
    rows = lxml.html.fromstring(reviewer.get(change).get_data(as_text=True)).xpath(
        '//table[@id="changed-values"]/tbody/tr')
    assert [r.get("data-key") for r in rows] == [KEY]
    assert "Hello {name}," in rows[0].text_content() and defaults()[KEY][:20] in rows[0].text_content()
    mailer = web_app.extensions["redress.runtime"].mailer
    with web_app.extensions["redress.db"].write_session.begin() as s:
        mailer.queue_link(s, "C-1", "a@example.com", "en")  # before approval: the shipped wording
    post(reviewer, change + "/approve", {})
    with web_app.extensions["redress.db"].write_session.begin() as s:
        mailer.queue_link(s, "C-1", "a@example.com", "en")
    with web_app.extensions["redress.db"].session() as s:
        bodies = [m.body for m in s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]
        assert s.scalar(select(ConfigVersion.version).where(ConfigVersion.kind == "mail_templates")) == 1
    assert bodies[0].startswith("Dear ") and bodies[1].startswith("Hello ,\n\nyour new private link for C-1")
