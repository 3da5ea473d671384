"""The runtime facade on the stand-in process: deploy, start, inbox rows, complete, conflicts."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from processes.engine.actors import Actor
from processes.engine.errors import Conflict, Forbidden, NotWaiting, ValidationFailed
from processes.engine.models import HumanTask, InstanceTask, ProcessDefinition, ProcessInstance


def start_standin(runtime, standin_files, key="C-1"):
    runtime.deploy(standin_files)
    instance_id = runtime.start("standin", key, {"channel": "phone", "rounds_done": 0})
    return instance_id


def only_open_task(runtime, key):
    tasks = runtime.open_tasks(key)
    assert len(tasks) == 1, [t.bpmn_id for t in tasks]
    return tasks[0]


def test_deploy_numbers_versions_and_ignores_identical_content(runtime, standin_files, db):
    first = runtime.deploy(standin_files)
    again = runtime.deploy(standin_files)
    assert [d.version for d in first] == [1]
    assert again[0].id == first[0].id
    changed = dict(standin_files)
    changed["forms/handle.json"] = changed["forms/handle.json"].replace("Findings", "Findings found")
    second = runtime.deploy(changed)
    assert second[0].version == 2 and second[0].sha256 != first[0].sha256
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 2


def test_running_instance_stays_on_its_version(runtime, standin_files, agent, db):
    instance_id = start_standin(runtime, standin_files)
    changed = dict(standin_files)
    changed["forms/register.json"] = changed["forms/register.json"].replace('"minLength": 3', '"minLength": 50')
    runtime.deploy(changed)
    task = only_open_task(runtime, "C-1")
    # Still the old form (minLength 3): a short subject passes.
    runtime.complete(task.id, agent, {"subject": "Broken kettle", "severity": "high"})
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert s.get(ProcessDefinition, instance.definition_id).version == 1


def test_human_task_rows_follow_the_process(runtime, standin_files, agent, product_staff):
    start_standin(runtime, standin_files)
    register = only_open_task(runtime, "C-1")
    assert (register.bpmn_id, register.department, register.form) == ("Task_Register", "customer_service",
                                                                      "register.json")
    open_now = runtime.complete(register.id, agent, {"subject": "Broken kettle", "severity": "high"})
    assert [t.bpmn_id for t in open_now] == ["Task_Handle"]
    handle = open_now[0]
    assert handle.department == "product" and handle.severity == "high" and handle.due_at is not None
    data = runtime.task_data(handle.id)
    assert data["echo_subject"] == "Broken kettle"  # the service task's handler ran


def test_validation_errors_per_field_and_nothing_changes(runtime, standin_files, agent, db):
    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    with pytest.raises(ValidationFailed) as caught:
        runtime.complete(task.id, agent, {"subject": "x", "severity": "enormous"})
    assert set(caught.value.errors) == {"subject", "severity"}
    assert only_open_task(runtime, "C-1").id == task.id


def test_unknown_fields_do_not_reach_the_process(runtime, standin_files, agent):
    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    runtime.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low", "settings": {"x": 1}})
    handle = only_open_task(runtime, "C-1")
    assert runtime.task_data(handle.id)["settings"] == runtime.settings  # not {"x": 1}


def test_other_department_may_not_complete(runtime, standin_files, product_staff):
    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    with pytest.raises(Forbidden):
        runtime.complete(task.id, product_staff, {"subject": "Broken kettle", "severity": "low"})
    supervisor = Actor("zhao.sup", "customer_service", "supervisor")
    runtime.complete(task.id, supervisor, {"subject": "Broken kettle", "severity": "low"})


def test_claim_unclaim_reassign(runtime, standin_files, agent):
    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    colleague = Actor("chen.agent", "customer_service", "agent")
    runtime.claim(task.id, agent)
    with pytest.raises(Conflict):
        runtime.claim(task.id, colleague)
    with pytest.raises(Forbidden):
        runtime.complete(task.id, colleague, {"subject": "Broken kettle", "severity": "low"})
    with pytest.raises(Forbidden):
        runtime.unclaim(task.id, colleague)
    runtime.reassign(task.id, agent, colleague)
    runtime.complete(task.id, colleague, {"subject": "Broken kettle", "severity": "low"})


def test_completing_twice_is_a_conflict(runtime, standin_files, agent):
    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    runtime.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low"})
    with pytest.raises(Conflict):
        runtime.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low"})


@pytest.mark.postgres
def test_concurrent_completion_one_wins(runtime, standin_files, agent, db):
    from processes.engine.runtime import Runtime

    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    # Two runtimes stand for two web processes: neither shares the other's cache.
    others = [Runtime(db, settings=runtime.settings) for _ in range(2)]
    outcomes, barrier = [], threading.Barrier(2)

    def work(rt):
        barrier.wait()
        try:
            rt.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low"})
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=work, args=(rt,)) for rt in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    with db.session() as s:
        handles = s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_Handle")).all()
        assert len(handles) == 1


@pytest.mark.postgres
def test_a_completion_waits_for_the_one_in_progress_interleaved_by_hand(runtime, standin_files, agent, db):
    """No timing luck: the first completion is held mid-step, inside its transaction; the second must be
    seen waiting on a lock by the server itself, and after the first commits it finds the task done
    without running the step a second time (a service task's side effects happen once)."""
    import time

    from sqlalchemy import text

    from processes.engine.runtime import Runtime

    start_standin(runtime, standin_files)
    task = only_open_task(runtime, "C-1")
    first, second = Runtime(db, settings=runtime.settings), Runtime(db, settings=runtime.settings)
    inside, release = threading.Event(), threading.Event()

    def hold(session, instance, facts, uow):
        inside.set()
        release.wait(30)

    first.observers.append(hold)
    second_stepped: list[int] = []
    second.observers.append(lambda session, instance, facts, uow: second_stepped.append(instance.id))
    outcomes: dict[str, str] = {}

    def work(name, rt):
        try:
            rt.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low"})
            outcomes[name] = "ok"
        except Conflict:
            outcomes[name] = "conflict"

    def lock_waiters() -> int:
        with db.session() as s:
            return s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'"))

    a = threading.Thread(target=work, args=("first", first))
    a.start()
    assert inside.wait(30), "the first completion never reached its step"
    b = threading.Thread(target=work, args=("second", second))
    b.start()
    deadline = time.monotonic() + 20
    while lock_waiters() < 1:
        assert time.monotonic() < deadline, "the second completion did not wait for the first"
        assert "second" not in outcomes, f"the second completion went through: {outcomes}"
        time.sleep(0.05)
    release.set()
    a.join(30)
    b.join(30)
    assert outcomes == {"first": "ok", "second": "conflict"}
    assert second_stepped == [], "the second completion ran the step again before it was refused"
    with db.session() as s:
        assert len(s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_Handle")).all()) == 1


def test_message_correlation(runtime, standin_files, agent, product_staff, db):
    instance_id = start_standin(runtime, standin_files)
    with pytest.raises(NotWaiting):
        runtime.correlate("C-1", "customer_response", {"customer_decision": "accept"})
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Broken kettle", "severity": "low"})
    runtime.complete(only_open_task(runtime, "C-1").id, product_staff, {"findings": "ok"})
    with db.session() as s:
        assert s.get(ProcessInstance, instance_id).awaiting == ["customer_response"]
    runtime.correlate("C-1", "customer_response", {"customer_decision": "accept"})
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "completed" and instance.awaiting == []


def test_saving_writes_only_changed_tasks(runtime, standin_files, agent, product_staff, db):
    instance_id = start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Broken kettle", "severity": "low"})
    for _ in range(5):
        runtime.complete(only_open_task(runtime, "C-1").id, product_staff, {"findings": "again", "again": True})
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(InstanceTask).where(InstanceTask.instance_id == instance_id))
    # A fresh runtime (cold cache) loads the same workflow from rows and carries on.
    from processes.engine.runtime import Runtime

    cold = Runtime(db, settings=runtime.settings)
    cold.complete(only_open_task(cold, "C-1").id, product_staff, {"findings": "done"})
    assert cold.load_workflow(instance_id).get_tasks(spec_name="Event_CustomerResponse")
    assert rows > 10


def test_failing_handler_leaves_instance_at_the_task_and_retry_resumes(runtime, standin_files, agent,
                                                                        monkeypatch, db):
    from processes.engine import handlers as registry

    calls = {"n": 0}

    def flaky(ctx):
        calls["n"] += 1
        if calls["n"] == 1:
            raise registry.HandlerError("the CRM did not answer")
        return {"echo_subject": ctx.params["subject"]}

    registry.get_handler("echo")  # load the built-ins before replacing one
    monkeypatch.setitem(registry._HANDLERS, "echo", flaky)
    instance_id = start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Broken kettle", "severity": "low"})
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "error" and "the CRM did not answer" in instance.error
    assert runtime.open_tasks("C-1") == []
    assert runtime.retry(instance_id) == "running"
    assert only_open_task(runtime, "C-1").bpmn_id == "Task_Handle"


def test_timer_fires_once_through_the_worker_path(runtime, standin_files, agent, db):
    from datetime import timedelta

    import time_machine

    from processes.engine.models import Timer, utcnow

    start_standin(runtime, standin_files)
    runtime.complete(only_open_task(runtime, "C-1").id, agent, {"subject": "Broken kettle", "severity": "low"})
    assert runtime.fire_due_timers() == 0
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        assert runtime.fire_due_timers() == 1
        assert runtime.fire_due_timers() == 0
    handle = only_open_task(runtime, "C-1")  # non-interrupting: the work stays open
    assert handle.bpmn_id == "Task_Handle"
    with db.session() as s:
        assert [t.status for t in s.scalars(select(Timer))] == ["fired"]
    assert runtime.task_data(handle.id).get("sla_breached") is None  # the breach ran on its own branch
