"""The runtime facade: the one way web views, the CLI, handlers and tests drive processes.

Each public method is one unit of work: it begins a transaction, loads what it
needs, runs the engine, writes the changed tasks, the human-task and timer rows
and the audit entries, and commits all of it or none of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as AnyMessageDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from processes.engine import audit, definitions, forms
from processes.engine.actors import SYSTEM, Actor, may_be_given, may_work
from processes.engine.database import Database
from processes.engine.errors import (
    N_,
    PROCESS_FAILED_AFTER_INPUT,
    PROCESS_FAILED_TO_START,
    Conflict,
    Forbidden,
    NotFound,
    NotWaiting,
    ProcessFailed,
    RuntimeProblem,
    ValidationFailed,
)
from processes.engine.models import HumanTask, ProcessDefinition, ProcessInstance, Timer, utcnow
from processes.engine.script_limits import DEFAULT_TIME_LIMIT
from processes.engine.spiff import RedressScriptEngine, create_serializer
from processes.engine.store import WorkflowStore, WriteLater
from processes.engine.sync import (
    TaskDecorator,
    redecorate_open_tasks,
    spec_properties,
    sync_human_tasks,
    sync_timers,
)
from processes.engine.tracking import TrackedWorkflow, is_tracked

log = logging.getLogger(__name__)

# Called after every unit of work on an instance: (session, instance, facts, uow).
InstanceObserver = Callable[[Session, ProcessInstance, dict, "UnitOfWork"], None]

# A timer whose run fails is tried again after 10 s, 20 s, 40 s, 80 s, then parked as failed.
TIMER_BACKOFF = timedelta(seconds=10)
TIMER_ATTEMPTS = 5
TIMER_BATCH = 50  # due timers taken per transaction


class StepFailed(Exception):
    """The engine raised at a step (completing a task, taking a message, firing a timer,
    starting): the unit of work is rolled back and the failure recorded on the instance."""

    def __init__(self, instance: ProcessInstance | None, step: str, cause: BaseException,
                 task_id: str | None = None, bpmn_id: str | None = None):
        self.instance_id = instance.id if instance is not None else None
        self.business_key = instance.business_key if instance is not None else None
        self.step, self.cause, self.task_id, self.bpmn_id = step, cause, task_id, bpmn_id
        text = f"{step}: {type(cause).__name__}: {str(cause).strip()}"
        for attribute in ("data_output", "data_input"):  # SpiffWorkflow's data errors name the variable here
            variable = getattr(cause, attribute, None)
            if variable is not None:
                text += f" ({attribute.replace('_', ' ')} {getattr(variable, 'bpmn_id', variable)!r})"
        self.text = text[:2000]
        super().__init__(self.text)


@contextmanager
def _step(instance: ProcessInstance | None, step: str, task_id: str | None = None,
          bpmn_id: str | None = None) -> Iterator[None]:
    """Turn whatever the engine raises here into a StepFailed; the runtime's own problems
    (a conflict, a validation) and database errors keep their meaning."""
    try:
        yield
    except StatementError as exc:
        if isinstance(exc, DBAPIError):
            raise
        # The statement never reached the database: a value it cannot take (a set in the data).
        raise StepFailed(instance, step, exc.orig or exc, task_id, bpmn_id) from exc
    except (SQLAlchemyError, RuntimeProblem, StepFailed):
        raise
    except Exception as exc:
        raise StepFailed(instance, step, exc, task_id, bpmn_id) from exc


class _RunCarefully(Exception):
    """An instance of a timer batch failed: run the batch again, a savepoint per instance."""


@dataclass
class UnitOfWork:
    session: Session
    actor: Actor
    checkins: list[tuple[int, int, BpmnWorkflow]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Human-task rows each instance's last save inserted or reopened, as written.
    opened: dict[int, list[HumanTask]] = field(default_factory=dict)
    # In a batch that holds the lock of every instance it runs: their rows, written at its end.
    later: WriteLater | None = None
    claimed: set[str] | None = None  # task ids of the timer rows that batch holds, read as waiting


@dataclass(frozen=True)
class DiagramState:
    """The view model of an instance's diagram: BPMN element ids by how far the instance got."""

    done: frozenset[str]
    current: frozenset[str]
    waiting: frozenset[str]


class Services:
    """What handlers may ask of the runtime inside the running transaction."""

    def __init__(self, runtime: Runtime, uow: UnitOfWork, instance: ProcessInstance):
        self._runtime, self._uow, self._instance = runtime, uow, instance

    def start_process(self, process_key: str, business_key: str, data: dict) -> int:
        return self._runtime._start(self._uow, process_key, business_key, data,
                                    parent_instance_id=self._instance.id)

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._uow.after_commit.append(fn)

    @property
    def settings(self) -> dict:
        return self._runtime.settings

    @property
    def actor_name(self) -> str:
        """Who caused this step (the person who completed the task before it, or "system")."""
        return self._uow.actor.username

    def handling_history(self, business_key: str) -> list[dict]:
        """Human tasks done on the case, with who and when (the archive keeps them)."""
        return audit.completed_tasks(self._uow.session, business_key)


