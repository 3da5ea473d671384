"""The tracked workflow: the same process behaviour as SpiffWorkflow's own, at a cost that
does not grow with an instance's history."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

import processes.complaints.records  # noqa: F401 - the handlers' tables
from processes.benchmarks.engine import memory_complaint
from processes.complaints.settings import default_settings as default_process_settings
from processes.engine.actors import SYSTEM
from processes.engine.db import Base
from processes.engine.definitions import read_files
from processes.engine.errors import ValidationFailed
from processes.engine.models import InstanceTask
from processes.engine.runtime import Runtime
from processes.engine.spiff import RedressScriptEngine, parse_definition
from processes.engine.tracking import TrackedWorkflow, reindex
from tests.conftest import ROOT

AGAIN = {"findings": "one more round", "again": True}


@pytest.fixture(scope="module")
def complaint_specs():
    files = read_files(ROOT, "bpmn", "forms")
    return parse_definition({k: v.encode() for k, v in files.items()}, "complaint_handling")


def _drive(workflow_class, specs) -> tuple[list[str], BpmnWorkflow]:
    """Run the rule-based complaint path in memory; returns every step in the order it ran."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    ran: list[str] = []
    with Session(engine) as session:
        workflow = memory_complaint(*specs, session, "C-1", workflow_class, trace=ran.append)
    return ran, workflow


def test_tracked_engine_runs_the_complaint_process_step_for_step_like_spiffworkflow(complaint_specs):
    bare_steps, bare = _drive(BpmnWorkflow, complaint_specs)
    tracked_steps, tracked = _drive(TrackedWorkflow, complaint_specs)
    assert bare.completed and tracked.completed
    assert tracked_steps == bare_steps
    # The subprocess (the rule-based strategy) ran inside it, in the same place.
    assert "Task_Apply_Policy" in tracked_steps


def _loop_until(runtime, key: str, rounds: int) -> None:
    runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, {"subject": "Kettle leaks", "severity": "high"})
    for _ in range(rounds - 1):
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(AGAIN))


def _rows_written_by_one_completion(runtime, db, key: str) -> int:
    written = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO INSTANCE_TASKS"):
            written.append(len(params) if executemany else 1)

    engine = db.write_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(AGAIN))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sum(written)


def test_a_completion_writes_the_same_rows_after_5_and_after_80_rounds(runtime, db, standin_files):
    runtime.deploy(standin_files)
    for key in ("short", "long"):
        runtime.start("standin", key, {"channel": "phone", "rounds_done": 0})
    _loop_until(runtime, "short", 5)
    _loop_until(runtime, "long", 80)
    assert _rows_written_by_one_completion(runtime, db, "short") == _rows_written_by_one_completion(
        runtime, db, "long")
    # Only what is still open is looked at: the finished rounds are not among the live tasks.
    short, long = (runtime.load_workflow(runtime.instance_for(key).id) for key in ("short", "long"))
    assert len(long.tasks) > len(short.tasks) + 70
    assert len(long.tasks.unfinished()) == len(short.tasks.unfinished())


def test_an_instance_loaded_from_its_rows_carries_on_where_it_stood(db, standin_files):
    first = Runtime(db, settings={**default_process_settings(), "handle_sla": "PT1H"})
    first.deploy(standin_files)
    first.start("standin", "C-1", {"channel": "phone", "rounds_done": 0})
    _loop_until(first, "C-1", 12)
    # A second process (no cache) picks the instance up from the database.
    second = Runtime(db, settings=first.settings)
    task = second.open_tasks("C-1")[0]
    second.complete(task.id, SYSTEM, {"findings": "done", "again": False})
    second.correlate("C-1", "customer_response", {"customer_decision": "accept"})
    assert second.instance_for("C-1").status == "completed"
    with db.session() as s:
        stored = s.query(InstanceTask).filter_by(instance_id=second.instance_for("C-1").id).count()
    assert stored > 12  # every round's task is kept


