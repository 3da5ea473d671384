"""SpiffWorkflow configured for Redress: parser, script engine, serializer.

Everything that touches SpiffWorkflow's construction lives here so the rest of
the engine sees one place to change when the engine changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from processes.engine import tracking
from processes.engine.actors import lane_department
from processes.engine.handlers import HandlerError, get_handler
from processes.engine.sandbox import SandboxEnvironment
from processes.engine.script_helpers import HELPERS
from processes.engine.script_limits import DEFAULT_TIME_LIMIT
from processes.engine.xmlsafe import parse_xml


class RedressParser(SpiffBpmnParser):
    """SpiffBpmnParser that reads files through the hardened XML parser and
    records each task's department (from its lane id) as the task spec's lane."""

    def _add_diagram_indexes(self, bpmn):
        super()._add_diagram_indexes(bpmn)
        lanes = self.document_lanes[self._document_key(bpmn)]
        for ref in bpmn.xpath(".//bpmn:flowNodeRef", namespaces=self.namespaces):
            lane = ref.getparent()
            department = lane_department(lane.get("id"), lane.get("name"))
            if ref.text and department:
                lanes[ref.text] = department

    def add_bpmn_bytes(self, data: bytes | str, filename: str) -> None:
        self.add_bpmn_xml(parse_xml(data, filename), filename)

    def add_dmn_bytes(self, data: bytes | str, filename: str) -> None:
        self.add_dmn_xml(parse_xml(data, filename), filename)


@dataclass
class HandlerContext:
    """What a service-task handler sees: the task data (read only by convention),
    the evaluated parameters, and the services of the running transaction."""

    data: dict[str, Any]
    params: dict[str, Any]
    business_key: str | None = None
    instance_id: int | None = None
    task_name: str | None = None
    session: Any = None
    services: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class RedressScriptEngine(PythonScriptEngine):
    """Scripts run in the sandbox; service tasks dispatch to registered handlers.

    The runtime sets `context_factory` before running steps so that handlers get
    the database session of the current transaction."""

    def __init__(self, environment=None, time_limit: float = DEFAULT_TIME_LIMIT):
        super().__init__(environment=environment or default_environment(time_limit))
        self.context_factory = None

    def evaluate(self, task, expression, external_context=None):
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            # SpiffWorkflow keeps only "Error evaluating expression"; the sandbox's reason is the useful part.
            cause = exc.__context__ or exc.__cause__
            if cause is not None and str(cause) not in str(exc):
                exc.args = (f"{exc.args[0] if exc.args else exc}: {cause}", *exc.args[1:])
            raise

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        handler = get_handler(operation_name)
        params = {name: spec.get("value") for name, spec in (operation_params or {}).items()}
        base = self.context_factory(task) if self.context_factory else {}
        ctx = HandlerContext(
            data=task.data, params=params, task_name=task.task_spec.bpmn_id, **base
        )
        if ctx.session is not None:
            # A savepoint: a failing handler leaves none of its own writes behind.
            with ctx.session.begin_nested():
                result = handler(ctx) or {}
        else:
            result = handler(ctx) or {}
        if not isinstance(result, dict):
            raise HandlerError(f"handler {operation_name} returned {type(result).__name__}, not a dict")
        # Handler outputs become process variables, so gateways can route on them.
        task.data.update(result)
        return json.dumps(result, default=str)


def default_environment(time_limit: float = DEFAULT_TIME_LIMIT):
    """The sandbox with every registered script helper (the dict is shared, so helpers a
    domain package registers after this call are visible too); each script or expression
    may take `time_limit` seconds."""
    return SandboxEnvironment(HELPERS, time_limit=time_limit)


def create_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
    tracking.register(registry)
    return BpmnWorkflowSerializer(registry)


def load_parser(files: dict[str, bytes], dmn: bool = True) -> RedressParser:
    """A parser holding a definition's BPMN (and DMN) files; ask it for as many specs as needed."""
    parser = RedressParser()
    for name, content in sorted(files.items()):
        if name.endswith(".bpmn"):
            parser.add_bpmn_bytes(content, name)
        elif dmn and name.endswith(".dmn"):
            parser.add_dmn_bytes(content, name)
    return parser


def parse_definition(files: dict[str, bytes], process_id: str, parser: RedressParser | None = None):
    """Parse a definition's files and return (spec, subprocess_specs) for `process_id`."""
    parser = parser or load_parser(files)
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    return spec, subprocess_specs


def top_level_process_ids(files: dict[str, bytes], parser: RedressParser | None = None) -> list[str]:
    """Executable processes that no call activity in the set calls: the ones an instance starts from."""
    parser = parser or load_parser(files, dmn=False)
    ids = parser.get_process_ids()
    called: set[str] = set()
    for process_id in ids:
        for node in parser.get_process_parser(process_id).node.iter("{*}callActivity"):
            called.add(node.get("calledElement"))
    return [process_id for process_id in ids if process_id not in called]


TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")


def timer_value_problem(kind: str, value: str) -> str | None:
    """Why the engine would refuse this evaluated timer value, as a code (None: it accepts it):
    "not_text", "duration_for_date" (a duration where a date is needed) or "unreadable".

    `kind` is the BPMN element (timeDuration, timeDate, timeCycle); the checks are the engine's own
    parsers, called the way its timer event definitions call them when the timer starts."""
    from datetime import datetime

    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as Timer

    if not isinstance(value, str):
        return "not_text"
    try:
        if kind == "timeDuration":
            Timer.parse_iso_duration(value)
        elif kind == "timeDate":
            if not isinstance(Timer.parse_time_or_duration(value), datetime):
                return "duration_for_date"
        else:
            Timer.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - the engine's parsers raise bare Exceptions, ValueErrors, AttributeErrors
        return "unreadable"
    return None
