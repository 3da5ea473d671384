"""`redress bench engine`: the persisted runtime against bare SpiffWorkflow, in one run.

Prints lifecycles per second for both and their ratio, task-completion latency
p50/p95, and the cost of completing one task in an instance that already has
10 and 500 completed tasks. Ratios are what to read: the machine is shared, so
the two sides alternate sample by sample, each timed with the cyclic garbage
collector paused (see `_timed`).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import TaskState
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import processes.complaints.records  # noqa: F401 - its tables, for the in-memory handlers' database
from processes.app import build_runtime
from processes.complaints.settings import default_settings as default_process_settings
from processes.engine.actors import SYSTEM
from processes.engine.database import Database
from processes.engine.db import Base
from processes.engine.definitions import read_files
from processes.engine.runtime import Runtime
from processes.engine.schema import upgrade
from processes.engine.spiff import RedressScriptEngine, parse_definition

STANDIN = Path(__file__).resolve().parent / "standin"
ROOT = Path(__file__).resolve().parents[2]
PROCESS = "standin"
SETTINGS = {"handle_sla": "PT1H"}
REGISTER = {"subject": "Kettle leaks", "severity": "high"}
AGAIN = {"findings": "one more round", "again": True}
START = {"channel": "phone", "rounds_done": 0}


COMPLAINT_SETTINGS = {"follow_up_wait": "PT0S"}  # no days of waiting inside a benchmark
COMPLAINT_START = {
    "channel": "web", "customer_name": "王芳", "customer_phone": "13800138000", "customer_email": None,
    "customer_address": None, "customer_tier": "standard", "subject": "电水壶底座漏电",
    "description": "新买的电水壶用了三天底座开始漏水。", "remedy_sought": "换货", "product": "电水壶 K-200",
    "order_number": "SO-88001", "order_value": 299.0, "occurred_at": None, "occurred_where": None,
    "category": None, "severity": None, "safety_issue": False, "attachments": None,
}
# The rule-based path from intake to archive: (kind, name, data).
COMPLAINT_STEPS = [
    ("task", "Task_Classify", {"category": "after_sales_repair", "severity": "medium", "safety_issue": False,
                               "legitimacy": "justified"}),
    ("task", "Task_Investigate_After_Sales", {"findings": "已核实", "root_cause": "磨损", "is_defect": False,
                                              "responsibility": "customer", "warranty_status": "out_of_warranty"}),
    ("task", "Task_Review_Strategy", {"override_strategy": False}),
    ("task", "Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "可提供付费维修。"}),
    ("message", "customer_response", {"customer_decision": "accept", "comment": ""}),
    ("timers", None, None),
    ("message", "survey_answer", {"satisfaction_score": 5, "resolved": True, "comment": ""}),
]


def _persisted_complaint(runtime: Runtime, key: str, latencies: list[float]) -> None:
    from processes.complaints.registration import PROCESS_KEY

    runtime.start(PROCESS_KEY, key, {**COMPLAINT_START, "reference": key})
    open_now = None  # a completion returns the complaint's open tasks, as the API hands them on
    for kind, name, data in COMPLAINT_STEPS:
        if kind == "task":
            task = next(t for t in (open_now or runtime.open_tasks(key)) if t.bpmn_id == name)
            began = time.perf_counter()
            open_now = runtime.complete(task.id, SYSTEM, dict(data))
            latencies.append(time.perf_counter() - began)
            continue
        open_now = None
        if kind == "message":
            runtime.correlate(key, name, dict(data))
        else:
            runtime.fire_due_timers()
    assert runtime.instance_for(key).status == "completed"


def memory_complaint(spec, subprocess_specs, session, key: str, workflow_class=BpmnWorkflow,
                      trace: Callable[[str], None] | None = None) -> BpmnWorkflow:
    """The rule-based path in memory, on `workflow_class` (bare SpiffWorkflow by default).

    `trace`, when given, hears every step in order: engine tasks by spec name, the person's
    and the customer's as `user:<id>` and `message:<name>` (the tests compare engines by it)."""
    workflow = workflow_class(spec, subprocess_specs, script_engine=RedressScriptEngine())
    # Handlers get a session on an in-memory database, as the runtime gives them its own.
    workflow.script_engine.context_factory = lambda task: {"business_key": key, "session": session,
                                                           "services": None}
    hook = (lambda task: trace(task.task_spec.name)) if trace else None
    settings = {**default_process_settings(), **COMPLAINT_SETTINGS}
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": settings, **COMPLAINT_START, "reference": key, "business_key": key})
    workflow.do_engine_steps(will_complete_task=hook)
    for kind, name, data in COMPLAINT_STEPS:
        if kind == "task":
            task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                        if t.task_spec.bpmn_id == name)
            task.data.update(data)
            task.run()
        elif kind == "message":
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), dict(data)))
        if trace and kind != "timers":
            trace(f"{'user' if kind == 'task' else kind}:{name}")
        workflow.do_engine_steps(will_complete_task=hook)
        workflow.refresh_timers()
        workflow.do_engine_steps(will_complete_task=hook)
    assert workflow.completed
    return workflow


def _grow(runtime: Runtime, key: str, prior: int) -> None:
    """Start an instance of the stand-in and complete `prior` tasks in it."""
    runtime.start(PROCESS, key, dict(START))
    runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(REGISTER))
    for _ in range(prior - 1):
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(AGAIN))


def _complete_one(runtime: Runtime, key: str) -> float:
    task = runtime.open_tasks(key)[0]
    return _timed(runtime.complete, task.id, SYSTEM, dict(AGAIN))


