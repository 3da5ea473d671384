"""`redress bench engine`: the persisted runtime against bare SpiffWorkflow, in one run.

Prints lifecycles per second for both and their ratio, task-completion latency
p50/p95, and the cost of completing one task in an instance that already has
10 and 500 completed tasks. Ratios are what to read: the machine is shared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import TaskState

from processes.actors import SYSTEM
from processes.db import Database
from processes.definitions import read_files
from processes.engine import RedressScriptEngine, parse_definition
from processes.runtime import Runtime
from processes.schema import upgrade

STANDIN = Path(__file__).resolve().parent / "standin"
PROCESS = "standin"
SETTINGS = {"handle_sla": "PT1H"}
REGISTER = {"subject": "Kettle leaks", "severity": "high"}
HANDLE = {"findings": "seal worn", "again": False}
AGAIN = {"findings": "one more round", "again": True}
START = {"channel": "phone", "rounds_done": 0}


def _persisted_lifecycle(runtime: Runtime, key: str, latencies: list[float]) -> None:
    runtime.start(PROCESS, key, dict(START))
    for data in (REGISTER, HANDLE):
        task = runtime.open_tasks(key)[0]
        began = time.perf_counter()
        runtime.complete(task.id, SYSTEM, dict(data))
        latencies.append(time.perf_counter() - began)
    runtime.correlate(key, "customer_response", {"customer_decision": "accept"})


def _memory_lifecycle(spec, subprocess_specs) -> None:
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=RedressScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": dict(SETTINGS), **START})
    workflow.do_engine_steps()
    for data in (REGISTER, HANDLE):
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
        workflow.refresh_timers()
    workflow.send_event(BpmnEvent(MessageEventDefinition("customer_response"), {"customer_decision": "accept"}))
    workflow.do_engine_steps()
    assert workflow.completed


def _history_cost(runtime: Runtime, key: str, prior: int, samples: int) -> float:
    """Median seconds to complete one task once `prior` tasks are done in the instance."""
    runtime.start(PROCESS, key, dict(START))
    runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(REGISTER))
    for _ in range(prior - 1):
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(AGAIN))
    times = []
    for _ in range(samples):
        task = runtime.open_tasks(key)[0]
        began = time.perf_counter()
        runtime.complete(task.id, SYSTEM, dict(AGAIN))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _memory_history_cost(spec, subprocess_specs, prior: int, samples: int) -> float:
    """The same measurement on bare SpiffWorkflow: how much the engine itself grows with history."""
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=RedressScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": dict(SETTINGS), **START})
    workflow.do_engine_steps()

    def complete_one(data):
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()

    complete_one(REGISTER)
    for _ in range(prior - 1):
        complete_one(AGAIN)
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        complete_one(AGAIN)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run(database_url: str | None = None, lifecycles: int = 30, samples: int = 15) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        runtime = Runtime(db, settings=SETTINGS)
        files = read_files(STANDIN)
        runtime.deploy(files)
        spec, subprocess_specs = parse_definition({k: v.encode() for k, v in files.items()}, PROCESS)
        stamp = int(time.time())

        # Warm both paths once so that imports and caches are not measured.
        _persisted_lifecycle(runtime, f"warm-{stamp}", [])
        _memory_lifecycle(spec, subprocess_specs)

        began = time.perf_counter()
        for _ in range(lifecycles):
            _memory_lifecycle(spec, subprocess_specs)
        memory_rate = lifecycles / (time.perf_counter() - began)

        latencies: list[float] = []
        began = time.perf_counter()
        for i in range(lifecycles):
            _persisted_lifecycle(runtime, f"bench-{stamp}-{i}", latencies)
        persisted_rate = lifecycles / (time.perf_counter() - began)

        after_10 = _history_cost(runtime, f"hist10-{stamp}", 10, samples)
        after_500 = _history_cost(runtime, f"hist500-{stamp}", 500, samples)
        memory_after_10 = _memory_history_cost(spec, subprocess_specs, 10, samples)
        memory_after_500 = _memory_history_cost(spec, subprocess_specs, 500, samples)
        # The same instance again, as a newly started process would meet it: no cache.
        cold = Runtime(db, settings=SETTINGS)
        cold_task = cold.open_tasks(f"hist500-{stamp}")[0]
        began = time.perf_counter()
        cold.complete(cold_task.id, SYSTEM, dict(AGAIN))
        cold_500 = time.perf_counter() - began
        db.dispose()

    return {
        "database": url.split(":", 1)[0] if database_url else "sqlite (file)",
        "process": PROCESS,
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
