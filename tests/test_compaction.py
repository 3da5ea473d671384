"""Compaction (issue 18): finished loop rounds leave the tree a step loads, so a cold step costs
the same after 5 rounds and after 500, while the whole history can still be put back together
exactly as SpiffWorkflow itself would have grown it."""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import func, select

from processes.benchmarks.engine import LOOPS, STANDIN
from processes.engine.actors import SYSTEM
from processes.engine.definitions import read_files
from processes.engine.models import InstanceTask
from processes.engine.runtime import Runtime
from processes.engine.spiff import RedressScriptEngine, parse_definition

ROUND = {"findings": "one more round", "again": True}
LAST = {"findings": "done", "again": False}

# Two people work in parallel each round; the join merges what both wrote, round after round.
PARALLEL_LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
  <bpmn:process id="parallel_loop" isExecutable="true">
    <bpmn:startEvent id="Event_Start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="Merge"><bpmn:incoming>f0</bpmn:incoming><bpmn:incoming>again</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:parallelGateway id="Split"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>fa</bpmn:outgoing>
      <bpmn:outgoing>fb</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Task_A"><bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="Count_A"><bpmn:incoming>fa2</bpmn:incoming><bpmn:outgoing>fa3</bpmn:outgoing>
      <bpmn:script>a_rounds = a_rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="Task_B"><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="Count_B"><bpmn:incoming>fb2</bpmn:incoming><bpmn:outgoing>fb3</bpmn:outgoing>
      <bpmn:script>b_rounds = b_rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>fa3</bpmn:incoming><bpmn:incoming>fb3</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:exclusiveGateway id="Again" default="done"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>again</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End"><bpmn:incoming>done</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="Event_Start" targetRef="Merge"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Merge" targetRef="Split"/>
    <bpmn:sequenceFlow id="fa" sourceRef="Split" targetRef="Task_A"/>
    <bpmn:sequenceFlow id="fa2" sourceRef="Task_A" targetRef="Count_A"/>
    <bpmn:sequenceFlow id="fa3" sourceRef="Count_A" targetRef="Join"/>
    <bpmn:sequenceFlow id="fb" sourceRef="Split" targetRef="Task_B"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="Task_B" targetRef="Count_B"/>
    <bpmn:sequenceFlow id="fb3" sourceRef="Count_B" targetRef="Join"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Join" targetRef="Again"/>
    <bpmn:sequenceFlow id="again" sourceRef="Again" targetRef="Merge">
      <bpmn:conditionExpression>b_rounds &lt; 6</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="Again" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>"""


def _round_data(bpmn_id: str, n: int) -> dict:
    return {} if bpmn_id in ("Task_A", "Task_B") else dict(ROUND)


def _shape(workflow) -> list[tuple[str, str, int]]:
    """The whole tree in SpiffWorkflow's own walk: spec, state and depth of every task."""
    return [(t.task_spec.name, TaskState.get_name(t.state), t.depth) for t in workflow.get_tasks()]


def _in_memory(files: dict[str, str], process_id: str, start: dict, rounds: int) -> BpmnWorkflow:
    """Bare SpiffWorkflow, driven the way the persisted side is below."""
    spec, subspecs = parse_definition({k: v.encode() for k, v in files.items()}, process_id)
    workflow = BpmnWorkflow(spec, subspecs, script_engine=RedressScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": {}, **start, "business_key": "K"})
    workflow.do_engine_steps()
    for n in range(rounds):
        for task in sorted(workflow.get_tasks(state=TaskState.READY, manual=True), key=lambda t: t.task_spec.name):
            task.data.update(_round_data(task.task_spec.bpmn_id, n))
            task.run()
            workflow.do_engine_steps()
            workflow.refresh_timers()
            workflow.do_engine_steps()
    return workflow


def _persisted(runtime: Runtime, process_id: str, key: str, start: dict, rounds: int, register: bool = False) -> int:
    instance_id = runtime.start(process_id, key, dict(start))
    if register:
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, {"subject": "Kettle leaks", "severity": "high"})
    for n in range(rounds):
        for task in sorted(runtime.open_tasks(key), key=lambda t: t.bpmn_id):
            runtime.complete(task.id, SYSTEM, _round_data(task.bpmn_id, n))
    return instance_id


def _rows(db, instance_id: int, compacted: bool | None = None) -> int:
    query = select(func.count()).select_from(InstanceTask).where(InstanceTask.instance_id == instance_id)
    if compacted is not None:
        query = query.where(InstanceTask.compacted.is_(compacted))
    with db.session() as session:
        return session.scalar(query)


