"""`redress bench engine`: the persisted runtime against the same engine in memory, in one run.

Lifecycles of the complaint process (intake to archive, production observers on: the complaint
record and the customer mailer) on four sides that alternate lifecycle by lifecycle: bare
SpiffWorkflow in memory, our TrackedWorkflow in memory, persisted with the in-process cache
(warm) and persisted with every step loading the instance from its rows (cold, as another web
process or the worker meets it). Then the cost of one completion, cold, after 10 … 5,000 rounds
of a gateway loop and of a standard loop. Ratios are what to read: the machine is shared, so the
sides alternate sample by sample, each timed with the cyclic garbage collector paused (`_timed`),
and each side's median lifecycle is compared. Both persisted sides write the complaint's record at
the start, as registration does, so the observers and handlers find what they find in production.
The targets are checked here: `redress bench engine` exits 1 when one is missed.
"""

from __future__ import annotations

import gc
import hashlib
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
from processes.engine.tracking import TrackedWorkflow

STANDIN = Path(__file__).resolve().parent / "standin"
LOOPS = Path(__file__).resolve().parent / "loops"
ROOT = Path(__file__).resolve().parents[2]
PROCESS = "standin"
SETTINGS = {"handle_sla": "PT1H"}
REGISTER = {"subject": "Kettle leaks", "severity": "high"}
START = {"channel": "phone", "rounds_done": 0}


COMPLAINT_SETTINGS = {"follow_up_wait": "PT0S"}  # no days of waiting inside a benchmark
COMPLAINT_START = {
    "channel": "web", "customer_name": "王芳", "customer_phone": "13800138000", "customer_email": None,
    "customer_address": None, "customer_tier": "standard", "subject": "电水壶底座漏电",
    "description": "新买的电水壶用了三天底座开始漏水。", "remedy_sought": "换货", "product": "电水壶 K-200",
    "order_number": "SO-88001", "order_value": 299.0, "occurred_at": None, "occurred_where": None,
    "category": None, "severity": None, "safety_issue": False, "attachments": None,
}


def complaint_start(key: str) -> dict:
    """The start data of the benchmark's complaint `key`: each its own customer (phone), so that
    no complaint is taken for a duplicate of an earlier one and all take the same path."""
    phone = "138" + str(int(hashlib.sha256(key.encode()).hexdigest(), 16))[-8:]
    return {**COMPLAINT_START, "customer_phone": phone, "reference": key}


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
    from processes.complaints.registration import PROCESS_KEY, new_record

    data = complaint_start(key)

    def record(session, instance) -> None:  # the complaint's record, as registration writes it
        session.add(new_record(data, instance.id, SYSTEM.username))
        session.flush()

    runtime.start(PROCESS_KEY, key, dict(data), before_start=record)
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
    from processes.complaints.registration import new_record

    # The same complaint record the persisted side writes, so handlers find what they find there.
    start = complaint_start(key)
    session.add(new_record(start, None, "system"))
    session.flush()
    workflow = workflow_class(spec, subprocess_specs, script_engine=RedressScriptEngine())
    # Handlers get a session on an in-memory database, as the runtime gives them its own.
    workflow.script_engine.context_factory = lambda task: {"business_key": key, "session": session,
                                                           "services": None}
    hook = (lambda task: trace(task.task_spec.name)) if trace else None
    settings = {**default_process_settings(), **COMPLAINT_SETTINGS}
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"settings": settings, **start, "business_key": key})
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


TARGETS = {"warm_same_engine_ratio_at_least": 0.5, "cold_same_engine_ratio_at_least": 0.3,
           "history_cost_5000_vs_10_cold_at_most": 1.5, "cold_load_5000_rounds_ms_at_most": 50.0}
ROUNDS = (10, 500, 2000, 5000)
ROUND = {"findings": "one more round", "again": True}


def _count_statements(db: Database, fn, *args) -> int:
    """How many SQL statements `fn(*args)` sends (every round trip counts on PostgreSQL)."""
    from sqlalchemy import event

    count = [0]

    def counter(*_args) -> None:
        count[0] += 1

    engines = {db.engine, db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counter)
    try:
        fn(*args)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", counter)
    return count[0]


class _ObserverClock:
    """Seconds each observer of a runtime took, by name (to show what the persisted side pays for)."""

    def __init__(self, runtime: Runtime):
        self.seconds: dict[str, float] = {}
        runtime.observers = [self._timed(observer) for observer in runtime.observers]

    def _timed(self, observer):
        name = getattr(observer, "__module__", "").rsplit(".", 1)[-1] or type(observer).__name__

        def timed(*args) -> None:
            began = time.perf_counter()
            try:
                observer(*args)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

        return timed

    def take(self) -> dict[str, float]:
        taken, self.seconds = self.seconds, {}
        return taken


