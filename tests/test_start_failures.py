"""A failure that escapes `Runtime.start` is a process error too (issue 11, failure 6).

Before: the start was rolled back and only audited (`instance_start_failed`): nothing was
stored, the phone agent's complaint was lost, and operations had nothing to retry. Now the
instance is stored unrun and in error at its start, with the caller's data and the complaint
record, listed on the operations page and retryable from there."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from processes.complaints.records import Complaint
from processes.engine.actors import SYSTEM
from processes.engine.models import AuditEntry, HumanTask, ProcessInstance
from tests.test_engine_failures import HEAD
from tests.test_workspace_pages import PASSWORD, app, login, people  # noqa: F401 - fixtures

# The start script leaves a set in the process data, which cannot be stored: the engine step
# succeeds, persisting it fails, outside the script-error handling of `_run`.
SET_AT_START = HEAD + """
  <bpmn:process id="sets" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Mark"/>
    <bpmn:scriptTask id="Mark"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:script>marks = {1, 2}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Mark" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _entries(db, action):
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_a_start_that_fails_past_the_engine_is_stored_in_error_with_its_data(runtime, db):
    runtime.deploy({"sets.bpmn": SET_AT_START})
    instance_id = runtime.start("sets", "S-1", {"customer_words": "the kettle leaks"})
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "error" and instance.business_key == "S-1"
        assert "TypeError" in instance.error
    [entry] = _entries(db, "instance_error")
    assert entry.instance_id == instance_id and entry.detail["step"] == "start"
    assert not _entries(db, "instance_start_failed")
    # The caller's input is in the stored (unrun) workflow.
    [ready] = runtime.load_workflow(instance_id).get_tasks(state=16)  # TaskState.READY
    assert ready.data["customer_words"] == "the kettle leaks"
    # Retrying runs it from its start; it fails the same way and says so, without raising.
    assert runtime.retry(instance_id, SYSTEM) == "error"
    assert len(_entries(db, "instance_error")) == 2 and len(_entries(db, "instance_retried")) == 0


def test_a_phone_complaint_whose_start_fails_is_kept_listed_and_retried_from_operations(
        app, client, people, make_user):  # noqa: F811
    runtime = app.extensions["redress.runtime"]
    calls = {"n": 0}

    def fails_once(session, instance, facts, uow):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the search index did not answer")

    runtime.observers.append(fails_once)
    login(client, "agent")
    form = {"channel": "phone", "customer_name": "王芳", "customer_phone": "137 0013 7001",
            "subject": "洗衣机漏水", "description": "第一次使用就漏水。", "remedy_sought": "换货"}
    response = client.post("/complaints/new", data=form)
    assert response.status_code == 302
    reference = re.search(r"TS-\d{8}-\w{5}", response.headers["Location"]).group(0)
    db = app.extensions["redress.db"]
    with db.session() as s:
        complaint = s.scalar(select(Complaint).where(Complaint.reference == reference))
        assert complaint.subject == "洗衣机漏水" and complaint.customer_name == "王芳"  # nothing lost
        instance = s.get(ProcessInstance, complaint.instance_id)
        assert instance.status == "error" and "the search index did not answer" in instance.error
        assert s.scalar(select(func.count()).select_from(HumanTask)
                        .where(HumanTask.instance_id == instance.id)) == 0
    assert client.get(f"/complaints/{reference}").status_code == 200

    make_user("ops", "customer_service", "admin", PASSWORD)
    login(client, "ops", locale="en")
    table = client.get("/admin/operations/").get_data(as_text=True).split('id="failed-instances"')[1]
    assert reference in table and "the search index did not answer" in table
    done = client.post(f"/admin/operations/instances/{instance.id}/retry", follow_redirects=True)
    assert "the process went on" in done.get_data(as_text=True)
    with db.session() as s:
        assert s.get(ProcessInstance, instance.id).status == "running"
    assert runtime.open_tasks(reference), "the process ran on to its first task"
