"""Keeping the human-task and timer rows in step with the engine's tasks.

Only the engine tasks that changed in this unit of work are looked at, so the
cost follows what happened now, not the instance's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, func, update
from sqlalchemy.orm import Session

from processes.engine.db import upsert_statement
from processes.engine.models import HumanTask, ProcessInstance, Timer, utcnow

# PostgreSQL NOTIFY channel on which workers hear that timer rows changed.
CHANNEL = "redress_timers"

PREDICTED = TaskState.PREDICTED_MASK
NOT_YET = TaskState.PREDICTED_MASK | TaskState.FUTURE  # never READY so far: no row


class TaskDecorator(Protocol):
    """Fills in what the engine cannot know about a human task (its deadline, its priority).

    Installed by the composition root (``Runtime.task_decorators``); called with the row's values,
    the task's extension properties and its process data, it may set ``due_at`` and ``priority``.
    ``watches`` names the process variables whose change re-decorates the tasks already open."""

    watches: frozenset[str]

    def __call__(self, values: dict, properties: dict, data: dict) -> None: ...


DECORATED = ("due_at", "priority", "escalation_level")


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


def _another_event_won(task) -> bool:
    """An event-based gateway completes whichever of its events came first; its timer fired
    only when the branch that goes on is the timer's (else it lost, and is cancelled)."""
    spec = task.task_spec
    definitions = getattr(getattr(spec, "event_definition", None), "event_definitions", None)
    if not definitions or "EventBasedGateway" not in type(spec).__name__ or not task.children:
        return False
    for child in task.children:
        index = spec.outputs.index(child.task_spec) if child.task_spec in spec.outputs else -1
        if 0 <= index < len(definitions) and isinstance(definitions[index], TimerEventDefinition):
            return False
    return True


def human_task_values(instance: ProcessInstance, task, facts: dict,
                      decorators: Iterable[TaskDecorator] = ()) -> dict:
    spec = task.task_spec
    props = spec_properties(spec)
    values = {
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
        # Four eyes: the variable named by `fourEyesAgainst` holds who may not complete it.
        "not_by": _short(facts.get(props["fourEyesAgainst"]), 80) if props.get("fourEyesAgainst") else None,
        "category": _short(facts.get("category")),
        "severity": _short(facts.get("severity")),
        "channel": _short(facts.get("channel")),
        "summary": _short(facts.get("subject"), 300),
        "created_at": utcnow(),
        "due_at": boundary_due(task),
        "priority": 3,
        "escalation_level": 1,
        "status": "open",
    }
    for decorate in decorators:
        decorate(values, props, facts)
    return values


def _short(value, limit: int = 40):
    return str(value)[:limit] if value not in (None, "") else None


def sync_human_tasks(session: Session, instance: ProcessInstance, changed: list, removed: list,
                     completed_by: str | None, decorators: Iterable[TaskDecorator] = ()) -> list[HumanTask]:
    """Insert rows for tasks that became READY; close rows of tasks that left READY. Returns
    the rows inserted or reopened, as written (a completion hands them on without reading them).

    Core statements, not ORM objects: a unit of work touches a handful of rows
    and nobody reads them back in it, so the ORM's bookkeeping is pure cost. The
    statements themselves say which rows they apply to (an open row is closed, a
    closed one reopened), so nothing has to be read first."""
    ready, completed, cancelled = [], [], []
    for task in changed:
        if not is_human(task):
            continue
        if task.state == TaskState.READY:
            ready.append(task)
        elif task.state == TaskState.COMPLETED:
            completed.append(str(task.id))
        elif not task.state & NOT_YET:  # left READY some other way: its open row, if any, closes
            cancelled.append(str(task.id))
    # A removed task had a row only if it got as far as READY; predicted ones never did.
    cancelled += [str(task.id) for task in removed if is_human(task) and not task.state & PREDICTED]
    if not (ready or completed or cancelled):
        return []
    connection = session.connection()
    now = utcnow()
    opened = []
    if ready:
        # A task reset to READY (a retry, a migration) already has a row: reopen it.
        rows = connection.execute(_reopening_insert(session),
                                  [human_task_values(instance, t, t.data, decorators) for t in ready])
        opened = [HumanTask(**row._mapping) for row in rows]
    if completed:
        connection.execute(_CLOSE_HUMAN_TASKS, {"ids": completed, "new_status": "completed", "at": now,
                                                "by": completed_by})
    if cancelled:
        connection.execute(_CLOSE_HUMAN_TASKS, {"ids": cancelled, "new_status": "cancelled", "at": now, "by": None})
    if session.identity_map:
        # Rows this session loaded before (the task being completed) must not shadow the new state.
        affected = {str(t.id) for t in ready} | set(completed) | set(cancelled)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, HumanTask) and obj.id in affected:
                session.expire(obj)
    return opened


