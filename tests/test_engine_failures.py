"""Engine failures are process errors, never HTTP 500s (issue 11, failure 6).

Before: a `WorkflowDataException` while completing a task escaped `Runtime.complete` (a 500,
the instance still "running", nothing audited, the task never finishable), and a timer whose
run failed was taken again and again. Now the step is rolled back, the instance is marked
failed at it (status, error, task), audited and retryable, the person's input is kept, and a
failing timer backs off and is then parked while the other timers fire."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from processes.engine.actors import SYSTEM, Actor
from processes.engine.errors import ProcessFailed
from processes.engine.models import AuditEntry, HumanTask, ProcessInstance, Timer, utcnow
from processes.engine.runtime import TIMER_ATTEMPTS, Runtime

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="t">"""

# A task that promises an output (`answer`) its form may not deliver: completing it without
# one is a WorkflowDataException inside SpiffWorkflow.
PROMISE = HEAD + """
  <bpmn:process id="promise" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Ask"/>
    <bpmn:userTask id="Ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="ask.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:ioSpecification>
        <bpmn:dataOutput id="answer" name="answer"/>
        <bpmn:inputSet/><bpmn:outputSet><bpmn:dataOutputRefs>answer</bpmn:dataOutputRefs></bpmn:outputSet>
      </bpmn:ioSpecification>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Ask" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
ASK_FORM = {"type": "object", "properties": {"answer": {"type": "string"}, "note": {"type": "string"}}}

# A timer whose run leaves a set in the process data, which cannot be stored: every run fails.
POISON = HEAD + """
  <bpmn:process id="poison" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Wait"/>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1M"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Wait" targetRef="Mark"/>
    <bpmn:scriptTask id="Mark"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:script>marks = {1, 2} if poisoned else [1, 2]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Mark" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""

CLERK = Actor("clerk", "customer_service", "admin")  # may work any task, whatever its lane (a supervisor only their own)


def _audit(db, action):
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_a_failing_completion_marks_the_instance_keeps_the_input_and_can_be_retried(runtime, db):
    runtime.deploy({"promise.bpmn": PROMISE, "forms/ask.json": json.dumps(ASK_FORM)})
    instance_id = runtime.start("promise", "P-1", {})
    [task] = runtime.open_tasks("P-1")
    with pytest.raises(ProcessFailed) as caught:
        runtime.complete(task.id, CLERK, {"note": "called the customer"})
    assert caught.value.status == 500
    assert caught.value.message == "The process could not continue after your input; it has been reported."
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "error" and instance.error_task_id == task.id
        assert "WorkflowDataException" in instance.error and "answer" in instance.error
        row = s.get(HumanTask, task.id)
        assert row.status == "open" and row.draft == {"note": "called the customer"}  # nothing lost
    [entry] = _audit(db, "instance_error")
    assert entry.detail["task"] == "Ask" and entry.detail["step"] == "complete"
    assert not _audit(db, "task_completed")  # the completion itself was rolled back
    assert runtime.retry(instance_id, SYSTEM) == "running"
    runtime.complete(task.id, CLERK, {"note": "called", "answer": "refund"})
    assert runtime.instance_for("P-1").status == "completed"


