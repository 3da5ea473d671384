"""Running a draft in memory against scenarios, before anything is deployed.

A scenario is the data of one path through the process:

    {"name": {"zh-CN": "...", "en": "..."}, "process": "complaint_handling",
     "data": {...start data...},
     "services": {"check_budget": {"over_budget": false}},   # what each handler returns
     "steps": [{"task": "Task_Register", "data": {...}},
               {"message": "customer_reply", "data": {...}},
               {"timer": "Timer_Response"}]}

Nothing touches the database: service tasks return the scenario's canned
results (or {}), scripts and conditions run in the sandbox as in production.
The result says which tasks completed, in order, and where the run stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import TaskState

from processes.engine.script_limits import limit_error_in
from processes.engine.spiff import RedressScriptEngine, parse_definition
from processes.engine.sync import spec_properties, timer_definition

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
MAX_ENGINE_ROUNDS = 200


class DryRunServices:
    """What handlers may ask of the runtime, minus every lasting effect."""

    def __init__(self):
        self.started: list[tuple[str, str]] = []
        self.settings: dict = {}

    def start_process(self, process_key: str, business_key: str, data: dict) -> int:
        self.started.append((process_key, business_key))
        return 0

    def after_commit(self, fn) -> None:
        pass  # nothing is committed, so nothing is sent

    def handling_history(self, business_key: str) -> list:
        return []


class TestRunEngine(RedressScriptEngine):
    """Service tasks answer from the scenario when it says so; otherwise the real handler runs
    against a session the caller rolls back (or, without a session, returns nothing)."""

    def __init__(self, results: dict[str, dict], session=None, business_key: str = "TEST-RUN"):
        super().__init__()
        self.results = results
        services = DryRunServices()
        if session is not None:
            self.context_factory = lambda task: {"business_key": business_key, "instance_id": None,
                                                 "session": session, "services": services}

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        canned = self.results.get(task.task_spec.bpmn_id) or self.results.get(operation_name)
        if canned is None and self.context_factory is not None:
            return super().call_service(task, operation_name, operation_params, **kwargs)
        result = dict(canned or {})
        task.data.update(result)
        return json.dumps(result, default=str)


@dataclass
class Step:
    bpmn_id: str
    name: str
    lane: str | None
    kind: str
    name_en: str | None = None


@dataclass
class RunResult:
    scenario: str
    process: str
    path: list[Step] = field(default_factory=list)
    # completed, waiting (for a person, a message or a timer), or error
    outcome: str = "waiting"
    stopped_at: list[dict] = field(default_factory=list)
    error: str | None = None
    # "time", "size" or "memory" when a script was stopped at its limit (said in words by the view)
    limit: str | None = None
    limit_seconds: float | None = None
    unused_steps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def load_scenarios(directory: Path = SCENARIO_DIR) -> list[dict]:
    if not directory.is_dir():
        return []
    scenarios = []
    for path in sorted(directory.glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        for scenario in content if isinstance(content, list) else [content]:
            scenario.setdefault("id", path.stem)
            scenarios.append(scenario)
    return scenarios


def scenario_label(scenario: dict, language: str = "zh-CN") -> str:
    name = scenario.get("name")
    if isinstance(name, dict):
        return name.get(language) or name.get("en") or scenario.get("id", "?")
    return str(name or scenario.get("id", "?"))


def run(files: dict[str, str], scenario: dict, settings: dict | None = None, session=None) -> RunResult:
    """Execute `scenario` against the draft `files`; never raises for a process problem.

    With `session`, real handlers run in it: the caller must roll it back."""
    process = scenario.get("process") or ""
    result = RunResult(scenario_label(scenario, "en"), process)
    try:
        spec, subprocess_specs = parse_definition(
            {name: text.encode("utf-8") for name, text in files.items()}, process)
    except Exception as exc:  # noqa: BLE001 - a draft that does not parse is a result, not a crash
        result.outcome, result.error = "error", f"cannot parse: {exc}"
        return result
    engine = TestRunEngine(scenario.get("services") or {}, session, scenario.get("business_key", "TEST-RUN"))
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    start_data = {"settings": dict(settings or {}), **(scenario.get("data") or {}),
                  "business_key": scenario.get("business_key", "TEST-RUN")}
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(start_data)
    record = lambda task: _record(result, task)
    steps = list(scenario.get("steps") or [])
    try:
        workflow.do_engine_steps(did_complete_task=record)
        for _ in range(MAX_ENGINE_ROUNDS):
            if workflow.completed or not steps:
                break
            step = steps[0]
            if not _apply(workflow, step, record):
                break
            steps.pop(0)
            workflow.refresh_timers()
            workflow.do_engine_steps(did_complete_task=record)
    except Exception as exc:  # noqa: BLE001 - a failing script or condition is what a test run is for
        result.outcome, result.error = "error", str(exc)
        stopped = limit_error_in(exc)
        if stopped is not None:
            result.limit, result.limit_seconds = stopped.kind, stopped.seconds
    result.unused_steps = steps
    if result.outcome != "error":
        result.outcome = "completed" if workflow.completed else "waiting"
    result.stopped_at = _stopped_at(workflow)
    return result


def _record(result: RunResult, task) -> None:
    spec = task.task_spec
    if not getattr(spec, "bpmn_id", None):
        return  # engine-internal tasks
    result.path.append(Step(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, getattr(spec, "lane", None),
                            type(spec).__name__, spec_properties(spec).get("name_en")))


def _apply(workflow: BpmnWorkflow, step: dict, record) -> bool:
    """Carry out one scenario step; False when the process is not where the step expects it."""
    if "task" in step:
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            if task.task_spec.bpmn_id == step["task"]:
                task.data.update(step.get("data") or {})
                task.run()
                record(task)
                return True
        return False
    if "message" in step:
        waiting = {d.name for d in _waiting_definitions(workflow) if isinstance(d, MessageEventDefinition)}
        if step["message"] not in waiting:
            return False
        workflow.send_event(BpmnEvent(MessageEventDefinition(step["message"]), step.get("data") or {}))
        return True
    if "timer" in step:
        for task in workflow.get_tasks(state=TaskState.WAITING):
            if task.task_spec.bpmn_id == step["timer"] and timer_definition(task) is not None:
                past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
                task._set_internal_data(event_value=past)
                return True
        return False
    return False


def _waiting_definitions(workflow: BpmnWorkflow):
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is not None:
            yield from getattr(definition, "event_definitions", None) or [definition]


def _stopped_at(workflow: BpmnWorkflow) -> list[dict[str, Any]]:
    where = []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR):
        spec = task.task_spec
        if not getattr(spec, "bpmn_id", None):
            continue
        kind = "person" if spec.manual else _waits_for(spec)
        where.append({"bpmn_id": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id,
                      "name_en": spec_properties(spec).get("name_en"),
                      "lane": getattr(spec, "lane", None), "state": TaskState.get_name(task.state),
                      "waits_for": kind, "form": spec_properties(spec).get("formJsonSchemaFilename")})
    return where


def _waits_for(spec) -> str:
    definition = getattr(spec, "event_definition", None)
    if definition is None:
        return "engine"
    kinds = [type(d).__name__ for d in (getattr(definition, "event_definitions", None) or [definition])]
    return "/".join(sorted({"message" if "Message" in k else "timer" if "Timer" in k else "signal" if "Signal" in k
                            else k for k in kinds}))


# -- the scenario suite: every shipped scenario of a draft's process, on each save and before submit --

def _named(entries: list[dict], bpmn_id: str) -> tuple[str, str]:
    for entry in entries:
        if entry.get("bpmn_id") == bpmn_id:
            return entry.get("name") or bpmn_id, entry.get("name_en") or entry.get("name") or bpmn_id
    return bpmn_id, bpmn_id


def _stops(result: RunResult) -> tuple[str, str]:
    names = [(s["name"], s.get("name_en") or s["name"]) for s in result.stopped_at]
    if not names:
        return "流程结束", "the end of the process"
    return "、".join(zh for zh, _ in names), ", ".join(en for _, en in names)


def problems(result: RunResult, scenario: dict) -> list[dict[str, str]]:
    """Why a run does not do what its scenario says, one sentence per problem in both languages;
    empty when it passes. A scenario passes when it runs without error, every step it lists is
    taken, and it ends where its `expect` says (`outcome`, `stops_at`)."""
    found = []
    where_zh, where_en = _stops(result)
    if result.outcome == "error":
        failed = [s for s in result.stopped_at if s.get("state") == "ERROR"]
        zh, en = _named(failed, failed[0]["bpmn_id"]) if failed else (where_zh, where_en)
        found.append({"zh-CN": f"在“{zh}”出错:{result.error}", "en": f"Failed at {en}: {result.error}"})
    elif result.unused_steps:
        step = result.unused_steps[0]
        what = step.get("task") or step.get("message") or step.get("timer") or "?"
        found.append({"zh-CN": f"场景的步骤“{what}”没有执行:流程停在“{where_zh}”,没有在等这一步。",
                      "en": f"The scenario's step {what} did not run: the process stopped at {where_en} "
                            "instead of waiting for it."})
    expect = scenario.get("expect") or {}
    if not found and expect.get("outcome") and expect["outcome"] != result.outcome:
        found.append({"zh-CN": f"预期结果为“{expect['outcome']}”,实际为“{result.outcome}”(停在“{where_zh}”)。",
                      "en": f"Expected the run to end {expect['outcome']}; it ended {result.outcome} "
                            f"(at {where_en})."})
    wanted = expect.get("stops_at")
    if not found and wanted is not None and sorted(wanted) != sorted(s["bpmn_id"] for s in result.stopped_at):
        found.append({"zh-CN": f"预期停在“{'、'.join(wanted)}”,实际停在“{where_zh}”。",
                      "en": f"Expected to stop at {', '.join(wanted)}; it stopped at {where_en}."})
    return found


def run_suite(files: dict[str, str], process_keys: list[str], settings: dict | None = None,
              session=None) -> list[dict]:
    """Run every scenario of these processes; one summary per scenario, for the draft's report.

    With `session`, real handlers run inside a savepoint that is always rolled back."""
    summaries = []
    for scenario in load_scenarios():
        if scenario.get("process") not in process_keys:
            continue
        nested = session.begin_nested() if session is not None else None
        try:
            result = run(files, scenario, settings, session)
        finally:
            if nested is not None:
                nested.rollback()
        found = problems(result, scenario)
        summaries.append({"id": scenario["id"], "name": {"zh-CN": scenario_label(scenario, "zh-CN"),
                                                          "en": scenario_label(scenario, "en")},
                          "outcome": result.outcome, "passed": not found, "problems": found,
                          "stopped_at": result.stopped_at, "steps_taken": len(result.path)})
    return summaries