def _memory_loop(spec, subprocess_specs, prior: int):
    """A bare SpiffWorkflow instance of the stand-in with `prior` completed tasks, and a way to time one more."""
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=RedressScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": dict(SETTINGS), **START})
    workflow.do_engine_steps()

    def run_one(data):
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()

    def complete_one(data=AGAIN) -> float:
        return _timed(run_one, data)

    complete_one(REGISTER)
    for _ in range(prior - 1):
        complete_one()
    return complete_one


def _history_costs(runtime: Runtime, spec, subprocess_specs, stamp: int, samples: int) -> dict[str, float]:
    """Median seconds to complete one task once 10 and 500 tasks are done, persisted and bare.

    The samples of all four alternate, so a busy moment of the machine hits each alike."""
    for prior in (10, 500):
        _grow(runtime, f"hist{prior}-{stamp}", prior)
    bare = {prior: _memory_loop(spec, subprocess_specs, prior) for prior in (10, 500)}
    times: dict[str, list[float]] = {"10": [], "500": [], "bare10": [], "bare500": []}
    for _ in range(samples):
        for prior in (10, 500):
            times[str(prior)].append(_complete_one(runtime, f"hist{prior}-{stamp}"))
            times[f"bare{prior}"].append(bare[prior]())
    return {name: statistics.median(values) for name, values in times.items()}


def _timed(fn, *args) -> float:
    """Seconds `fn(*args)` takes, with the cyclic garbage collector paused and run afterwards.

    A collection walks the whole heap whichever side's garbage triggered it; left running,
    it lands on the same side run after run (allocation counts repeat) and skews the ratio."""
    gc.collect()
    gc.disable()
    try:
        began = time.perf_counter()
        fn(*args)
        return time.perf_counter() - began
    finally:
        gc.enable()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run(database_url: str | None = None, lifecycles: int = 30, samples: int = 15) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        stamp = int(time.time())

        # Lifecycles: the complaint process of bpmn/, intake to archive.
        complaint_runtime = build_runtime(db=db, process_settings={**default_process_settings(), **COMPLAINT_SETTINGS},
                                          mail=False)
        complaint_files = read_files(ROOT, "bpmn", "forms")
        complaint_runtime.deploy(complaint_files)
        c_spec, c_subspecs = parse_definition(
            {k: v.encode() for k, v in complaint_files.items()}, "complaint_handling")
        memory_db = create_engine("sqlite://")
        Base.metadata.create_all(memory_db)
        memory_session = Session(memory_db)

        _persisted_complaint(complaint_runtime, f"warm-{stamp}", [])  # imports and caches are not measured
        memory_complaint(c_spec, c_subspecs, memory_session, f"warm-{stamp}")

        # Alternate the two sides, lifecycle by lifecycle, so the machine's load hits both alike.
        memory_time = persisted_time = 0.0
        latencies: list[float] = []
        for i in range(lifecycles):
            memory_time += _timed(memory_complaint, c_spec, c_subspecs, memory_session, f"mem-{stamp}-{i}")
            persisted_time += _timed(_persisted_complaint, complaint_runtime, f"bench-{stamp}-{i}", latencies)
        memory_rate, persisted_rate = lifecycles / memory_time, lifecycles / persisted_time
        memory_session.close()

        # Cost against history: the stand-in's loop lets one instance reach 500 completed tasks
        # (the complaint process has no unbounded loop).
        runtime = Runtime(db, settings=SETTINGS)
        files = read_files(STANDIN)
        runtime.deploy(files)
        spec, subprocess_specs = parse_definition({k: v.encode() for k, v in files.items()}, PROCESS)

        costs = _history_costs(runtime, spec, subprocess_specs, stamp, samples)
        after_10, after_500 = costs["10"], costs["500"]
        memory_after_10, memory_after_500 = costs["bare10"], costs["bare500"]
        # The same instance again, as a newly started process would meet it: no cache.
        cold = Runtime(db, settings=SETTINGS)
        cold_task = cold.open_tasks(f"hist500-{stamp}")[0]
        began = time.perf_counter()
        cold.complete(cold_task.id, SYSTEM, dict(AGAIN))
        cold_500 = time.perf_counter() - began
        db.dispose()

    return {
        "database": url.split(":", 1)[0] if database_url else "sqlite (file)",
        "process": "complaint_handling (lifecycles), standin loop (history cost)",
        "lifecycles": lifecycles,
        "in_memory_lifecycles_per_s": round(memory_rate, 1),
        "persisted_lifecycles_per_s": round(persisted_rate, 1),
        "persisted_to_memory_ratio": round(persisted_rate / memory_rate, 3),
        "target_ratio_at_least": 0.5,
        "complete_latency_ms": {"p50": round(_percentile(latencies, 50) * 1000, 2),
                                "p95": round(_percentile(latencies, 95) * 1000, 2)},
        "complete_after_10_tasks_ms": round(after_10 * 1000, 2),
        "complete_after_500_tasks_ms": round(after_500 * 1000, 2),
        "history_cost_ratio_500_vs_10": round(after_500 / after_10, 3),
        "target_history_ratio_at_most": 1.5,
        "in_memory_complete_after_10_tasks_ms": round(memory_after_10 * 1000, 3),
        "in_memory_complete_after_500_tasks_ms": round(memory_after_500 * 1000, 3),
        "in_memory_history_cost_ratio_500_vs_10": round(memory_after_500 / memory_after_10, 3),
        "complete_after_500_tasks_cold_cache_ms": round(cold_500 * 1000, 2),
    }