def test_a_gateway_loop_keeps_a_live_tree_of_the_same_size_however_long_it_runs(db):
    runtime = Runtime(db, settings={})
    runtime.deploy(read_files(LOOPS))
    short = _persisted(runtime, "gateway_loop", "G-3", {}, 3)
    long = _persisted(runtime, "gateway_loop", "G-60", {}, 60)
    assert _rows(db, long) > 100  # the history stays
    assert _rows(db, long, compacted=False) == _rows(db, short, compacted=False) <= 10
    cold = Runtime(db, settings={}, cache_size=0)
    live = cold.load_workflow(long, history=False)
    assert len(live.tasks) == _rows(db, long, compacted=False)
    # Cold, it carries on where it stood: the next round is open and its data is what was written.
    task = cold.open_tasks("G-60")[0]
    assert cold.task_data(task.id)["findings"] == "one more round"
    opened = cold.complete(task.id, SYSTEM, dict(LAST))
    assert opened == [] and cold.instance_for("G-60").status == "completed"


def test_the_whole_history_comes_back_as_spiffworkflow_grew_it(db):
    """Every round spliced out is put back: the tree, its states and its data are bare SpiffWorkflow's."""
    files = read_files(LOOPS)
    runtime = Runtime(db, settings={}, cache_size=0)  # every step loads, compacts and saves
    runtime.deploy(files)
    instance_id = _persisted(runtime, "gateway_loop", "G-H", {}, 12)
    bare = _in_memory(files, "gateway_loop", {}, 12)
    whole = runtime.load_workflow(instance_id)
    assert _shape(whole) == _shape(bare)
    assert [t.data for t in whole.get_tasks()][-1] == [t.data for t in bare.get_tasks()][-1]
    assert _rows(db, instance_id, compacted=True) > 0


def test_a_standard_loop_drops_its_merged_rounds_and_still_counts_them(db, standin_files):
    runtime = Runtime(db, settings={"handle_sla": "PT1H"}, cache_size=0)
    runtime.deploy(standin_files)
    start = {"channel": "phone", "rounds_done": 0}
    short = _persisted(runtime, "standin", "S-3", start, 3, register=True)
    long = _persisted(runtime, "standin", "S-40", start, 40, register=True)
    assert _rows(db, long, compacted=False) == _rows(db, short, compacted=False)
    bare = _in_memory(read_files(STANDIN), "standin", start, 0)
    register = bare.get_tasks(state=TaskState.READY, manual=True)[0]
    register.data.update({"subject": "Kettle leaks", "severity": "high"})
    register.run()
    bare.do_engine_steps()
    for n in range(40):
        task = bare.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(_round_data(task.task_spec.bpmn_id, n))
        task.run()
        bare.do_engine_steps()
    assert _shape(runtime.load_workflow(long)) == _shape(bare)
    loop = _loop_task(runtime, long)
    assert len(loop.internal_data["merged"]) == 40  # the loop still knows how many rounds it ran
    with db.session() as session:  # its row does not grow with them
        short_row, long_row = (len(json.dumps(session.scalar(select(InstanceTask.body).where(
            InstanceTask.instance_id == i, InstanceTask.task_id == str(_loop_task(runtime, i).id)))))
            for i in (short, long))
    assert long_row < short_row + 200
    # The loop ends: its history is still whole, the iterations back in their place.
    runtime.complete(runtime.open_tasks("S-40")[0].id, SYSTEM, dict(LAST))
    task = bare.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(LAST)
    task.run()
    bare.do_engine_steps()
    assert _shape(runtime.load_workflow(long)) == _shape(bare)


def _loop_task(runtime, instance_id: int):
    return next(t for t in runtime.load_workflow(instance_id, history=False).get_tasks()
                if t.task_spec.name == "Task_Handle" and t.state == TaskState.STARTED)


def test_parallel_rounds_merge_the_same_data_cached_cold_and_in_memory(db):
    files = {"parallel_loop.bpmn": PARALLEL_LOOP}
    warm = Runtime(db, settings={})
    cold = Runtime(db, settings={}, cache_size=0)
    warm.deploy(files)
    start = {"a_rounds": 0, "b_rounds": 0}
    warm_id = _persisted(warm, "parallel_loop", "P-warm", start, 7)
    cold_id = _persisted(cold, "parallel_loop", "P-cold", start, 7)
    bare = _in_memory(files, "parallel_loop", start, 7)
    assert bare.completed
    for instance_id in (warm_id, cold_id):
        whole = warm.load_workflow(instance_id)
        assert whole.completed
        assert {k: v for k, v in whole.data.items() if k != "business_key"} == \
            {k: v for k, v in bare.data.items() if k != "business_key"}
        assert _shape(whole) == _shape(bare)
