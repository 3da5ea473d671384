"""Operations that repair or end a process (issue 15): skipping a failed step needs a second
person (four eyes), cancelling a complaint needs a reason, and the outbox shows each message's
body, attempts and error with resend and discard. Everything is audited."""

from __future__ import annotations

import lxml.html
from sqlalchemy import select

from processes.channels.portal_models import OutboundMessage
from processes.engine.models import AuditEntry, HumanTask, OperationRequest, ProcessInstance, Timer
from tests.test_operations import PW, failed_once, login  # noqa: F401 - the fixture

ERRORS = '//*[contains(@class, "invalid-feedback")]'


def audit(app, action):
    with app.extensions["redress.db"].session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def field_error(response, field_id):
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    found = doc.xpath(f'//*[@id="{field_id}-error"]')
    return found[0].text_content().strip() if found else None


def test_skipping_a_failed_step_needs_a_reason_and_a_second_person(app, make_user, failed_once):  # noqa: F811
    make_user("lead", "customer_service", "supervisor", PW)
    make_user("root", "management", "admin", PW)
    lead, root = login(app, "lead"), login(app, "root")
    empty = lead.post(f"/admin/operations/instances/{failed_once}/skip", data={"reason": "  "})
    assert empty.status_code == 422
    assert "Give the reason" in field_error(empty, f"reason-{failed_once}")
    lead.post(f"/admin/operations/instances/{failed_once}/skip", data={"reason": "CRM answered by phone"})
    page = lead.get("/admin/operations/").get_data(as_text=True)
    assert "lead asks to skip this step: CRM answered by phone" in page
    assert "Waiting for a second person to confirm." in page and "Confirm skip" not in page
    with app.extensions["redress.db"].session() as s:
        request_id = s.scalars(select(OperationRequest)).one().id
    # The person who asked cannot confirm it themselves, and nothing moved.
    own = lead.post(f"/admin/operations/skips/{request_id}/confirm", follow_redirects=True)
    assert "someone other than the person who asked" in own.get_data(as_text=True)
    with app.extensions["redress.db"].session() as s:
        assert s.get(ProcessInstance, failed_once).status == "error"
    assert "Confirm skip" in root.get("/admin/operations/").get_data(as_text=True)
    done = root.post(f"/admin/operations/skips/{request_id}/confirm", follow_redirects=True)
    assert "The step was skipped and the process went on." in done.get_data(as_text=True)
    runtime = app.extensions["redress.runtime"]
    runtime._cache.clear()  # as another process sees it: from the rows
    assert "Task_Echo" in runtime.diagram_state(failed_once).done
    with app.extensions["redress.db"].session() as s:
        instance = s.get(ProcessInstance, failed_once)
        assert instance.status == "running"
        assert [t.bpmn_id for t in s.scalars(select(HumanTask).where(HumanTask.status == "open"))] == ["Task_Handle"]
        assert s.get(OperationRequest, request_id).status == "confirmed"
    [entry] = audit(app, "step_skipped")
    assert (entry.actor, entry.detail["requested_by"], entry.detail["confirmed_by"], entry.detail["reason"],
            entry.detail["tasks"]) == ("root", "lead", "root", "CRM answered by phone", ["Task_Echo"])
    assert [e.actor for e in audit(app, "skip_requested")] == ["lead"]


def test_a_refused_skip_leaves_the_step_failed(app, make_user, failed_once):  # noqa: F811
    make_user("lead", "customer_service", "supervisor", PW)
    make_user("lead2", "customer_service", "supervisor", PW)
    login(app, "lead").post(f"/admin/operations/instances/{failed_once}/skip", data={"reason": "try"})
    with app.extensions["redress.db"].session() as s:
        request_id = s.scalars(select(OperationRequest)).one().id
    login(app, "lead2").post(f"/admin/operations/skips/{request_id}/refuse")
    with app.extensions["redress.db"].session() as s:
        assert s.get(ProcessInstance, failed_once).status == "error"
        assert s.get(OperationRequest, request_id).status == "refused"
    assert [e.actor for e in audit(app, "skip_refused")] == ["lead2"]


