"""A small in-memory driver for the BPMN processes in bpmn/, built on plain SpiffWorkflow.

It stands in for the runtime facade (processes/runtime.py) in the process tests:
`start`, `ready_user_tasks`, `complete`, `send_message`, `waiting_messages`,
`advance_time`, `data`. Time is frozen with time-machine at the start and only
moves through `advance_time`, so timers fire exactly when a test says so.
Submitted form data is validated against the task's JSON Schema in forms/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import time_machine
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from processes.engine import RedressScriptEngine, parse_definition
from processes.process_settings import default_settings

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = ROOT / "bpmn"
FORMS_DIR = ROOT / "forms"
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning


def definition_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(BPMN_DIR.iterdir()) if p.suffix in (".bpmn", ".dmn")}


def load_form(name: str) -> dict:
    return json.loads((FORMS_DIR / name).read_text(encoding="utf-8"))


@dataclass
class RecordingServices:
    """Stand-in for the runtime services handlers use: records processes started."""

    started: list[tuple[str, str, dict]] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def start_process(self, process_key: str, business_key: str, data: dict) -> int:
        self.started.append((process_key, business_key, data))
        return len(self.started)

    def handling_history(self, business_key: str) -> list[dict]:
        return list(self.history)


class HarnessError(AssertionError):
    pass


class ProcessHarness:
    def __init__(
        self,
        process_id: str,
        session=None,
        services=None,
        business_key: str | None = None,
        now: datetime = DEFAULT_START,
    ):
        self.process_id = process_id
        self.session = session
        self.services = services if services is not None else RecordingServices()
        self.business_key = business_key
        self._traveller = time_machine.travel(now, tick=False)
        self._clock = None
        self.completed: list[tuple[str, str | None]] = []  # (bpmn_id, lane) in completion order
        self.workflow: BpmnWorkflow | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        data: dict,
        process_id: str = "complaint_handling",
        session=None,
        services=None,
        now: datetime = DEFAULT_START,
    ) -> ProcessHarness:
        harness = cls(process_id, session, services, data.get("business_key") or data.get("reference"), now)
        harness._clock = harness._traveller.start()
        spec, subprocess_specs = parse_definition(definition_files(), process_id)
        engine = RedressScriptEngine()
        engine.context_factory = harness._context
        harness.workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
        start = harness.workflow.get_next_task(state=TaskState.READY, spec_name="Start")
        start.set_data(**data)
        harness._steps()
        return harness

    def close(self) -> None:
        if self._clock is not None:
            self._traveller.stop()
            self._clock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _context(self, task) -> dict:
        return {"business_key": self.business_key, "session": self.session, "services": self.services}

    def _record(self, task) -> None:
        if not task.task_spec.bpmn_id:
            return  # engine-internal tasks (Start, End, boundary splits)
        self.completed.append((task.task_spec.bpmn_id, getattr(task.task_spec, "lane", None)))
        if self.services is not None and hasattr(self.services, "history"):
            self.services.history.append({"task": task.task_spec.bpmn_id, "lane": task.task_spec.lane})

    def _steps(self) -> None:
        self.workflow.do_engine_steps(did_complete_task=self._record)
        if self.session is not None:
            self.session.flush()

    # --- what the tests use --------------------------------------------------------------
    def _ready(self):
        return [t for t in self.workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]

    def ready_user_tasks(self) -> list[tuple[str, str | None, str | None]]:
        out = []
        for task in self._ready():
            props = task.task_spec.extensions.get("properties", {})
            out.append((task.task_spec.bpmn_id, task.task_spec.lane, props.get("formJsonSchemaFilename")))
        return out

    def ready_ids(self) -> list[str]:
        return [bpmn_id for bpmn_id, _lane, _form in self.ready_user_tasks()]

    def task_properties(self, bpmn_id: str) -> dict:
        return dict(self._find_ready(bpmn_id).task_spec.extensions.get("properties", {}))

    def _find_ready(self, bpmn_id: str):
        for task in self._ready():
            if task.task_spec.bpmn_id == bpmn_id:
                return task
        raise HarnessError(
            f"{bpmn_id} is not ready; ready: {self.ready_ids()}; waiting for: "
            f"{self.waiting_messages()} {self.waiting_timers()}"
        )

    def complete(self, bpmn_id: str, data: dict | None = None, validate: bool = True) -> None:
        task = self._find_ready(bpmn_id)
        data = data or {}
        form = task.task_spec.extensions.get("properties", {}).get("formJsonSchemaFilename")
        if validate and form:
            jsonschema.validate(data, load_form(form), cls=jsonschema.Draft202012Validator)
        if hasattr(task.task_spec, "add_data_from_form"):  # Spiff user tasks merge the form's data
            task.task_spec.add_data_from_form(task, data)
        else:
            task.update_data(data)
        task.run()
        self._record(task)
        self._steps()

    def send_message(self, name: str, payload: dict) -> None:
        event = BpmnEvent(MessageEventDefinition(name), payload=payload)
        self.workflow.send_event(event)  # raises if nothing waits for `name`
        self._steps()

    def _waiting_definitions(self):
        # An event-based gateway waits with one MultipleEventDefinition holding its events'
        # definitions, so expand those.
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if definition is not None:
                yield from getattr(definition, "event_definitions", None) or [definition]

    def waiting_messages(self) -> list[str]:
        return sorted(d.name for d in self._waiting_definitions() if isinstance(d, MessageEventDefinition))

    def waiting_timers(self) -> list[str]:
        return sorted(d.name for d in self._waiting_definitions() if isinstance(d, TimerEventDefinition))

    def advance_time(self, delta: timedelta) -> None:
        self._clock.shift(delta)
        self.workflow.refresh_timers()
        self._steps()

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @property
    def is_completed(self) -> bool:
        return self.workflow.is_completed()

    @property
    def data(self) -> dict:
        """The current process variables: those of the task the process waits at (user task,
        message or timer), or of the end when it has finished."""
        if self.workflow.is_completed():
            return self.workflow.last_task.data
        tasks = self._ready() or [
            t
            for t in self.workflow.get_tasks(state=TaskState.WAITING)
            if t.task_spec.bpmn_id and type(t.task_spec).__name__ != "BoundaryEvent"
        ]
        if not tasks:
            return self.workflow.last_task.data
        return max(tasks, key=lambda t: t.last_state_change).data

    @property
    def completed_ids(self) -> list[str]:
        return [bpmn_id for bpmn_id, _lane in self.completed]

    @property
    def lanes_visited(self) -> set[str]:
        return {lane for _id, lane in self.completed if lane}

    @property
    def errors(self) -> list[str]:
        return [t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=TaskState.ERROR)]


def start(data: dict, **kwargs) -> ProcessHarness:
    """Start `complaint_handling` (or kwargs['process_id']) with `data` merged over sensible defaults."""
    return ProcessHarness.start(data, **kwargs)


def complaint_start_data(reference: str = "C-2025-0001", **overrides: Any) -> dict:
    """Start data as the runtime gives it: the complaint record's fields, the reference, and settings."""
    data = {
        "business_key": reference,
        "reference": reference,
        "channel": "web",
        "received_at": DEFAULT_START.isoformat(),
        "customer_name": "王芳",
        "customer_phone": "13800138000",
        "customer_email": "wang.fang@example.cn",
        "customer_address": "上海市浦东新区",
        "customer_tier": "standard",
        "subject": "电水壶底座漏电",
        "description": "新买的电水壶用了三天底座开始漏水。",
        "remedy_sought": "换货",
        "product": "电水壶 K-200",
        "order_number": "SO-88001",
        "order_value": 299.0,
        "category": None,
        "severity": None,
        "safety_issue": False,
        "settings": default_settings(),
    }
    settings = overrides.pop("settings", None)
    data.update(overrides)
    if settings:
        data["settings"] = {**data["settings"], **settings}
    return data


def advance(harness: ProcessHarness, **kwargs) -> None:
    harness.advance_time(timedelta(**kwargs))