class Runtime:
    def __init__(self, db: Database, settings: dict | None = None, cache_size: int = 256,
                 script_time_limit: float = DEFAULT_TIME_LIMIT):
        self.db = db
        # Wall time each script, condition, timer or DMN expression may take (script_limits).
        self.script_time_limit = script_time_limit
        self.settings = settings if settings is not None else {}
        # The approved settings version in force, read in the starting transaction: (version, values over
        # `settings`). The composition root installs the complaint domain's; None: `settings` alone.
        self.settings_source: Callable[[Session], tuple[int | None, dict]] | None = None
        self.serializer = create_serializer()
        self.store = WorkflowStore(self.serializer)
        self.definitions = definitions.DefinitionCache(self.serializer)
        self.observers: list[InstanceObserver] = []
        # Deadlines and priorities of human tasks: the domain knows them, the composition root installs them.
        self.task_decorators: list[TaskDecorator] = []
        self._cache: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    # -- units of work ------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, actor: Actor = SYSTEM) -> Iterator[UnitOfWork]:
        session = self.db.write_session()
        uow = UnitOfWork(session, actor)
        try:
            with session.begin():
                yield uow
        except StaleDataError as exc:
            raise Conflict(N_("This complaint was changed by someone else meanwhile; reload and try again.")) from exc
        except IntegrityError as exc:
            raise Conflict(N_("This change collides with another one made at the same moment; try again.")) from exc
        except OperationalError as exc:
            if _is_lock_failure(exc):
                raise Conflict(N_("The complaint is busy; try again in a moment.")) from exc
            raise
        finally:
            session.close()
        # Committed: the workflows we hold are now the current versions.
        for instance_id, version, workflow in uow.checkins:
            self._checkin(instance_id, version, workflow)
        for fn in uow.after_commit:
            try:
                fn()
            except Exception:
                log.exception("after-commit action failed")

    # -- definitions --------------------------------------------------------------

    def deploy(self, files: dict[str, str], actor: Actor = SYSTEM, note: str = "") -> list[ProcessDefinition]:
        with self.unit_of_work(actor) as uow:
            existing = set(uow.session.scalars(select(ProcessDefinition.id)))
            deployed = definitions.deploy(uow.session, self.serializer, files, actor.username, note)
            for d in deployed:
                if d.id not in existing:
                    audit.append(uow.session, actor.username, "definition_deployed",
                                 detail={"process_key": d.process_key, "version": d.version,
                                         "sha256": d.sha256, "note": note})
            return deployed

    # -- instances ----------------------------------------------------------------

    def start(self, process_key: str, business_key: str, data: dict | None = None,
              actor: Actor = SYSTEM, before_start: Callable[[Session, ProcessInstance], None] | None = None) -> int:
        """Start an instance of the latest version; returns its id.

        When the engine fails on the way (past the script errors `_run` already keeps), the
        start is rolled back and stored again unrun, in error at its start: the caller's data
        and `before_start`'s rows are kept, and `retry` runs it from the beginning."""
        try:
            with self.unit_of_work(actor) as uow:
                return self._start(uow, process_key, business_key, data or {}, before_start=before_start)
        except StepFailed as failed:
            log.error("starting %s for %s failed: %s", process_key, business_key, failed.text,
                      exc_info=failed.cause)
            try:
                with self.unit_of_work(actor) as uow:
                    return self._start(uow, process_key, business_key, data or {}, before_start=before_start,
                                       failed=failed)
            except (StepFailed, SQLAlchemyError) as again:
                # Not even the unrun instance can be stored (its data cannot be): audit and log it.
                log.error("storing the failed start of %s for %s failed too: %s", process_key, business_key,
                          again, exc_info=again)
                with self.unit_of_work(actor) as uow:
                    audit.append(uow.session, actor.username, "instance_start_failed", business_key=business_key,
                                 detail={"process_key": process_key, "error": failed.text})
                raise ProcessFailed(PROCESS_FAILED_TO_START) from failed.cause

    def _start(self, uow: UnitOfWork, process_key: str, business_key: str, data: dict,
               parent_instance_id: int | None = None, before_start=None, failed: StepFailed | None = None) -> int:
        """Create the instance and run it; with `failed` (the first try's failure), store it
        unrun and in error instead."""
        session = uow.session
        _refuse_non_finite(data)
        definition_id = definitions.latest_id(session, process_key)
        if definition_id is None:
            raise NotFound(N_("no process %(process_key)s is deployed"), process_key=repr(process_key))
        definition = self.definitions.get(session, definition_id)
        workflow = TrackedWorkflow(definition.spec, definition.subprocess_specs, script_engine=self._script_engine())
        settings_version, settings = self.settings_in_force(session)
        if parent_instance_id is not None:  # a child runs under its parent's settings
            settings_version = session.get(ProcessInstance, parent_instance_id).settings_version
        start_data = {"settings": settings, **data, "business_key": business_key}
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(start_data)
        instance = ProcessInstance(definition_id=definition.id, process_key=process_key,
                                   business_key=business_key, parent_instance_id=parent_instance_id,
                                   status="running", state={}, awaiting=[], settings_version=settings_version)
        session.add(instance)
        session.flush()
        if before_start is not None:
            before_start(session, instance)
        audit.append(session, uow.actor.username, "instance_started", business_key=business_key,
                     instance_id=instance.id, detail={"process_key": process_key, "version": definition.version,
                                                      "settings_version": settings_version})
        if failed is not None:
            instance.status, instance.error, instance.error_task_id = "error", failed.text, None
            audit.append(session, uow.actor.username, "instance_error", business_key=business_key,
                         instance_id=instance.id, detail={"error": failed.text, "task": failed.bpmn_id,
                                                          "step": failed.step})
            with _step(instance, "store failed start"):
                self._persist(uow, instance, workflow, None)
            return instance.id
        with _step(instance, "start"):
            self._run(uow, instance, workflow)
        return instance.id

    def settings_in_force(self, session: Session) -> tuple[int | None, dict]:
        """(version, settings) a new instance starts with: the approved version over the base settings."""
        if self.settings_source is None:
            return None, dict(self.settings)
        version, values = self.settings_source(session)
        return version, {**self.settings, **values}

    def _run(self, uow: UnitOfWork, instance: ProcessInstance, workflow: BpmnWorkflow,
             completed_by: str | None = None, settle: bool = False) -> None:
        """Run engine steps until only people or time can move the instance, then persist."""
        engine: RedressScriptEngine = workflow.script_engine
        engine.context_factory = lambda task: {
            "business_key": instance.business_key, "instance_id": instance.id,
            "session": uow.session, "services": Services(self, uow, instance),
        }
        try:
            workflow.do_engine_steps()  # ends by refreshing timers, which can make more work ready
            # Only a timer firing leaves engine work behind.
            while settle and _has_engine_work(workflow):
                workflow.do_engine_steps()
            if instance.status == "error" and not _error_tasks(workflow):
                instance.status, instance.error, instance.error_task_id = "running", None, None
        except SQLAlchemyError:
            raise  # a database failure is the transaction's, not the process's
        except Exception as exc:  # noqa: BLE001 - a script or handler failed: the task is in ERROR
            failed = _error_tasks(workflow)
            instance.status = "error"
            instance.error = str(exc)
            instance.error_task_id = str(failed[0].id) if failed else None
            audit.append(uow.session, uow.actor.username, "instance_error", business_key=instance.business_key,
                         instance_id=instance.id, detail={"error": str(exc),
                                                          "task": failed[0].task_spec.bpmn_id if failed else None})
        finally:
            engine.context_factory = None
        self._persist(uow, instance, workflow, completed_by)

    def _persist(self, uow: UnitOfWork, instance: ProcessInstance, workflow: BpmnWorkflow,
                 completed_by: str | None, changed_outside: bool = False) -> None:
        session = uow.session
        changed, removed = self.store.save(session, instance, workflow, uow.later)
        uow.opened[instance.id] = sync_human_tasks(session, instance, changed, removed, completed_by,
                                                   self.task_decorators)
        fired = sync_timers(session, instance, changed, removed, uow.claimed, uow.later)
        for bpmn_id in fired:
            audit.append(session, uow.actor.username, "timer_fired", business_key=instance.business_key,
                         instance_id=instance.id, detail={"timer": bpmn_id})
        instance.awaiting = _awaited_messages(workflow)
        if workflow.completed and instance.status not in ("completed", "cancelled"):
            instance.status = "completed"
            instance.completed_at = utcnow()
            audit.append(session, uow.actor.username, "instance_completed",
                         business_key=instance.business_key, instance_id=instance.id)
        instance.updated_at = utcnow()
        facts = _latest_facts(workflow, changed)
        if changed_outside:  # a change made to the process data itself (change_instance) is the freshest
            facts.update(workflow.data)
        if self.task_decorators:
            redecorate_open_tasks(session, instance, _open_human_tasks(workflow), changed, facts,
                                  self.task_decorators)
        for observer in self.observers:
            observer(session, instance, facts, uow)
        _write_instance(session, instance, uow.later)
        self.store.settle(workflow)
        uow.checkins.append((instance.id, instance.version, workflow))

    # -- loading and caching -----------------------------------------------------

    def _lock_instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.scalars(_LOCK_INSTANCE, {"the_id": instance_id}).first()
        if instance is None:
            raise NotFound(N_("process instance %(instance_id)s does not exist"), instance_id=instance_id)
        return instance

    def _workflow(self, session: Session, instance: ProcessInstance) -> BpmnWorkflow:
        with self._cache_lock:
            cached = self._cache.pop(instance.id, None)
        if cached is not None and cached[0] == instance.version:
            return cached[1]
        return self._load(session, instance)

    def _load(self, session: Session, instance: ProcessInstance, history: bool = False) -> BpmnWorkflow:
        definition = self.definitions.get(session, instance.definition_id)
        return self.store.load(session, instance, definition.spec, definition.subprocess_specs,
                               self._script_engine(), history=history)

    def _script_engine(self) -> RedressScriptEngine:
        return RedressScriptEngine(time_limit=self.script_time_limit)

    def _checkin(self, instance_id: int, version: int, workflow: BpmnWorkflow) -> None:
        if not is_tracked(workflow):
            return  # a migrated copy: the next unit of work loads the tracked workflow from its rows
        with self._cache_lock:
            self._cache[instance_id] = (version, workflow)
            self._cache.move_to_end(instance_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def load_workflow(self, instance_id: int, history: bool = True) -> BpmnWorkflow:
        """A read-only copy of an instance's workflow, for views such as the diagram: with its
        whole history, or (`history=False`) only the live tree a step loads."""
        with self.db.session() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(N_("process instance %(instance_id)s does not exist"), instance_id=instance_id)
            return self._load(session, instance, history=history)

    def diagram_state(self, instance_id: int) -> DiagramState:
        """Which BPMN elements of an instance are done, current (ready, running or failed) and
        waiting (on a timer, a message or a join): what a diagram highlights."""
        done, current, waiting = set(), set(), set()
        for task in self.load_workflow(instance_id).get_tasks():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.state in (TaskState.READY, TaskState.STARTED, TaskState.ERROR):
                current.add(bpmn_id)
            elif task.state == TaskState.WAITING:
                waiting.add(bpmn_id)
            elif task.state == TaskState.COMPLETED:
                done.add(bpmn_id)
        return DiagramState(done=frozenset(done - current - waiting), current=frozenset(current),
                            waiting=frozenset(waiting - current))

    # -- human tasks --------------------------------------------------------------

    def _open_task(self, session: Session, task_id: str, lock: bool = True) -> tuple[HumanTask, ProcessInstance]:
        if lock:
            # The task's row and its instance, the instance locked, in one statement.
            found = session.execute(_LOCK_TASK_AND_INSTANCE, {"the_id": task_id}).first()
            if found is None:
                raise NotFound(N_("This task does not exist."))
            row, instance = found
            if not self.db.is_sqlite:
                # Re-read after the lock: someone may have completed or claimed it meanwhile (only
                # the instance is locked, always first, so units of work never wait on each other
                # in a circle). SQLite's write transactions are serial, so the row is fresh.
                session.refresh(row)
        else:
            row = session.get(HumanTask, task_id)
            if row is None:
                raise NotFound(N_("This task does not exist."))
            instance = session.get(ProcessInstance, row.instance_id)
        if row.status != "open":
            if row.completed_by:
                raise Conflict(N_("This task was already %(status)s by %(who)s."), status=row.status, who=row.completed_by)
            raise Conflict(N_("This task was already %(status)s."), status=row.status)
        return row, instance

    def claim(self, task_id: str, actor: Actor) -> HumanTask:
        with self.unit_of_work(actor) as uow:
            row, _ = self._open_task(uow.session, task_id)
            if row.assignee == actor.username:
                return row
            if row.assignee is not None:
                raise Conflict(N_("This task is already claimed by %(who)s."), who=row.assignee)
            if row.not_by == actor.username:
                raise Forbidden(N_("You wrote what this task approves: a different person must approve it."))
            if not may_work(actor, row.department, row.candidate_group, None):
                raise Forbidden(N_("This task belongs to another department or group."))
            row.assignee = actor.username
            audit.append(uow.session, actor.username, "task_claimed", business_key=row.business_key,
                         instance_id=row.instance_id, detail={"task": row.bpmn_id, "task_id": row.id})
            return row

    def unclaim(self, task_id: str, actor: Actor) -> HumanTask:
        with self.unit_of_work(actor) as uow:
            row, _ = self._open_task(uow.session, task_id)
            if row.assignee is None:
                return row
            if row.assignee != actor.username and not actor.is_overseer:
                raise Forbidden(N_("Only the person it is assigned to, or a supervisor, can release this task."))
            previous, row.assignee = row.assignee, None
            audit.append(uow.session, actor.username, "task_unclaimed", business_key=row.business_key,
                         instance_id=row.instance_id, detail={"task": row.bpmn_id, "task_id": row.id,
                                                              "previous": previous})
            return row

    def reassign(self, task_id: str, actor: Actor, to: Actor) -> HumanTask:
        with self.unit_of_work(actor) as uow:
            row, _ = self._open_task(uow.session, task_id)
            allowed = actor.is_overseer or actor.role == "manager" or row.assignee == actor.username
            if not allowed:
                raise Forbidden(N_("Only the assignee or a supervisor can reassign this task."))
            if not may_be_given(to, row.department, row.candidate_group, row.not_by):
                raise Forbidden(N_("%(who)s may not work tasks of this department."), who=to.username)
            previous, row.assignee = row.assignee, to.username
            audit.append(uow.session, actor.username, "task_reassigned", business_key=row.business_key,
                         instance_id=row.instance_id, detail={"task": row.bpmn_id, "task_id": row.id,
                                                              "from": previous, "to": to.username})
            return row

    def task_form(self, task_id: str) -> tuple[HumanTask, dict | None]:
        with self.db.read_session() as session:
            # The row and its instance's definition in one statement (every task page and API call asks).
            found = session.execute(_TASK_AND_DEFINITION, {"the_id": task_id}).first()
            if found is None:
                raise NotFound(N_("This task does not exist."))
            row, definition_id = found
            definition = self.definitions.get(session, definition_id)
            return row, forms.load_form(definition.files, row.form)

    def task_data(self, task_id: str) -> dict:
        """The process data a task sees (for showing the case beside the form)."""
        with self.db.read_session() as session:
            # One row, not the workflow: the view costs the same however long the history.
            found = self.store.human_task_data(session, task_id)
            if found is None:
                raise NotFound(N_("This task does not exist."))
            return found

    def save_draft(self, task_id: str, actor: Actor, data: dict, locale: str = "en") -> None:
        with self.unit_of_work(actor) as uow:
            row, _ = self._open_task(uow.session, task_id, lock=False)
            if not may_work(actor, row.department, row.candidate_group, row.assignee, row.not_by):
                raise Forbidden(N_("You may not work on this task."))
            # A NUL kept in a JSON column breaks every query on it later (PostgreSQL).
            unsafe = forms.unsafe_errors(data, locale)
            if unsafe:
                raise ValidationFailed(unsafe)
            row.draft = data

    def complete(self, task_id: str, actor: Actor, data: dict, locale: str = "en",
                 prepare: Callable[[HumanTask, dict | None, dict], dict] | None = None) -> list[HumanTask]:
        """Validate, check the actor, complete the task and run on; returns the instance's open tasks.

        `prepare(row, form, data)`, when given, turns the submitted data into what is completed
        once the task is locked and the actor checked, before the form validates it (the API fills
        an answer's placeholders there), so the caller need not read the task and its form first.

        When the engine fails on the way, nothing of the completion is kept: the instance is
        marked failed at the task (retryable), the input is kept as the task's draft, and
        ProcessFailed tells the person."""
        try:
            return self._complete(task_id, actor, data, locale, prepare)
        except StepFailed as failed:
            self._record_failure(failed, actor, draft=(task_id, data))
            raise ProcessFailed(PROCESS_FAILED_AFTER_INPUT) from failed.cause

    def _complete(self, task_id: str, actor: Actor, data: dict, locale: str, prepare=None) -> list[HumanTask]:
        with self.unit_of_work(actor) as uow:
            session = uow.session
            row, instance = self._open_task(session, task_id)
            if row.not_by == actor.username:
                raise Forbidden(N_("You wrote what this task approves: a different person must approve it."))
            if not may_work(actor, row.department, row.candidate_group, row.assignee, row.not_by):
                raise Forbidden(N_("This task belongs to another department, group or person."))
            definition = self.definitions.get(session, instance.definition_id)
            schema = forms.load_form(definition.files, row.form)
            if prepare is not None:
                data = prepare(row, schema, data)
            cleaned = forms.clean(schema, data)
            errors = forms.validate(schema, cleaned, locale)
            if errors:
                raise ValidationFailed(errors)
            with _step(instance, "complete", row.id, row.bpmn_id):
                workflow = self._workflow(session, instance)
                task = workflow.get_task_from_id(UUID(task_id))
                if task is None or task.state != TaskState.READY:
                    raise Conflict(N_("This task is no longer waiting to be done."))
                task.data.update(cleaned)
                author = spec_properties(task.task_spec).get("recordActorAs")
                if author:  # who wrote it, for a later four-eyes check (`fourEyesAgainst`)
                    task.data[author] = actor.username
                task.run()
                audit.append(session, actor.username, "task_completed", business_key=row.business_key,
                             instance_id=instance.id,
                             detail={"task": row.bpmn_id, "task_id": row.id, "name": row.name, "data": cleaned})
                self._run(uow, instance, workflow, completed_by=actor.username)
            opened = uow.opened.get(instance.id, [])
            if {row.id for row in opened} == {str(t.id) for t in _open_human_tasks(workflow)}:
                return opened  # every open task is one this completion opened: no need to read them
            return list(session.scalars(_OPEN_TASKS_OF_INSTANCE, {"the_id": instance.id}))

    # -- messages -----------------------------------------------------------------

    def correlate(self, business_key: str, message: str, payload: dict | None = None,
                  actor: Actor = SYSTEM) -> int:
        """Deliver a message to the instance of `business_key` waiting for it; returns the instance id."""
        _refuse_non_finite(payload or {})
        try:
            return self._correlate(business_key, message, payload, actor)
        except StepFailed as failed:
            self._record_failure(failed, actor)
            raise ProcessFailed(PROCESS_FAILED_AFTER_INPUT) from failed.cause

    def _correlate(self, business_key: str, message: str, payload: dict | None, actor: Actor) -> int:
        with self.unit_of_work(actor) as uow:
            session = uow.session
            candidates = session.scalars(_RUNNING_INSTANCES_OF, {"key": business_key}).all()
            for instance_id in candidates:
                instance = self._lock_instance(session, instance_id)
                if message not in (instance.awaiting or []):
                    continue
                with _step(instance, f"message {message}"):
                    workflow = self._workflow(session, instance)
                    event = BpmnEvent(MessageEventDefinition(message), payload or {})
                    workflow.send_event(event)
                    audit.append(session, actor.username, "message_received", business_key=business_key,
                                 instance_id=instance.id, detail={"message": message, "data": payload or {}})
                    self._run(uow, instance, workflow, completed_by=actor.username)
                return instance.id
            raise NotWaiting(N_("Complaint %(business_key)s is not waiting for %(message)s now."), business_key=business_key, message=repr(message))

    # -- timers -------------------------------------------------------------------

    def fire_due_timers(self, now: datetime | None = None, limit: int = 100, batch: int = TIMER_BATCH,
                        lead: float = 0.0) -> int:
        """Fire timers that are due, a batch of instances per transaction; returns how many fired.

        With `lead`, timers due within that many seconds are prepared ahead: the first batch
        claims them, locks their instances and loads their workflows now, then waits (holding
        them, at most `lead` seconds) until they are due and fires them at once, so what is
        left after the due instant is the engine's step and the writes. A timer whose run
        fails is put back with a growing delay (then parked as failed) and the others go on."""
        fired = 0
        due = self.next_timer_due()
        if due is None or due > (now or utcnow()) + timedelta(seconds=lead):
            return 0  # nothing due: no write transaction, no lock
        ready_at = due if lead and due > (now or utcnow()) else None
        taken = 0
        while taken < limit:
            result = self._fire_batch(now or utcnow(), min(batch, limit - taken), ready_at)
            if result is None:
                break
            taken += result[0]
            fired += result[1]
            ready_at = None  # the prepared batch is done: the others are due now
        return fired

    def _fire_batch(self, now: datetime, size: int, ready_at: datetime | None = None) -> tuple[int, int] | None:
        """(timers taken, timers fired) of one transaction, or None when nothing is due.

        Few round trips, as 200 timers due at one instant must all fire within a second: the
        due rows are claimed (SKIP LOCKED on PostgreSQL, so several workers never take the
        same), their instances locked and their task rows loaded with one statement each,
        and all run in one transaction. Should one instance fail, the batch is rolled back
        and run again with a savepoint per instance, so the failure undoes that one only.
        `ready_at`: claim the timers due by then, and run them once it has come."""
        try:
            return self._fire_batch_at_once(now, size, ready_at)
        except _RunCarefully:
            return self._fire_batch_carefully(max(now, utcnow()), size)

    def _claim_due(self, session: Session, now: datetime, size: int) -> list[Timer]:
        # Several workers may run on PostgreSQL: each takes timers nobody else holds.
        query = _DUE_TIMERS if self.db.is_sqlite else _DUE_TIMERS_NOBODY_HOLDS
        timers, seen = [], set()
        for timer in session.scalars(query, {"now": now, "size": size}).all():
            if timer.instance_id not in seen:  # that instance's run fires whatever of it was due
                seen.add(timer.instance_id)
                timers.append(timer)
        return timers

    def _fire_batch_at_once(self, now: datetime, size: int, ready_at: datetime | None = None) -> tuple[int, int] | None:
        with self.unit_of_work(SYSTEM) as uow:
            session = uow.session
            timers = self._claim_due(session, ready_at or now, size)
            if not timers:
                return None
            instances = self._lock_instances(session, [t.instance_id for t in timers])
            workflows = self._workflows_of(session, instances.values())
            if ready_at is not None:
                time.sleep(max(0.0, (ready_at - utcnow()).total_seconds()))
                now = max(now, utcnow())
            fired, uow.later, uow.claimed = 0, WriteLater(), {t.task_id for t in timers}
            # Read now: running an instance expires its timer rows, and reading one again is a query.
            claimed = [(t.id, t.instance_id, t.task_id, t.bpmn_id) for t in timers]
            for timer_id, instance_id, task_id, bpmn_id in claimed:
                instance, workflow = instances[instance_id], workflows[instance_id]
                try:
                    with _step(instance, f"timer {bpmn_id}", task_id, bpmn_id):
                        self._run(uow, instance, workflow, settle=True)
                except StepFailed as failed:
                    raise _RunCarefully from failed
                task = _find_task(workflow, UUID(task_id))
                if task is not None and task.state == TaskState.WAITING:
                    # The engine did not consider it due yet (clocks differ by a hair); look again shortly.
                    # (A repeating timer waits again with its next due time: left as the run set it.)
                    session.execute(_TIMER_AGAIN, {"the_id": timer_id, "now": now,
                                                   "at": now + timedelta(seconds=1)})
                else:
                    fired += 1
            later, uow.later, uow.claimed = uow.later, None, None
            try:
                complete = later.write(session)
            except DBAPIError:
                raise  # the database's: the transaction's failure, not an instance's
            except Exception as exc:  # a value a row cannot take: find whose, one by one
                raise _RunCarefully from exc
            if not complete:
                raise Conflict(N_("This complaint was changed by someone else meanwhile; reload and try again."))
            return len(timers), fired

    def _fire_batch_carefully(self, now: datetime, size: int) -> tuple[int, int] | None:
        with self.unit_of_work(SYSTEM) as uow:
            timers = self._claim_due(uow.session, now, size)
            if not timers:
                return None
            return len(timers), sum(self._fire_in(uow, timer, now) for timer in timers)

    def _lock_instances(self, session: Session, ids: list[int]) -> dict[int, ProcessInstance]:
        """Lock several instances with one statement (in id order, as every locker goes one by one)."""
        return {i.id: i for i in session.scalars(_LOCK_INSTANCES, {"ids": sorted(ids)})}

    def _workflows_of(self, session: Session, instances) -> dict[int, BpmnWorkflow]:
        """Their workflows: from the cache where it holds the current version, the rest loaded
        with one statement."""
        workflows, missing = {}, []
        with self._cache_lock:
            for instance in instances:
                cached = self._cache.pop(instance.id, None)
                if cached is not None and cached[0] == instance.version:
                    workflows[instance.id] = cached[1]
                else:
                    missing.append(instance)
        if missing:
            specs = {i.id: self.definitions.get(session, i.definition_id) for i in missing}
            workflows.update(self.store.load_many(
                session, missing, lambda i: (specs[i.id].spec, specs[i.id].subprocess_specs, self._script_engine())))
        return workflows

    def _fire_in(self, uow: UnitOfWork, timer: Timer, now: datetime) -> int:
        """Run the timer's instance in a savepoint of the batch: a failure undoes this instance only."""
        session = uow.session
        timer_id, marks = timer.id, (len(uow.checkins), len(uow.after_commit))
        savepoint = session.begin_nested()
        try:
            instance = self._lock_instance(session, timer.instance_id)
            with _step(instance, f"timer {timer.bpmn_id}", timer.task_id, timer.bpmn_id):
                workflow = self._workflow(session, instance)
                self._run(uow, instance, workflow, settle=True)
            savepoint.commit()
        except StepFailed as failed:
            savepoint.rollback()
            del uow.checkins[marks[0]:], uow.after_commit[marks[1]:]
            self._note_failure(uow.session, uow.actor, failed, timer_id=timer_id, now=now)
            return 0
        session.refresh(timer)
        if timer.status == "waiting":
            # The engine did not consider it due yet (clocks differ by a hair); look again shortly.
            timer.due_at = max(timer.due_at, now) + timedelta(seconds=1)
            return 0
        return 1

    def next_timer_due(self) -> datetime | None:
        with self.db.session() as session:
            return session.scalar(_NEXT_DUE_AT)

    # -- changing an instance from outside the engine ----------------------------

    def change_instance(self, instance_id: int, actor: Actor,
                        change: Callable[[Session, ProcessInstance, BpmnWorkflow], BpmnWorkflow | None],
                        action: str = "instance_changed", detail: dict | None = None, run: bool = True) -> None:
        """Apply `change` to an instance's workflow in one unit of work and persist it.

        `change` may mutate the workflow, or return a new one (a migration) and
        point `instance.definition_id` at its definition; it may raise to refuse."""
        with self.unit_of_work(actor) as uow:
            instance = self._lock_instance(uow.session, instance_id)
            with self._cache_lock:
                self._cache.pop(instance.id, None)
            # A change (a migration) judges the instance by its whole history, finished rounds included.
            workflow = self._load(uow.session, instance, history=True)
            replaced = change(uow.session, instance, workflow)
            if replaced is not None and replaced is not workflow:
                # A new task tree: rewrite every row rather than diffing two trees.
                self.store.forget(uow.session, instance)
                replaced.script_engine = workflow.script_engine
                workflow = replaced
            audit.append(uow.session, actor.username, action, business_key=instance.business_key,
                         instance_id=instance.id, detail=detail or {})
            if run:
                self._run(uow, instance, workflow)
            else:
                self._persist(uow, instance, workflow, None, changed_outside=True)

    def redecorate_open_tasks(self, actor: Actor = SYSTEM) -> int:
        """Compute the deadline and priority of every open human task again, one instance per
        transaction (after the SLA policy changed); returns how many rows were rewritten."""
        with self.db.session() as session:
            instance_ids = list(session.scalars(_INSTANCES_WITH_OPEN_TASKS))
        rewritten = 0
        for instance_id in instance_ids:
            with self.unit_of_work(actor) as uow:
                instance = self._lock_instance(uow.session, instance_id)
                workflow = self._workflow(uow.session, instance)
                rewritten += redecorate_open_tasks(uow.session, instance, _open_human_tasks(workflow), [], {},
                                                   self.task_decorators, every=True)
                uow.checkins.append((instance.id, instance.version, workflow))
        return rewritten

    # -- errors -------------------------------------------------------------------

    def retry(self, instance_id: int, actor: Actor = SYSTEM) -> str:
        """Run a failed step again; returns the instance's status afterwards ("error" when it
        failed again, recorded like the first failure)."""
        try:
            return self._retry(instance_id, actor)
        except StepFailed as failed:
            self._record_failure(failed, actor)
            return "error"

    def _retry(self, instance_id: int, actor: Actor) -> str:
        with self.unit_of_work(actor) as uow:
            instance = self._lock_instance(uow.session, instance_id)
            workflow = self._workflow(uow.session, instance)
            failed = _error_tasks(workflow)
            if not failed and instance.status == "error":
                # The failed step was rolled back (a completion, a message, a timer run): put
                # parked timers back and run on from where the instance stood.
                revived = uow.session.execute(_REVIVE_TIMERS, {"instance": instance.id, "now": utcnow()}).rowcount
                audit.append(uow.session, actor.username, "instance_retried", business_key=instance.business_key,
                             instance_id=instance.id, detail={"tasks": [], "timers": revived,
                                                              "error": instance.error})
                instance.status, instance.error, instance.error_task_id = "running", None, None
                with _step(instance, "retry"):
                    self._run(uow, instance, workflow)
                return instance.status
            if not failed:
                raise Conflict(N_("This instance has no failed step to retry."))
            for task in failed:
                task._set_state(TaskState.READY)
                if is_tracked(workflow):
                    task.workflow.tasks.arrive(task)  # a failed task is finished; this one runs again
            audit.append(uow.session, actor.username, "instance_retried", business_key=instance.business_key,
                         instance_id=instance.id, detail={"tasks": [t.task_spec.bpmn_id for t in failed]})
            with _step(instance, "retry"):
                self._run(uow, instance, workflow)
            return instance.status

    def skip(self, instance_id: int, actor: Actor, reason: str, step: str | None = None,
             requested_by: str | None = None, also: Callable[[Session], None] | None = None) -> str:
        """Mark the failed step done without running it and go on; returns the status afterwards.
        `step`: the BPMN id the operator saw (refused if the instance failed elsewhere meanwhile);
        `requested_by`: who asked, when `actor` confirms someone else's request (four eyes);
        `also`: more writes of the same unit of work (the request it settles)."""
        with self.unit_of_work(actor) as uow:
            instance = self._lock_instance(uow.session, instance_id)
            workflow = self._workflow(uow.session, instance)
            failed = _error_tasks(workflow)
            if not failed:
                raise Conflict(N_("This instance has no failed step to skip."))
            if step is not None and failed[0].task_spec.bpmn_id != step:
                raise Conflict(N_("The instance now stops at another step; look again."))
            for task in failed:
                task._set_state(TaskState.READY)
                if is_tracked(workflow):
                    task.workflow.tasks.arrive(task)
                task.complete()  # done, without running its handler
            if also is not None:
                also(uow.session)
            audit.append(uow.session, actor.username, "step_skipped", business_key=instance.business_key,
                         instance_id=instance.id, detail={"tasks": [t.task_spec.bpmn_id for t in failed],
                                                          "reason": reason, "error": instance.error,
                                                          "requested_by": requested_by or actor.username,
                                                          "confirmed_by": actor.username if requested_by else None})
            instance.status, instance.error, instance.error_task_id = "running", None, None
            with _step(instance, "skip"):
                self._run(uow, instance, workflow)
            return instance.status

    def cancel(self, instance_id: int, actor: Actor, reason: str) -> None:
        """End an instance for good: its open tasks and timers are cancelled, nothing runs any more."""
        with self.unit_of_work(actor) as uow:
            instance = self._lock_instance(uow.session, instance_id)
            if instance.status in ("completed", "cancelled"):
                raise Conflict(N_("This process has already ended."))
            workflow = self._workflow(uow.session, instance)
            workflow.cancel()
            audit.append(uow.session, actor.username, "instance_cancelled", business_key=instance.business_key,
                         instance_id=instance.id, detail={"reason": reason, "was": instance.status})
            instance.status, instance.error, instance.error_task_id = "cancelled", None, None
            instance.completed_at = utcnow()
            self._persist(uow, instance, workflow, None)

    def _record_failure(self, failed: StepFailed, actor: Actor, draft: tuple[str, dict] | None = None) -> None:
        """After the failed unit of work rolled back: mark the instance, audit, keep the input."""
        with self.unit_of_work(actor) as uow:
            self._note_failure(uow.session, actor, failed)
            if draft is not None:
                uow.session.execute(_KEEP_DRAFT, {"the_id": draft[0], "draft": draft[1]})

    def _note_failure(self, session: Session, actor: Actor, failed: StepFailed, timer_id: int | None = None,
                      now: datetime | None = None) -> None:
        log.error("instance %s (%s) failed at %s", failed.instance_id, failed.business_key, failed.text,
                  exc_info=failed.cause)
        detail: dict[str, Any] = {"error": failed.text, "task": failed.bpmn_id, "step": failed.step}
        if timer_id is not None:
            timer = session.get(Timer, timer_id, populate_existing=True)
            timer.attempts += 1
            timer.last_error = failed.text
            detail["attempts"] = timer.attempts
            if timer.attempts >= TIMER_ATTEMPTS:
                timer.status = "failed"  # parked: the worker stops trying until someone retries
                detail["parked"] = True
            else:
                timer.due_at = (now or utcnow()) + TIMER_BACKOFF * 2 ** (timer.attempts - 1)
        if failed.instance_id is None:
            return
        instance = self._lock_instance(session, failed.instance_id)
        instance.status, instance.error, instance.error_task_id = "error", failed.text, failed.task_id
        instance.updated_at = utcnow()
        audit.append(session, actor.username, "instance_error", business_key=instance.business_key,
                     instance_id=instance.id, detail=detail)
        _write_instance(session, instance)

    # -- reading ------------------------------------------------------------------

    def instance_for(self, business_key: str, process_key: str | None = None) -> ProcessInstance | None:
        with self.db.session() as session:
            query = select(ProcessInstance).where(ProcessInstance.business_key == business_key)
            if process_key:
                query = query.where(ProcessInstance.process_key == process_key)
            return session.scalars(query.order_by(ProcessInstance.id).limit(1)).first()

    def open_tasks(self, business_key: str) -> list[HumanTask]:
        with self.db.session() as session:
            return list(session.scalars(_OPEN_TASKS_OF_KEY, {"key": business_key}))


def _awaited_messages(workflow: BpmnWorkflow) -> list[str]:
    """Message names waited for now, including those behind an event-based gateway
    (whose pending event is a MultipleEventDefinition without a name of its own)."""
    names = set()
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        for each in getattr(definition, "event_definitions", None) or [definition]:
            if isinstance(each, MessageEventDefinition) or "Message" in type(each).__name__:
                names.add(each.name)
    return sorted(n for n in names if n)


def awaited_messages(workflow: BpmnWorkflow) -> list[str]:
    """Names of the messages the workflow waits for now (an event-based gateway waits for several)."""
    names = set()
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        for each in getattr(definition, "event_definitions", None) or [definition]:
            if isinstance(each, AnyMessageDefinition):
                names.add(each.name)
    return sorted(names)


_INSTANCE_COLUMNS = ("definition_id", "status", "state", "awaiting", "error", "error_task_id", "updated_at",
                     "completed_at")
# Built once: every unit of work runs these, and building one costs more than SQLite takes to run it.
_INSTANCES = ProcessInstance.__table__
_WRITE_INSTANCE = (
    update(_INSTANCES).where(_INSTANCES.c.id == bindparam("the_id"), _INSTANCES.c.version == bindparam("read_version"))
    .values(version=bindparam("new_version"), **{name: bindparam(f"new_{name}") for name in _INSTANCE_COLUMNS}))
_INSTANCES_WITH_OPEN_TASKS = select(HumanTask.instance_id).where(HumanTask.status == "open").distinct()
_LOCK_INSTANCES = (select(ProcessInstance).where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
                   .order_by(ProcessInstance.id).with_for_update().execution_options(populate_existing=True))
_TIMER_AGAIN = (update(Timer.__table__).where(Timer.__table__.c.id == bindparam("the_id"),
                                               Timer.__table__.c.status == "waiting",
                                               Timer.__table__.c.due_at <= bindparam("now"))
                .values(due_at=bindparam("at")))
_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("the_id")).with_for_update()
                  .execution_options(populate_existing=True))