def test_the_api_answers_json_and_the_task_page_keeps_what_was_typed(app, client, make_user):
    runtime = app.extensions["redress.runtime"]
    runtime.deploy({"promise.bpmn": PROMISE, "forms/ask.json": json.dumps(ASK_FORM)})
    runtime.start("promise", "P-2", {})
    runtime.start("promise", "P-3", {})
    first, second = runtime.open_tasks("P-2")[0], runtime.open_tasks("P-3")[0]
    _, token = make_user("clerk2", "customer_service", "supervisor")
    response = client.post(f"/api/v1/tasks/{first.id}/complete", json={"data": {"note": "x"}},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500 and response.is_json
    assert response.get_json()["error"] == "The process could not continue after your input; it has been reported."
    client.post("/login", data={"username": "clerk2", "password": "pw-12345678"})
    page = client.post(f"/tasks/{second.id}", data={"note": "the customer was called at ten"})
    text = page.get_data(as_text=True)
    assert page.status_code == 500 and "<form" in text
    assert "the customer was called at ten" in text and "提交后流程无法继续，问题已上报" in text  # Chinese first


def test_a_failing_timer_backs_off_then_parks_while_the_others_fire(db):
    runtime = Runtime(db, settings={})
    runtime.deploy({"poison.bpmn": POISON})
    bad = runtime.start("poison", "T-BAD", {"poisoned": True})
    goods = [runtime.start("poison", f"T-{i}", {"poisoned": False}) for i in range(3)]
    moment = utcnow() + timedelta(minutes=2)
    with time_machine.travel(moment, tick=False):
        began = time.perf_counter()
        assert runtime.fire_due_timers() == 3  # the poisoned one does not stop the others
        assert runtime.fire_due_timers() == 0  # and is not taken again at once
        assert time.perf_counter() - began < 5
    assert all(runtime.instance_for(f"T-{i}").status == "completed" for i in range(3)), goods
    with db.session() as s:
        timer = s.scalar(select(Timer).where(Timer.instance_id == bad))
        assert timer.status == "waiting" and timer.attempts == 1 and "TypeError" in timer.last_error
        first_delay = timer.due_at - moment
        instance = s.get(ProcessInstance, bad)
        assert instance.status == "error" and instance.error_task_id == timer.task_id
    assert timedelta(seconds=5) <= first_delay <= timedelta(seconds=60)
    # Each failure pushes the next run further out; after the last one the timer is parked.
    for _ in range(TIMER_ATTEMPTS - 1):
        with db.session() as s:
            due = s.scalar(select(Timer.due_at).where(Timer.instance_id == bad))
        with time_machine.travel(due + timedelta(seconds=1), tick=False):
            assert runtime.fire_due_timers() == 0
    with db.session() as s:
        timer = s.scalar(select(Timer).where(Timer.instance_id == bad))
        assert timer.status == "failed" and timer.attempts == TIMER_ATTEMPTS
    assert runtime.next_timer_due() is None  # the worker sleeps instead of spinning on it
    entries = [e for e in _audit(db, "instance_error") if e.instance_id == bad]
    assert len(entries) == TIMER_ATTEMPTS and entries[-1].detail["parked"] is True
    # Retry puts the parked timer back in line.
    assert runtime.retry(bad, SYSTEM) == "running"
    with db.session() as s:
        timer = s.scalar(select(Timer).where(Timer.instance_id == bad))
        assert timer.status == "waiting" and timer.attempts == 0


def test_a_failing_message_is_a_process_error(runtime, db, monkeypatch, standin_files):
    from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    runtime.deploy(standin_files)
    instance_id = runtime.start("standin", "M-1", {"channel": "phone", "rounds_done": 0})
    runtime.complete(runtime.open_tasks("M-1")[0].id, CLERK, {"subject": "Kettle", "severity": "low"})
    runtime.complete(runtime.open_tasks("M-1")[0].id, CLERK, {"findings": "seen", "again": False})
    awaiting = runtime.instance_for("M-1").awaiting
    assert awaiting == ["customer_response"]

    def broken(self, event):
        raise WorkflowDataException("Missing data ouput", task=None)

    monkeypatch.setattr(BpmnWorkflow, "send_event", broken)
    with pytest.raises(ProcessFailed):
        runtime.correlate("M-1", awaiting[0], {"x": 1})
    with db.session() as s:
        assert s.get(ProcessInstance, instance_id).status == "error"
    assert _audit(db, "instance_error")[-1].detail["step"] == f"message {awaiting[0]}"


def test_deploy_refuses_tasks_whose_form_or_handler_is_missing(runtime, db):
    from processes.engine.errors import DefinitionError
    from processes.engine.models import ProcessDefinition

    with pytest.raises(DefinitionError) as caught:
        runtime.deploy({"promise.bpmn": PROMISE})  # the form ask.json is not among the files
    assert "task Ask uses form 'ask.json'" in caught.value.message
    no_handler = PROMISE.replace('<bpmn:sequenceFlow id="F1" sourceRef="Ask" targetRef="Finish"/>', """
    <bpmn:sequenceFlow id="F1" sourceRef="Ask" targetRef="Call"/>
    <bpmn:serviceTask id="Call"><bpmn:extensionElements>
      <spiffworkflow:serviceTaskOperator id="no_such_handler"/></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F9" sourceRef="Call" targetRef="Finish"/>""").replace(
        '<bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>', '<bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>')
    with pytest.raises(DefinitionError) as caught:
        runtime.deploy({"promise.bpmn": no_handler, "forms/ask.json": json.dumps(ASK_FORM)})
    assert "task Call calls handler 'no_such_handler'" in caught.value.message
    with db.session() as s:
        assert s.scalars(select(ProcessDefinition)).all() == []  # nothing half-deployed


MULTI = HEAD + """
  <bpmn:process id="each" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Each"/>
    <bpmn:scriptTask id="Each"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="item" name="item"/><bpmn:outputDataItem id="result" name="result"/>
      </bpmn:multiInstanceLoopCharacteristics>
      <bpmn:script>result = 10 / item</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Each" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_failed_multi_instance_child_is_the_step_to_retry(runtime, db):
    runtime.deploy({"each.bpmn": MULTI})
    instance_id = runtime.start("each", "MI-1", {"items": [1, 0, 2]})
    instance = runtime.instance_for("MI-1")
    assert instance.status == "error" and "division by zero" in instance.error
    assert instance.error_task_id is not None  # was None: the failed child was never found
    assert runtime.retry(instance_id, SYSTEM) == "error"  # found and run again (and 10 / 0 fails again)
    [entry] = _audit(db, "instance_retried")
    assert entry.detail["tasks"] == ["Each"]
