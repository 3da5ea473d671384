"""Keeping the human-task and timer rows in step with the engine's tasks.

Only the engine tasks that changed in this unit of work are looked at, so the
cost follows what happened now, not the instance's history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import TaskState
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from processes.models import HumanTask, ProcessInstance, Timer, utcnow


def spec_properties(task_spec) -> dict:
    extensions = getattr(task_spec, "extensions", None) or {}
    return extensions.get("properties", {}) or {}


def is_human(task) -> bool:
    return bool(getattr(task.task_spec, "manual", False))


def timer_definition(task):
    """The task's timer, also when it waits at an event-based gateway among other events."""
    event_definition = getattr(task.task_spec, "event_definition", None)
    for each in getattr(event_definition, "event_definitions", None) or [event_definition]:
        if isinstance(each, TimerEventDefinition):
            return each
    return None


def timer_due(task) -> datetime | None:
    """When a waiting timer task fires, from the value SpiffWorkflow evaluated for it."""
    definition = timer_definition(task)
    if definition is None:
        return None
    value = definition.details(task).value
    if isinstance(value, dict):  # cycle timers keep {"cycles", "next", "duration"}
        value = value.get("next")
    if not value:
        return None
    try:
        due = TimerEventDefinition.get_datetime(value)
    except Exception:  # noqa: BLE001 - an unparseable value is a design error, seen in the instance
        return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def boundary_due(task) -> datetime | None:
    """The earliest waiting timer attached to a task (its SLA), if any.

    A looped or multi-instance task's timer hangs on the loop, one level up."""
    attached, parent = task, task.parent
    while parent is not None and "Loop" in type(parent.task_spec).__name__ or (
            parent is not None and "MultiInstance" in type(parent.task_spec).__name__):
        attached, parent = parent, parent.parent
    if parent is None or "BoundaryEventSplit" not in type(parent.task_spec).__name__:
        return None
    dues = [timer_due(sibling) for sibling in parent.children if sibling is not attached
            and sibling.state == TaskState.WAITING]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def human_task_values(instance: ProcessInstance, task, facts: dict) -> dict:
    spec = task.task_spec
    props = spec_properties(spec)
    return {
        "id": str(task.id),
        "instance_id": instance.id,
        "business_key": instance.business_key,
        "process_key": instance.process_key,
        "bpmn_id": spec.bpmn_id,
        "name": spec.bpmn_name or spec.bpmn_id,
        "lane": spec.lane,
        "department": spec.lane,
        "form": props.get("formJsonSchemaFilename"),
        "candidate_group": props.get("candidateGroup"),
        "category": _short(facts.get("category")),
        "severity": _short(facts.get("severity")),
        "channel": _short(facts.get("channel")),
        "summary": _short(facts.get("subject"), 300),
        "created_at": utcnow(),
        "due_at": boundary_due(task),
        "status": "open",
    }


def _short(value, limit: int = 40):
    return str(value)[:limit] if value not in (None, "") else None


def sync_human_tasks(session: Session, instance: ProcessInstance, changed: list, removed: list[str],
                     completed_by: str | None) -> None:
    """Insert rows for tasks that became READY; close rows of tasks that left READY.

    Core statements, not ORM objects: a unit of work touches a handful of rows
    and nobody reads them back in it, so the ORM's bookkeeping is pure cost."""
    touched = {str(t.id): t for t in changed if is_human(t)}
    if not touched and not removed:
        return
    table = HumanTask.__table__
    connection = session.connection()
    # One query for the rows of every task that changed or vanished, whatever their status.
    wanted = list(touched) + list(removed)
    status_of = dict(connection.execute(select(table.c.id, table.c.status).where(table.c.id.in_(wanted))).all())
    now = utcnow()
    new_rows, reopened, completed, cancelled = [], [], [], []
    for task_id, task in touched.items():
        status = status_of.get(task_id)
        if task.state == TaskState.READY:
            if status is None:
                new_rows.append(human_task_values(instance, task, task.data))
            elif status != "open":
                reopened.append(task_id)  # a task reset to READY (a retry or a migration)
        elif status == "open":
            (completed if task.state == TaskState.COMPLETED else cancelled).append(task_id)
    cancelled += [task_id for task_id in removed if status_of.get(task_id) == "open"]
    if new_rows:
        connection.execute(insert(table), new_rows)
    if reopened:
        connection.execute(update(table).where(table.c.id.in_(reopened))
                           .values(status="open", completed_at=None, completed_by=None))
    if completed:
        connection.execute(update(table).where(table.c.id.in_(completed))
                           .values(status="completed", completed_at=now, completed_by=completed_by))
    if cancelled:
        connection.execute(update(table).where(table.c.id.in_(cancelled))
                           .values(status="cancelled", completed_at=now))
    if session.identity_map:
        # Rows this session loaded before (the task being completed) must not shadow the new state.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, HumanTask) and obj.id in status_of:
                session.expire(obj)


def sync_timers(session: Session, instance: ProcessInstance, changed: list, removed: list[str]) -> list[Timer]:
    """Upsert rows for waiting timers; mark fired or cancelled the ones that stopped waiting.

    Returns the timers that fired in this unit of work."""
    timers = [t for t in changed if timer_definition(t) is not None]
    if not timers and not removed:
        return []
    rows = {
        row.task_id: row
        for row in session.scalars(
            select(Timer).where(Timer.instance_id == instance.id, Timer.status == "waiting")
        )
    }
    fired = []
    notify = False
    now = utcnow()
    for task in timers:
        task_id = str(task.id)
        row = rows.get(task_id)
        if task.state == TaskState.WAITING:
            due = timer_due(task)
            if due is None:
                continue
            if row is None:
                session.add(Timer(instance_id=instance.id, task_id=task_id,
                                  bpmn_id=task.task_spec.bpmn_id, due_at=due))
                notify = True
            elif row.due_at != due:
                row.due_at = due
        elif row is not None:
            row.status = "fired" if task.state == TaskState.COMPLETED else "cancelled"
            row.fired_at = now
            if row.status == "fired":
                fired.append(row)
    for task_id in removed:
        row = rows.get(task_id)
        if row is not None:
            row.status = "cancelled"
    if notify:
        from processes.worker import notify_timers_changed

        notify_timers_changed(session)
    return fired