def _round_trip_ms(db: Database, samples: int = 200) -> float:
    """Median time of the cheapest statement through SQLAlchemy Core on a pooled connection:
    on PostgreSQL one network round trip, on SQLite the fixed cost of any statement."""
    from sqlalchemy import text

    one = text("SELECT 1")
    with db.write_engine.connect() as connection:
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            connection.execute(one).scalar()
            times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 4)


def _lifecycles(db: Database, stamp: int, lifecycles: int) -> dict:
    """Four sides of the complaint lifecycle, alternating lifecycle by lifecycle, compared by
    their median lifecycle; what the observers cost, the statements sent, and the floor those
    statements put under the persisted sides."""
    settings = {**default_process_settings(), **COMPLAINT_SETTINGS}
    warm = build_runtime(db=db, process_settings=settings)  # observers on, as in production
    cold = build_runtime(db=db, process_settings=settings, cache_size=0)
    files = read_files(ROOT, "bpmn", "forms")
    warm.deploy(files)
    spec, subspecs = parse_definition({k: v.encode() for k, v in files.items()}, "complaint_handling")
    memory_db = create_engine("sqlite://")
    Base.metadata.create_all(memory_db)
    memory_session = Session(memory_db)
    sides = {
        "bare": lambda key, lat: memory_complaint(spec, subspecs, memory_session, key, BpmnWorkflow),
        "tracked": lambda key, lat: memory_complaint(spec, subspecs, memory_session, key, TrackedWorkflow),
        "warm": lambda key, lat: _persisted_complaint(warm, key, lat),
        "cold": lambda key, lat: _persisted_complaint(cold, key, lat),
    }
    clocks = {"warm": _ObserverClock(warm), "cold": _ObserverClock(cold)}
    latencies: dict[str, list[float]] = {name: [] for name in sides}
    for name, side in sides.items():  # imports and first-use caches are not measured
        side(f"first-{name}-{stamp}", [])
    for clock in clocks.values():
        clock.take()
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    observed: dict[str, list[dict]] = {name: [] for name in clocks}
    for i in range(lifecycles):
        for name, side in sides.items():
            seconds[name].append(_timed(side, f"{name}-{stamp}-{i}", latencies[name]))
            if name in clocks:
                observed[name].append(clocks[name].take())
    memory_session.close()
    statements, per_lifecycle = {}, {}
    for name, runtime in (("warm", warm), ("cold", cold)):
        key = f"count-{name}-{stamp}"
        per_lifecycle[name] = _count_statements(db, _persisted_complaint, runtime, key, [])
        key = f"count-one-{name}-{stamp}"
        runtime.start("complaint_handling", key, complaint_start(key))
        task = runtime.open_tasks(key)[0]
        statements[name] = _count_statements(db, runtime.complete, task.id, SYSTEM, dict(COMPLAINT_STEPS[0][2]))
    median = {name: statistics.median(values) for name, values in seconds.items()}
    rate = {name: 1 / max(value, 1e-9) for name, value in median.items()}

    def pct(name: str, p: float) -> float:
        return round(_percentile(latencies[name], p) * 1000, 2) if latencies[name] else 0.0

    def observers_ms(name: str) -> dict[str, float]:
        names = sorted({key for sample in observed[name] for key in sample})
        return {key: round(statistics.median(sample.get(key, 0.0) for sample in observed[name]) * 1000, 2)
                for key in names}

    round_trip = _round_trip_ms(db)
    floor_ms = round(per_lifecycle["warm"] * round_trip, 2)
    tracked_ms = median["tracked"] * 1000
    return {
        "lifecycles": lifecycles,
        "lifecycle_ms_median": {name: round(value * 1000, 2) for name, value in median.items()},
        "lifecycles_per_s": {name: round(value, 1) for name, value in rate.items()},
        "warm_vs_same_engine_in_memory": round(rate["warm"] / rate["tracked"], 3),
        "cold_vs_same_engine_in_memory": round(rate["cold"] / rate["tracked"], 3),
        "warm_vs_bare_spiffworkflow": round(rate["warm"] / rate["bare"], 3),
        "cold_vs_bare_spiffworkflow": round(rate["cold"] / rate["bare"], 3),
        "complete_latency_ms": {name: {"p50": pct(name, 50), "p95": pct(name, 95)} for name in ("warm", "cold")},
        # Inside the persisted lifecycles above (the in-memory sides run no observers).
        "observers_ms_per_lifecycle": {name: observers_ms(name) for name in clocks},
        "statements_per_completion": statements,
        "statements_per_lifecycle": per_lifecycle,
        # The least the warm side can cost: the in-memory lifecycle plus one cheapest statement's
        # time per statement it sends, and the best ratio that would allow.
        "floor": {"statement_ms": round_trip, "statements_ms_per_lifecycle": floor_ms,
                  "warm_ratio_at_most": round(tracked_ms / (tracked_ms + floor_ms), 3)},
    }


