"""A deadline and a priority on every human task (issue 13): the complaint domain's task decorator,
installed by the composition root, and the inbox's urgency-first order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from processes.app import build_runtime
from processes.complaints import registration
from processes.complaints.sla import SlaPolicy
from processes.complaints.task_urgency import DECORATOR, deadline, priority
from processes.engine.actors import Actor
from processes.engine.inbox import Filters, list_tasks
from processes.engine.models import HumanTask, ProcessInstance
from tests.conftest import needs_shipped_model

POLICY = SlaPolicy.profile("default")
SUPERVISOR = Actor("zhao", "customer_service", "supervisor")


def intake(subject, **extra):
    return {"channel": "phone", "customer": {"name": "王芳", "phone": "13800001111", **extra.pop("customer", {})},
            "subject": subject, "description": subject, **extra}


@pytest.fixture
@needs_shipped_model
def complaint_runtime(db):
    return build_runtime(db=db, mail=False)


def open_rows(db, reference):
    with db.session() as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.business_key == reference,
                                                      HumanTask.status == "open")))


def test_priority_weighs_severity_safety_tier_repeats_and_escalation():
    assert priority({"severity": "low"}) == 5
    assert priority({"severity": "medium"}) == 4
    assert priority({"severity": "critical"}) == 2
    assert priority({"severity": "low", "safety_issue": True}) == 1  # a safety issue is critical and first
    assert priority({"severity": "medium", "customer_tier": "vip"}) == 2
    assert priority({"severity": "medium", "duplicate_of": "TS-20260101-AAAAA"}) == 3
    assert priority({"severity": "medium", "escalation_level": 3}) == 2
    assert priority({}) == 4  # unknown severity reads as medium


def test_deadline_is_the_sooner_of_the_stage_limit_and_the_time_left_overall():
    arrived = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
    data = {"severity": "medium", "received_at": arrived.isoformat()}
    # Early on, the stage limit (respond: 5 working days) comes first.
    assert deadline("respond", data, arrived, policy=POLICY) == POLICY.deadline("respond", "medium", arrived)
    # Nine days after receipt, only one day is left of the overall limit (resolve: 10 calendar days).
    late = arrived + timedelta(days=9)
    overall = POLICY.deadline("resolve", "medium", arrived)
    assert deadline("respond", data, late, policy=POLICY) == overall < POLICY.deadline("respond", "medium", late)
    # A timer attached to the task caps it too; a survey call has only its own limit.
    soon = arrived + timedelta(hours=2)
    assert deadline("respond", data, arrived, soon, policy=POLICY) == soon
    assert deadline("survey", data, late, policy=POLICY) == POLICY.deadline("survey", "medium", late)
    # A safety issue reads the critical limits.
    assert deadline("accept", {**data, "safety_issue": True}, arrived, policy=POLICY) == \
        POLICY.deadline("accept", "critical", arrived)
    assert deadline(None, data, arrived) is None


def test_the_composition_root_installs_the_decorator(complaint_runtime):
    assert DECORATOR in complaint_runtime.task_decorators


def test_a_registered_complaint_gets_a_dated_prioritised_task_and_safety_comes_first(db, complaint_runtime):
    before = datetime.now(UTC)
    ordinary = registration.register(complaint_runtime, intake("包装破损", severity="low"))
    safety = registration.register(complaint_runtime, intake("电水壶底座漏电", safety_issue=True))
    (plain_task,) = open_rows(db, ordinary)
    (safety_task,) = open_rows(db, safety)
    assert plain_task.bpmn_id == "Task_Register" and plain_task.priority == 5
    # acknowledge: 1 working day for low, 1 hour for a (critical) safety issue
    assert plain_task.due_at == POLICY.deadline("acknowledge", "low", plain_task.created_at)
    assert safety_task.priority == 1
    assert before + timedelta(minutes=59) < safety_task.due_at <= datetime.now(UTC) + timedelta(hours=1)
    # Even when the ordinary task is due sooner, priority comes before time left.
    with db.write_session.begin() as s:
        s.get(HumanTask, plain_task.id).due_at = datetime.now(UTC) + timedelta(minutes=10)
    with db.session() as s:
        order = [t.business_key for t in list_tasks(s, SUPERVISOR, "all").tasks]
    assert order.index(safety) < order.index(ordinary)


def test_open_tasks_are_recomputed_when_the_severity_changes(db, complaint_runtime):
    reference = registration.register(complaint_runtime, intake("空调不制冷", severity="low"))
    (task,) = open_rows(db, reference)
    assert task.priority == 5
    with db.session() as s:
        instance_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == reference))

    def escalate(session, instance, workflow):
        workflow.data.update(severity="critical", safety_issue=True)

    complaint_runtime.change_instance(instance_id, SUPERVISOR, escalate, run=False)
    (after,) = open_rows(db, reference)
    assert after.id == task.id and after.priority == 1
    # The stage clock still starts when the task arrived, now on the critical limit (1 hour).
    assert after.due_at < task.due_at
    expected = POLICY.deadline("acknowledge", "critical", after.created_at)
    assert abs(after.due_at - expected) < timedelta(seconds=1)


def test_an_open_task_carries_the_escalation_level_for_the_inbox_filter(db, complaint_runtime):
    reference = registration.register(complaint_runtime, intake("空调不制冷", severity="low"))
    (task,) = open_rows(db, reference)
    assert task.escalation_level == 1
    with db.session() as s:
        instance_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == reference))

    def escalate(session, instance, workflow):
        workflow.data.update(escalation_level=3)

    complaint_runtime.change_instance(instance_id, SUPERVISOR, escalate, run=False)
    (after,) = open_rows(db, reference)
    assert after.escalation_level == 3 and after.priority < task.priority
    with db.session() as s:
        found = list_tasks(s, SUPERVISOR, "all", 1, 50, filters=Filters(level="3"))
    assert [t.id for t in found.tasks] == [task.id]


def test_changing_the_sla_policy_recomputes_open_tasks(db, complaint_runtime, monkeypatch, tmp_path):
    reference = registration.register(complaint_runtime, intake("账单重复扣款", severity="medium"))
    (task,) = open_rows(db, reference)
    # The deployment's policy changes (a much shorter acknowledge limit); `redress tasks redecorate`.
    path = tmp_path / "sla.json"
    path.write_text(json.dumps({"limits": {"acknowledge": "2 hours"}}), encoding="utf-8")
    monkeypatch.setenv("REDRESS_SLA_CONFIG", str(path))
    assert complaint_runtime.redecorate_open_tasks() == 1
    (after,) = open_rows(db, reference)
    assert abs(after.due_at - (after.created_at + timedelta(hours=2))) < timedelta(seconds=1)
    assert after.due_at < task.due_at