def _standin_at_register(standin_files):
    """A tracked stand-in workflow in memory, and its first task (Register), ready."""
    spec, subprocess_specs = parse_definition({k: v.encode() for k, v in standin_files.items()}, "standin")
    workflow = TrackedWorkflow(spec, subprocess_specs, script_engine=RedressScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": {"handle_sla": "PT1H"}, "channel": "phone", "rounds_done": 0})
    workflow.do_engine_steps()
    return workflow, workflow.ready_tasks()[0]


def test_a_reset_brings_a_finished_task_back_into_play(standin_files):
    workflow, register = _standin_at_register(standin_files)
    assert register.task_spec.bpmn_id == "Task_Register"
    register.data.update({"subject": "Kettle leaks", "severity": "high"})
    register.run()
    workflow.do_engine_steps()
    assert [t.task_spec.bpmn_id for t in workflow.ready_tasks()] == ["Task_Handle"]
    workflow.tasks.saved()  # as the store does once the rows are written

    removed = workflow.reset_from_task_id(register.id)
    assert removed and register.id not in {t.id for t in removed}
    assert [t.task_spec.bpmn_id for t in workflow.ready_tasks() if t.task_spec.manual] == ["Task_Register"]
    assert {t.id for t in removed} <= workflow.tasks.removed.keys()  # their rows go


ENGINE_FIXTURES = ROOT / "tests" / "fixtures" / "engine"


def _spec(filename: str, process_id: str):
    files = {filename: (ENGINE_FIXTURES / filename).read_bytes()}
    return parse_definition(files, process_id)


def test_parallel_branches_run_in_spiffworkflows_order_cached_or_loaded():
    """A signal thrown in one branch and caught in the other: the order of the two branches'
    ready steps decides the outcome, so it must be SpiffWorkflow's, also after a reload."""
    spec, subprocess_specs = _spec("signal_race.bpmn", "signal_race")
    outcomes = {}
    for name, workflow_class, reload_midway in [("bare", BpmnWorkflow, False), ("tracked", TrackedWorkflow, False),
                                                ("reloaded", TrackedWorkflow, True)]:
        workflow = workflow_class(spec, subprocess_specs, script_engine=RedressScriptEngine())
        if reload_midway:
            steps = workflow._do_engine_steps

            def step_with_reload(*args, workflow=workflow, steps=steps, **kwargs):
                if any(t.task_spec.bpmn_id == "A_Throw" for t in workflow.ready_tasks()):
                    reindex(workflow)  # what loading the instance from its rows does
                return steps(*args, **kwargs)

            workflow._do_engine_steps = step_with_reload
        workflow.do_engine_steps()
        assert workflow.completed, name
        outcomes[name] = workflow.data["x"]
    assert outcomes["tracked"] == outcomes["reloaded"] == outcomes["bare"]


def test_a_long_loop_goes_on_and_its_failure_is_found(db):
    """Past depth 1000 SpiffWorkflow's walk stops looking; the tracked workflow's steps and
    searches both go on, so the runtime finds the failed step and can retry it."""
    runtime = Runtime(db, settings={})
    runtime.deploy({"long_loop.bpmn": (ENGINE_FIXTURES / "long_loop.bpmn").read_text()})
    instance_id = runtime.start("long_loop", "L-1", {"i": 0})
    instance = runtime.instance_for("L-1")
    assert instance.status == "error" and "missing_variable" in instance.error
    workflow = runtime.load_workflow(instance_id)
    [failed] = workflow.get_tasks(state=TaskState.ERROR)
    assert failed.task_spec.bpmn_id == "Fail" and failed.data["i"] == 700
    assert str(failed.id) == instance.error_task_id
    assert runtime.retry(instance_id) == "error"  # still failing, but retried: the step was found


def test_a_task_finished_just_before_a_reset_is_still_written(standin_files):
    workflow, register = _standin_at_register(standin_files)
    workflow.tasks.saved()  # Register is stored as READY
    register.data.update({"subject": "Kettle leaks", "severity": "high"})
    register.run()
    workflow.do_engine_steps()
    handle = next(t for t in workflow.ready_tasks() if t.task_spec.bpmn_id == "Task_Handle")
    workflow.reset_from_task_id(handle.id)
    assert register.id in workflow.tasks.touched  # its COMPLETED state still has to reach its row


def test_a_loaded_instance_keeps_the_order_of_its_subprocesses_and_waiting_events(db):
    """SpiffWorkflow runs subprocesses of one depth in creation order and offers an event to
    waiting tasks in the order they began to wait; rows come back in no order, so the store
    keeps both orders, and an instance behaves the same loaded as cached."""
    runtime = Runtime(db, settings={})
    runtime.deploy({"subprocess_race.bpmn": (ENGINE_FIXTURES / "subprocess_race.bpmn").read_text()})
    outcomes = set()
    for n in range(6):
        instance_id = runtime.start("race2", f"R-{n}", {})
        cached = runtime._cache[instance_id][1]
        loaded = runtime.load_workflow(instance_id)
        for workflow in (cached, loaded):
            outcomes.add((tuple(workflow.get_task_from_id(k).task_spec.bpmn_id for k in workflow.subprocesses),
                          tuple(t.task_spec.bpmn_id for t in workflow.event_manager.tasks.values())))
    assert len(outcomes) == 1, outcomes


def test_nan_and_infinity_are_refused_where_data_comes_in(runtime, standin_files, db):
    runtime.deploy(standin_files)
    with pytest.raises(ValidationFailed) as caught:
        runtime.start("standin", "C-NAN", {"channel": "phone", "rounds_done": float("nan")})
    assert caught.value.errors == {"rounds_done": "Enter a real number."}
    assert runtime.instance_for("C-NAN") is None
    runtime.start("standin", "C-1", {"channel": "phone", "rounds_done": 0})
    with pytest.raises(ValidationFailed):
        runtime.correlate("C-1", "customer_response", {"score": float("inf")})


def test_the_task_view_reads_one_row_not_the_workflow(runtime, standin_files, monkeypatch):
    runtime.deploy(standin_files)
    runtime.start("standin", "C-1", {"channel": "phone", "rounds_done": 0})
    _loop_until(runtime, "C-1", 20)
    task = runtime.open_tasks("C-1")[0]

    def no_load(*args, **kwargs):
        raise AssertionError("the task view loaded the whole workflow")

    monkeypatch.setattr(runtime.store, "load", no_load)
    data = runtime.task_data(task.id)
    assert data["subject"] == "Kettle leaks" and data["again"] is True and data["settings"] == runtime.settings