def _loop_history(db: Database, stamp: int, rounds: tuple[int, ...], samples: int) -> dict:
    """Median cold completion after each number of rounds, for a gateway loop and a standard loop."""
    grower = Runtime(db, settings=SETTINGS)
    cold = Runtime(db, settings=SETTINGS, cache_size=0)
    grower.deploy(read_files(LOOPS))
    grower.deploy(read_files(STANDIN))
    report: dict[str, dict] = {}
    for kind in ("gateway", "standard"):
        keys: dict[int, str] = {}
        failed = None
        for n in rounds:
            key = f"{kind}{n}-{stamp}"
            try:
                _grow_loop(grower, kind, key, n)
            except Exception as exc:  # noqa: BLE001 - a benchmark reports what broke and goes on
                failed = f"{n} rounds: {type(exc).__name__}: {str(exc)[:160]}"
                break
            keys[n] = key
        times: dict[int, list[float]] = {n: [] for n in keys}
        for _ in range(samples):
            for n, key in keys.items():
                times[n].append(_timed(_complete_round, cold, key))
        medians = {n: statistics.median(values) for n, values in times.items() if values}
        entry: dict = {f"complete_after_{n}_rounds_cold_ms": round(m * 1000, 2) for n, m in medians.items()}
        first, last = min(medians, default=None), max(medians, default=None)
        if first is not None and last != first:
            entry[f"history_cost_{last}_vs_{first}_cold"] = round(medians[last] / medians[first], 3)
        if last is not None:
            instance = cold.instance_for(keys[last])
            # The load a cold step does: the live tree (finished rounds are compacted out of it).
            loads = [_timed(cold.load_workflow, instance.id, False) for _ in range(samples)]
            entry[f"cold_load_{last}_rounds_ms"] = round(statistics.median(loads) * 1000, 2)
        if failed:
            entry["failed"] = failed
        report[kind] = entry
    return report


def _grow_loop(runtime: Runtime, kind: str, key: str, rounds: int) -> None:
    """An instance of the loop with `rounds` completed rounds, its next round open."""
    if kind == "gateway":
        runtime.start("gateway_loop", key, {})
    else:
        runtime.start(PROCESS, key, dict(START))
        runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(REGISTER))
    open_now = None
    for _ in range(rounds):
        task = (open_now or runtime.open_tasks(key))[0]
        open_now = runtime.complete(task.id, SYSTEM, dict(ROUND))


def _complete_round(runtime: Runtime, key: str) -> None:
    runtime.complete(runtime.open_tasks(key)[0].id, SYSTEM, dict(ROUND))


def missed_targets(result: dict) -> list[str]:
    """The targets a result misses, in words (empty when all are met)."""
    missed = []
    life = result["lifecycles"]
    if life["warm_vs_same_engine_in_memory"] < TARGETS["warm_same_engine_ratio_at_least"]:
        missed.append(f"warm ratio {life['warm_vs_same_engine_in_memory']} < 0.5")
    if life["cold_vs_same_engine_in_memory"] < TARGETS["cold_same_engine_ratio_at_least"]:
        missed.append(f"cold ratio {life['cold_vs_same_engine_in_memory']} < 0.3")
    for kind, entry in result["history"].items():
        if "failed" in entry:
            missed.append(f"{kind} loop failed at {entry['failed']}")
        for name, value in entry.items():
            if name.startswith("history_cost_") and value > TARGETS["history_cost_5000_vs_10_cold_at_most"]:
                missed.append(f"{kind} loop {name} {value} > 1.5")
            if name.startswith("cold_load_") and value > TARGETS["cold_load_5000_rounds_ms_at_most"]:
                missed.append(f"{kind} loop {name} {value} ms > 50")
    return missed


def run(database_url: str | None = None, lifecycles: int = 10, samples: int = 7,
        rounds: tuple[int, ...] = ROUNDS) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        stamp = int(time.time())
        try:
            result = {
                "database": url.split(":", 1)[0] if database_url else "sqlite (file)",
                "lifecycles": _lifecycles(db, stamp, lifecycles),
                "history": _loop_history(db, stamp, tuple(rounds), samples),
                "targets": TARGETS,
            }
        finally:
            db.dispose()
    result["missed_targets"] = missed_targets(result)
    return result