def redecorate_open_tasks(session: Session, instance: ProcessInstance, open_tasks: Iterable, changed: list,
                          facts: dict, decorators: list[TaskDecorator], every: bool = False) -> int:
    """Re-decorate human tasks that stayed open while a watched variable changed elsewhere.

    An open task's data is its snapshot from when it arrived; when the freshest data (``facts``)
    differs from it in a watched variable (say the severity), its deadline and priority are
    computed again from the merged data. Nothing is written when nothing watched changed;
    ``every`` re-decorates all of them (the policy behind the decorators changed)."""
    watched = frozenset().union(*(d.watches for d in decorators)) if decorators else frozenset()
    if not decorators or not (watched or every):
        return 0
    fresh = {t.id for t in changed}
    updates = []
    for task in open_tasks:
        if task.id in fresh or not is_human(task):
            continue
        if not every and all(task.data.get(key) == facts.get(key) for key in watched if key in facts):
            continue
        values = human_task_values(instance, task, {**task.data, **facts})
        if task.last_state_change:  # the clock of a stage started when the task arrived, not now
            values["created_at"] = datetime.fromtimestamp(task.last_state_change, UTC)
        for decorate in decorators:
            decorate(values, spec_properties(task.task_spec), {**task.data, **facts})
        updates.append({"the_id": values["id"], **{"new_" + key: values[key] for key in DECORATED}})
    if updates:
        session.connection().execute(_REDECORATE, updates)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, HumanTask) and obj.instance_id == instance.id:
                session.expire(obj)
    return len(updates)


def sync_timers(session: Session, instance: ProcessInstance, changed: list, removed: list,
                claimed: set[str] | None = None, later=None) -> list[str]:
    """Upsert rows for waiting timers; mark fired or cancelled the ones that stopped waiting.

    The engine's task states say what to write, so no row is read first. Returns the
    BPMN ids of the timers that fired in this unit of work. `claimed`: task ids of timer
    rows this transaction holds locked and read as waiting (a worker's batch); those are
    marked fired with the batch's writes (`later`, a store.WriteLater)."""
    waiting, fired, cancelled = [], [], []
    for task in changed:
        # A predicted timer (on a branch not reached yet) has no row and needs none.
        if task.state & PREDICTED or timer_definition(task) is None:
            continue
        if task.state == TaskState.WAITING:
            due = timer_due(task)
            if due is not None:
                waiting.append({"instance_id": instance.id, "task_id": str(task.id),
                                "bpmn_id": task.task_spec.bpmn_id, "due_at": due, "status": "waiting",
                                "fired_at": None})
        elif task.state == TaskState.COMPLETED and not _another_event_won(task):
            fired.append(task)
        elif task.state & TaskState.FINISHED_MASK:
            cancelled.append(str(task.id))
    cancelled += [str(t.id) for t in removed if not t.state & PREDICTED and timer_definition(t) is not None]
    if not (waiting or fired or cancelled):
        return []
    connection = session.connection()
    now = utcnow()
    if waiting:
        # On PostgreSQL the upsert wakes the workers itself (pg_notify in its RETURNING): one round trip.
        connection.execute(_waiting_upsert(session), waiting)
    fired_ids: set[str] = set()
    ask = fired
    if claimed and later is not None:
        held = [str(t.id) for t in fired if str(t.id) in claimed]
        later.add(_FIRE_HELD_TIMER, [{"the_instance": instance.id, "the_task": task_id, "at": now}
                                     for task_id in held])
        fired_ids.update(held)
        ask = [t for t in fired if str(t.id) not in claimed]
    if ask:
        # Only a row that was still waiting fires (a migrated copy brings every finished timer along).
        fired_ids |= set(connection.execute(_FIRE_TIMERS, {
            "instance": instance.id, "task_ids": [str(t.id) for t in ask], "at": now}).scalars())
    if cancelled:
        connection.execute(_CANCEL_TIMERS, {"instance": instance.id, "task_ids": cancelled, "at": now})
    if session.identity_map:
        for obj in list(session.identity_map.values()):
            # Read from the loaded state: an attribute of a row expired before would be a query.
            if isinstance(obj, Timer) and obj.__dict__.get("instance_id") == instance.id:
                session.expire(obj)
    return [t.task_spec.bpmn_id for t in fired if str(t.id) in fired_ids]