_TASK_AND_DEFINITION = (select(HumanTask, ProcessInstance.definition_id)
                        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                        .where(HumanTask.id == bindparam("the_id")))
_LOCK_TASK_AND_INSTANCE = (select(HumanTask, ProcessInstance)
                           .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                           .where(HumanTask.id == bindparam("the_id")).with_for_update(of=ProcessInstance)
                           .execution_options(populate_existing=True))
_OPEN_TASKS_OF_INSTANCE = select(HumanTask).where(HumanTask.instance_id == bindparam("the_id"),
                                                  HumanTask.status == "open")
_OPEN_TASKS_OF_KEY = (select(HumanTask).where(HumanTask.business_key == bindparam("key"), HumanTask.status == "open")
                      .order_by(HumanTask.created_at))
_RUNNING_INSTANCES_OF = (select(ProcessInstance.id)
                         .where(ProcessInstance.business_key == bindparam("key"),
                                ProcessInstance.status.in_(("running", "error")))
                         .order_by(ProcessInstance.id))
_DUE_TIMERS = (select(Timer).where(Timer.status == "waiting", Timer.due_at <= bindparam("now"))
               .order_by(Timer.due_at).limit(bindparam("size")))
_DUE_TIMERS_NOBODY_HOLDS = _DUE_TIMERS.with_for_update(skip_locked=True)
_REVIVE_TIMERS = (update(Timer.__table__)
                  .where(Timer.__table__.c.instance_id == bindparam("instance"),
                         Timer.__table__.c.status.in_(("waiting", "failed")), Timer.__table__.c.attempts > 0)
                  .values(status="waiting", attempts=0, due_at=bindparam("now")))
