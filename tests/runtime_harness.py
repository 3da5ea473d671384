"""Drives the complaint process through the runtime facade, with persistence.

Verbs a scenario reads like (`ready_user_tasks`, `complete`,
`send_message`, `advance_time`, `data` ...), but every step is a real unit of
work of `processes.engine.runtime.Runtime` on the test database: the form is
validated, the actor's lane is checked, rows are written, timers fire through
`fire_due_timers` as the worker would. Time is frozen with time-machine and
moves only through `advance_time`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from processes.complaints.demo import worker_for
from processes.complaints.records import Complaint
from processes.engine.models import ProcessInstance
from processes.engine.runtime import Runtime
from tests.process_harness import DEFAULT_START, HarnessError


class FacadeHarness:
    def __init__(self, runtime: Runtime, instance_id: int, business_key: str, session, clock):
        self.runtime = runtime
        self.instance_id = instance_id
        self.business_key = business_key
        self.session = session  # the test's own session; its snapshot is renewed after each step
        self._clock = clock
        self._owns_clock = False

    # -- lifecycle ---------------------------------------------------------------

    @classmethod
    def start(cls, runtime: Runtime, data: dict, session, process_id: str = "complaint_handling",
              now: datetime = DEFAULT_START) -> FacadeHarness:
        traveller = time_machine.travel(now, tick=False)
        clock = traveller.start()
        reference = data["reference"]
        session.commit()  # rows the test prepared become visible to the runtime

        def record(s, instance):
            if process_id != "complaint_handling":
                return
            if s.scalar(select(Complaint).where(Complaint.reference == reference)) is None:
                s.add(Complaint(reference=reference, channel=data.get("channel", "web"),
                                customer_name=data.get("customer_name") or "",
                                customer_phone=data.get("customer_phone"), subject=data.get("subject") or "",
                                description=data.get("description") or "", instance_id=instance.id))
                s.flush()

        instance_id = runtime.start(process_id, reference, data, before_start=record)
        harness = cls(runtime, instance_id, reference, session, clock)
        harness._traveller, harness._owns_clock = traveller, True
        session.commit()
        return harness

    @classmethod
    def attach(cls, runtime: Runtime, session, business_key: str, process_id: str, clock) -> FacadeHarness:
        """A harness on an instance the process started itself (an improvement action)."""
        session.commit()
        instance_id = session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.business_key == business_key, ProcessInstance.process_key == process_id))
        if instance_id is None:
            raise HarnessError(f"no {process_id} instance for {business_key}")
        return cls(runtime, instance_id, business_key, session, clock)

    def close(self) -> None:
        if self._owns_clock:
            self._traveller.stop()
            self._owns_clock = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- steps -------------------------------------------------------------------

    def _open_rows(self):
        return [t for t in self.runtime.open_tasks(self.business_key) if t.instance_id == self.instance_id]

    def ready_user_tasks(self) -> list[tuple[str, str | None, str | None]]:
        return sorted((t.bpmn_id, t.department, t.form) for t in self._open_rows())

    def ready_ids(self) -> list[str]:
        return [bpmn_id for bpmn_id, _lane, _form in self.ready_user_tasks()]

    def _row(self, bpmn_id: str):
        for row in self._open_rows():
            if row.bpmn_id == bpmn_id:
                return row
        raise HarnessError(f"{bpmn_id} is not ready; ready: {self.ready_ids()}; "
                           f"waiting for: {self.waiting_messages()} {self.waiting_timers()}")

    def complete(self, bpmn_id: str, data: dict | None = None) -> None:
        row = self._row(bpmn_id)
        self.session.commit()
        self.runtime.complete(row.id, worker_for(row), dict(data or {}))
        self._renew()

    def send_message(self, name: str, payload: dict) -> None:
        self.session.commit()
        self.runtime.correlate(self.business_key, name, payload)
        self._renew()

    def advance_time(self, delta: timedelta) -> None:
        self._clock.shift(delta)
        self.session.commit()
        self.runtime.fire_due_timers()
        self._renew()

    def _renew(self) -> None:
        """End the test session's snapshot and forget loaded rows, so reads see this step."""
        self.session.commit()
        self.session.expire_all()

    # -- what the tests read -------------------------------------------------------

    def _workflow(self):
        return self.runtime.load_workflow(self.instance_id)

    def task_properties(self, bpmn_id: str) -> dict:
        workflow = self._workflow()
        for task in workflow.get_tasks(state=TaskState.READY):
            if task.task_spec.bpmn_id == bpmn_id:
                return dict(task.task_spec.extensions.get("properties", {}))
        raise HarnessError(f"{bpmn_id} is not ready")

    def waiting_messages(self) -> list[str]:
        with self.runtime.db.session() as s:
            return list(s.get(ProcessInstance, self.instance_id).awaiting or [])

    def waiting_timers(self) -> list[str]:
        names = []
        for task in self._workflow().get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            for each in getattr(definition, "event_definitions", None) or ([definition] if definition else []):
                if isinstance(each, TimerEventDefinition):
                    names.append(each.name)
        return sorted(names)

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @property
    def is_completed(self) -> bool:
        with self.runtime.db.session() as s:
            return s.get(ProcessInstance, self.instance_id).status == "completed"

    @property
    def data(self) -> dict:
        """The variables at the task the process waits at, or at its end."""
        workflow = self._workflow()
        if workflow.is_completed():
            return workflow.last_task.data
        tasks = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual] or [
            t for t in workflow.get_tasks(state=TaskState.WAITING)
            if t.task_spec.bpmn_id and type(t.task_spec).__name__ != "BoundaryEvent"
        ]
        if not tasks:
            return workflow.last_task.data
        return max(tasks, key=lambda t: t.last_state_change).data

    @property
    def completed(self) -> list[tuple[str, str | None]]:
        workflow = self._workflow()
        # The iterator descends into subprocesses, so call activities' tasks are included.
        tasks = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id]
        tasks.sort(key=lambda t: t.last_state_change or 0)
        return [(t.task_spec.bpmn_id, getattr(t.task_spec, "lane", None)) for t in tasks]

    @property
    def completed_ids(self) -> list[str]:
        return [bpmn_id for bpmn_id, _lane in self.completed]

    @property
    def lanes_visited(self) -> set[str]:
        return {lane for _id, lane in self.completed if lane}

    @property
    def errors(self) -> list[str]:
        return [t.task_spec.bpmn_id for t in self._workflow().get_tasks(state=TaskState.ERROR)]