# Built once (building a statement costs more than SQLite takes to run it).
_HUMAN = HumanTask.__table__
_CLOSE_HUMAN_TASKS = (
    update(_HUMAN).where(_HUMAN.c.id.in_(bindparam("ids", expanding=True)), _HUMAN.c.status == "open")
    .values(status=bindparam("new_status"), completed_at=bindparam("at"), completed_by=bindparam("by")))
_REDECORATE = (update(_HUMAN).where(_HUMAN.c.id == bindparam("the_id"), _HUMAN.c.status == "open")
               .values(due_at=bindparam("new_due_at"), priority=bindparam("new_priority"),
                       escalation_level=bindparam("new_escalation_level")))
_TIMER = Timer.__table__
_STILL_WAITING = ((_TIMER.c.instance_id == bindparam("instance")) & (_TIMER.c.status == "waiting")
                  & _TIMER.c.task_id.in_(bindparam("task_ids", expanding=True)))
_FIRE_TIMERS = (update(_TIMER).where(_STILL_WAITING).values(status="fired", fired_at=bindparam("at"))
                .returning(_TIMER.c.task_id))
_FIRE_HELD_TIMER = (update(_TIMER).where((_TIMER.c.instance_id == bindparam("the_instance"))
                                          & (_TIMER.c.task_id == bindparam("the_task")))
                    .values(status="fired", fired_at=bindparam("at")))
_CANCEL_TIMERS = update(_TIMER).where(_STILL_WAITING).values(status="cancelled", fired_at=bindparam("at"))

def _reopening_insert(session: Session):
    """New human-task rows; a row of the same task (reset to READY by a retry or a migration) is reopened."""
    table = HumanTask.__table__
    return upsert_statement(session, "human_task", lambda insert: insert(table).on_conflict_do_update(
        index_elements=[table.c.id], set_={"status": "open", "completed_at": None, "completed_by": None},
        where=table.c.status != "open").returning(*table.c))


def _waiting_upsert(session: Session):
    """Rows of waiting timers: new ones are inserted, known ones take the (re)evaluated due time."""
    table = Timer.__table__

    def build(insert):
        statement = insert(table)
        upsert = statement.on_conflict_do_update(
            index_elements=[table.c.instance_id, table.c.task_id],
            set_={"status": "waiting", "due_at": statement.excluded.due_at, "fired_at": None})
        if session.get_bind().dialect.name == "postgresql":
            # NOTIFY as part of the write: sent at commit, once per transaction (PostgreSQL folds repeats).
            upsert = upsert.returning(func.pg_notify(CHANNEL, ""))
        return upsert

    return upsert_statement(session, "timer", build)