_KEEP_DRAFT = (update(HumanTask.__table__).where(HumanTask.__table__.c.id == bindparam("the_id"),
                                                  HumanTask.__table__.c.status == "open")
               .values(draft=bindparam("draft")))
_NEXT_DUE_AT = select(Timer.due_at).where(Timer.status == "waiting").order_by(Timer.due_at).limit(1)


def _write_instance(session: Session, instance: ProcessInstance, later: WriteLater | None = None) -> None:
    """Write the instance row if it still has the version this unit of work read, else Conflict.

    One Core UPDATE instead of the ORM's flush (this runs on every unit of work); the
    object is then told its values are what the database holds. With `later`, the row
    joins the batch's writes (checked when they are written)."""
    values = {name: getattr(instance, name) for name in _INSTANCE_COLUMNS}
    version = instance.version
    row = {"the_id": instance.id, "read_version": version, "new_version": version + 1,
           **{f"new_{name}": value for name, value in values.items()}}
    if later is not None:
        later.add(_WRITE_INSTANCE, [row], each_one=True)
    elif session.connection().execute(_WRITE_INSTANCE, row).rowcount != 1:
        raise Conflict(N_("This complaint was changed by someone else meanwhile; reload and try again."))
    for name, value in (("version", version + 1), *values.items()):
        set_committed_value(instance, name, value)