def test_cancelling_a_complaint_ends_its_tasks_and_timers_with_a_reason(app, make_user, standin_files, agent):
    from tests.test_runtime import only_open_task, start_standin

    runtime = app.extensions["redress.runtime"]
    instance_id = start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Kettle", "severity": "low"})
    make_user("root", "management", "admin", PW)
    make_user("cs1", "customer_service", "agent", PW)
    assert login(app, "cs1").post("/admin/operations/cancel", data={"reference": "C-1", "cancel_reason": "x"}
                                  ).status_code == 403
    root = login(app, "root")
    unknown = root.post("/admin/operations/cancel", data={"reference": "C-404", "cancel_reason": "dup"})
    assert unknown.status_code == 422 and "No complaint has this reference." in field_error(unknown, "reference")
    no_reason = root.post("/admin/operations/cancel", data={"reference": "C-1", "cancel_reason": ""})
    assert no_reason.status_code == 422 and "Give the reason" in field_error(no_reason, "cancel_reason")
    assert 'value="C-1"' in no_reason.get_data(as_text=True)  # what was typed is kept
    done = root.post("/admin/operations/cancel", data={"reference": "C-1", "cancel_reason": "Customer withdrew"},
                     follow_redirects=True)
    assert "Complaint C-1 is cancelled" in done.get_data(as_text=True)
    with app.extensions["redress.db"].session() as s:
        assert s.get(ProcessInstance, instance_id).status == "cancelled"
        assert not s.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
        assert not s.scalars(select(Timer).where(Timer.status == "waiting")).all()
    [entry] = audit(app, "instance_cancelled")
    assert (entry.actor, entry.detail["reason"]) == ("root", "Customer withdrew")
    again = root.post("/admin/operations/cancel", data={"reference": "C-1", "cancel_reason": "again"})
    assert "already ended" in field_error(again, "reference")


class FakeSmtp:
    def __init__(self):
        self.sent = []

    def send(self, message, timeout=10.0):
        self.sent.append(message)


def failed_message(app) -> int:
    with app.extensions["redress.db"].write_session.begin() as s:
        row = OutboundMessage(reference="C-9", template="response", language="zh-CN", to_address="wang@example.cn",
                              subject="您的投诉 C-9", body="王女士您好,我们的答复如下。", status="failed",
                              attempts=5, last_error="550 mailbox unavailable")
        s.add(row)
        s.flush()
        return row.id


def test_the_outbox_shows_the_body_attempts_and_error_and_resends(app, make_user):
    message_id = failed_message(app)
    make_user("lead", "customer_service", "supervisor", PW)
    make_user("cs1", "customer_service", "agent", PW)
    assert login(app, "cs1").get(f"/admin/outbox/{message_id}").status_code == 403
    lead = login(app, "lead")
    assert f"/admin/outbox/{message_id}" in lead.get("/admin/outbox").get_data(as_text=True)
    doc = lxml.html.fromstring(lead.get(f"/admin/outbox/{message_id}").get_data(as_text=True))
    assert doc.xpath('//*[@id="message-body"]')[0].text_content() == "王女士您好,我们的答复如下。"
    assert doc.xpath('//*[@id="message-attempts"]')[0].text_content() == "5"
    assert doc.xpath('//*[@id="message-error"]')[0].text_content() == "550 mailbox unavailable"
    # Without a mail server a resend is refused and nothing changes.
    refused = lead.post(f"/admin/outbox/{message_id}/resend", follow_redirects=True)
    assert "No mail server is configured" in refused.get_data(as_text=True)
    smtp = FakeSmtp()
    app.extensions["redress.runtime"].mailer.smtp = smtp
    lead.post(f"/admin/outbox/{message_id}/resend")
    assert [m["To"] for m in smtp.sent] == ["wang@example.cn"]
    with app.extensions["redress.db"].session() as s:
        row = s.get(OutboundMessage, message_id)
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert [(e.actor, e.detail["was"]) for e in audit(app, "mail_resent")] == [("lead", "failed")]


def test_discarding_a_message_needs_a_reason_and_it_is_never_sent(app, make_user):
    message_id = failed_message(app)
    make_user("root", "management", "admin", PW)
    root = login(app, "root")
    empty = root.post(f"/admin/outbox/{message_id}/discard", data={"reason": ""})
    assert empty.status_code == 422 and "Give the reason" in field_error(empty, "reason")
    root.post(f"/admin/outbox/{message_id}/discard", data={"reason": "Wrong address, customer called"})
    smtp = FakeSmtp()
    app.extensions["redress.runtime"].mailer.smtp = smtp
    app.extensions["redress.runtime"].mailer.deliver_due()
    assert smtp.sent == []
    with app.extensions["redress.db"].session() as s:
        assert s.get(OutboundMessage, message_id).status == "discarded"
    assert [e.detail["reason"] for e in audit(app, "mail_discarded")] == ["Wrong address, customer called"]
