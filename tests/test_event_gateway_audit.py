"""At an event-based gateway the audit says which event won (issue 11, failure 8).

Before: a customer's answer that came before the deadline was audited as `timer_fired`
("deadline reached") and the timer row marked fired."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from processes.engine.models import AuditEntry, Timer, utcnow
from processes.engine.runtime import Runtime

RACE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
  <bpmn:message id="Message_answer" name="answer"/>
  <bpmn:process id="race" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Await"/>
    <bpmn:eventBasedGateway id="Await"><bpmn:incoming>F0</bpmn:incoming>
      <bpmn:outgoing>Fm</bpmn:outgoing><bpmn:outgoing>Ft</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:sequenceFlow id="Fm" sourceRef="Await" targetRef="Answered"/>
    <bpmn:sequenceFlow id="Ft" sourceRef="Await" targetRef="Deadline"/>
    <bpmn:intermediateCatchEvent id="Answered"><bpmn:incoming>Fm</bpmn:incoming><bpmn:outgoing>Fm2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Message_answer"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="Deadline"><bpmn:incoming>Ft</bpmn:incoming><bpmn:outgoing>Ft2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Fm2" sourceRef="Answered" targetRef="EndAnswered"/>
    <bpmn:sequenceFlow id="Ft2" sourceRef="Deadline" targetRef="EndLate"/>
    <bpmn:endEvent id="EndAnswered"><bpmn:incoming>Fm2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="EndLate"><bpmn:incoming>Ft2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _actions(db, instance_id):
    with db.session() as s:
        return [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id)
                                            .order_by(AuditEntry.id))]


def _timer_status(db, instance_id):
    with db.session() as s:
        return s.scalar(select(Timer.status).where(Timer.instance_id == instance_id))


def test_a_message_before_the_deadline_is_recorded_as_the_message_and_the_timer_is_cancelled(db):
    runtime = Runtime(db, settings={})
    runtime.deploy({"race.bpmn": RACE})
    instance_id = runtime.start("race", "R-1", {})
    assert _timer_status(db, instance_id) == "waiting"
    runtime.correlate("R-1", "answer", {"reply": "yes"})
    actions = _actions(db, instance_id)
    assert "message_received" in actions and "timer_fired" not in actions
    assert _timer_status(db, instance_id) == "cancelled"
    assert runtime.instance_for("R-1").status == "completed"


def test_a_deadline_reached_first_is_recorded_as_the_timer(db):
    runtime = Runtime(db, settings={})
    runtime.deploy({"race.bpmn": RACE})
    instance_id = runtime.start("race", "R-2", {})
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        assert runtime.fire_due_timers() == 1
    actions = _actions(db, instance_id)
    assert "timer_fired" in actions and "message_received" not in actions
    assert _timer_status(db, instance_id) == "fired"