def _refuse_non_finite(data: dict) -> None:
    """JSON, and so the stored process state, has no NaN or infinity; Python's parser accepts them."""
    errors = forms.non_finite_errors(data)
    if errors:
        raise ValidationFailed(errors)


def _open_human_tasks(workflow: BpmnWorkflow) -> list:
    if is_tracked(workflow):
        return [t for t in workflow.ready_tasks() if t.task_spec.manual]
    return list(workflow.get_tasks(state=TaskState.READY, manual=True))


def _has_engine_work(workflow: BpmnWorkflow) -> bool:
    if is_tracked(workflow):
        return workflow.has_engine_work()
    return workflow.get_next_task(state=TaskState.READY, manual=False) is not None


def _find_task(workflow: BpmnWorkflow, task_id: UUID):
    """The task with this id in the workflow or any subprocess, or None (SpiffWorkflow's own
    lookup raises on the first subprocess that lacks it)."""
    for each in (workflow, *workflow.subprocesses.values()):
        task = each.tasks.get(task_id)
        if task is not None:
            return task
    return None


def _error_tasks(workflow: BpmnWorkflow) -> list:
    # Not get_tasks(state=ERROR): asked for a finished state, SpiffWorkflow's iterator does not
    # descend below unfinished tasks, so a failed multi-instance child under its running parent
    # was never found (nothing to retry). Only error paths walk the whole tree.
    return [task for task in workflow.get_tasks() if task.state == TaskState.ERROR]


def _latest_facts(workflow: BpmnWorkflow, changed: list) -> dict[str, Any]:
    """The freshest process data: that of the most recently changed task."""
    candidates = [t for t in changed if t.state in (TaskState.COMPLETED, TaskState.READY, TaskState.WAITING)]
    if not candidates:
        return dict(workflow.data)
    newest = max(candidates, key=lambda t: (t.last_state_change or 0, t.state == TaskState.COMPLETED))
    facts = dict(newest.data)
    if workflow.completed:
        facts.update(workflow.data)
    return facts


def _is_lock_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig else str(exc).lower()
    return "database is locked" in text or "could not obtain lock" in text or "deadlock" in text

