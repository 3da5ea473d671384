"""Saving and loading workflows one task row at a time.

A workflow is stored as a small header on the instance row plus one row per
engine task; task data is content-addressed, so identical data is kept once.
Saving writes only the tasks whose state, links or data changed since the
workflow was loaded, so its cost does not grow with the instance's history.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from processes.engine import compaction, jsoncodec
from processes.engine.db import upsert_statement
from processes.engine.models import HumanTask, InstanceTask, ProcessInstance, TaskData
from processes.engine.tracking import TrackedSubWorkflow, TrackedWorkflow, is_tracked, reindex

FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR
# Predicted tasks get their data only when they become ready, which is a state change.
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE
TOP = ""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class WriteLater:
    """Rows to write at the end of a batch, one executemany per statement in the order each
    statement was first added (data before the task rows that refer to it). Used where the
    batch holds the locks of every row it writes, so nobody can change them meanwhile."""

    def __init__(self):
        self._rows: dict[Any, list[dict]] = {}
        self._each_one: set = set()

    def add(self, statement, rows: list[dict], each_one: bool = False) -> None:
        """`each_one`: every row must match exactly one row (a versioned update)."""
        if rows:
            self._rows.setdefault(statement, []).extend(rows)
            if each_one:
                self._each_one.add(statement)

    def write(self, session: Session) -> bool:
        """Write them all; False when a versioned update missed its row (someone else wrote it)."""
        connection, complete = session.connection(), True
        for statement, rows in self._rows.items():
            written = connection.execute(statement, rows)
            if statement in self._each_one and written.rowcount not in (-1, len(rows)):
                complete = False
        self._rows.clear()
        return complete


class WorkflowStore:
    """Knows how a workflow maps to rows. Stateless apart from the serializer."""

    def __init__(self, serializer):
        self.serializer = serializer
        self.registry = serializer.registry

    # -- saving -----------------------------------------------------------------

    def save(self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow,
             later: WriteLater | None = None) -> tuple[list, list]:
        """Write the tasks that changed; returns (changed engine tasks, removed engine tasks).

        With `later`, the task and data rows join the batch's writes instead (one statement
        for the whole batch; see `WriteLater`)."""
        saved: dict = getattr(workflow, "_redress_saved", None) or {}
        candidates, removed = self._candidates(workflow)
        if is_tracked(workflow) and not getattr(workflow, "_redress_whole", False):
            gone, relinked = compaction.compact(list(self._workflows(workflow)), workflow)
        else:
            gone, relinked = {}, {}
        current: dict = {}
        changed_rows: list[dict] = []
        changed_tasks = []
        data_rows: dict[str, str] = {}

        def write(workflow_id: str, task, data_json=None, internal=None) -> None:
            body, data_json = self._task_body(task, data_json, internal)
            spliced = gone.get(task.id)
            if spliced is not None:
                body.update(spliced[2])  # its links as they were, and none of the live ones
            data_sha = hashlib.sha256(data_json.encode()).hexdigest()
            data_rows[data_sha] = data_json
            changed_rows.append(
                {"instance_id": instance.id, "task_id": str(task.id), "workflow_id": workflow_id,
                 "body": body, "data_sha256": data_sha, "compacted": spliced is not None}
            )

        written = set()
        for workflow_id, task in candidates:
            signature, data_json, internal = self._signature(task)
            current[task.id] = signature
            if saved.get(task.id) == signature and task.id not in gone and task.id not in relinked:
                continue
            write(workflow_id, task, data_json, internal)
            written.add(task.id)
            changed_tasks.append(task)
        # Rows whose only change is a splice: nothing else happened to their tasks.
        for workflow_id, task in [*((w, t) for w, t, _ in gone.values()), *relinked.values()]:
            if task.id not in written:
                signature, data_json, internal = self._signature(task)
                current[task.id] = signature
                write(workflow_id, task, data_json, internal)
                written.add(task.id)

        if later is not None:
            later.add(upsert_statement(session, "task_data", _insert_new_data),
                      [{"sha256": sha, "body": body} for sha, body in data_rows.items()])
        else:
            self._store_data(session, data_rows)
        if removed:
            for chunk in _chunks([str(task.id) for task in removed], 500):
                session.connection().execute(_DELETE_TASKS, {"instance": instance.id, "task_ids": chunk})
        if changed_rows and later is not None:
            later.add(upsert_statement(session, "instance_task", _upsert_task), changed_rows)
        elif changed_rows:
            session.connection().execute(upsert_statement(session, "instance_task", _upsert_task), changed_rows)

        instance.state = self._header(workflow)
        workflow._redress_whole = False
        workflow._redress_spliced = gone
        if is_tracked(workflow):
            # Only unfinished tasks are looked at next time; a finished one never changes again.
            workflow._redress_saved = {tid: sig for tid, sig in current.items() if not sig[0] & FINISHED}
            for _, wf in self._workflows(workflow):
                wf.tasks.saved()
        else:
            workflow._redress_saved = current
        return changed_tasks, removed

    def _candidates(self, workflow: BpmnWorkflow) -> tuple[list[tuple[str, Any]], list]:
        """(workflow id, task) of every task that may differ from its row, and the removed tasks.

        A tracked workflow knows them: its unfinished tasks, those that finished or arrived
        since the last save, and parents whose children changed. Any other workflow (a
        migrated copy) is written whole."""
        if not is_tracked(workflow) or getattr(workflow, "_redress_whole", False):
            return [(wid, task) for wid, wf in self._workflows(workflow) for task in wf.tasks.values()], []
        candidates, removed = [], {}
        for workflow_id, wf in self._workflows(workflow):
            table = wf.tasks
            removed.update(table.removed)
            touched = dict(table.touched)
            for task_id in table.created:
                task = table.get(task_id)
                parent = table.get(task._parent) if task is not None else None
                if parent is not None:
                    touched.setdefault(parent.id, parent)
            candidates.extend((workflow_id, task) for task in touched.values())
        return candidates, list(removed.values())

    def settle(self, workflow: BpmnWorkflow) -> None:
        """The unit of work is done with the tasks the last save spliced out: drop them."""
        compaction.drop(getattr(workflow, "_redress_spliced", None) or {})
        workflow._redress_spliced = None

    def forget(self, session: Session, instance: ProcessInstance) -> None:
        """Drop an instance's task rows, so the next save writes its workflow afresh."""
        session.execute(delete(InstanceTask).where(InstanceTask.instance_id == instance.id))

    def _workflows(self, workflow: BpmnWorkflow):
        yield TOP, workflow
        for sp_id, sp in workflow.subprocesses.items():
            yield str(sp_id), sp

    def _to_json(self, value: Any) -> str:
        """JSON of task data. Process data is nearly always plain JSON already, so encode it
        directly; only values such as datetimes take SpiffWorkflow's slower converter."""
        try:
            return jsoncodec.plain_dumps(value)
        except TypeError:
            return _json(self.registry.convert(self.registry.clean(value)))

    def _signature(self, task) -> tuple[tuple, str | None, Any]:
        """What must differ for a task to need writing again, with the JSON of its data and
        its internal data as stored, where working those out was part of the check.

        A finished or merely predicted task only changes by changing state (or gaining
        children), so its signature is cheap; a ready, waiting or started one may have its
        internal or process data changed in place (a timer's evaluation, a loop's progress,
        a message's payload), so those are part of its check. Children are only ever
        appended or removed, so their number and the last one stand for the list."""
        last_child = task._children[-1] if task._children else None
        base = (task.state, task.last_state_change, task.triggered, len(task._children), last_child)
        if task.state & (FINISHED | PREDICTED):
            return base, None, None
        internal, internal_json = self._plain_internal(compaction.stored_internal(task, task.internal_data))
        data_json = self._to_json(task.data)
        return base + (hash(internal_json), hash(data_json)), data_json, internal

    def _plain_internal(self, internal_data: dict) -> tuple[Any, str]:
        """Internal data as stored, and its JSON. Usually plain JSON already (a loop's list
        of merged children grows with every round), so SpiffWorkflow's converter is the exception."""
        if not internal_data:
            return {}, ""
        try:
            return internal_data, jsoncodec.plain_dumps(internal_data)
        except TypeError:
            converted = self.registry.convert(internal_data)
            return converted, _json(converted)

    def _task_body(self, task, data_json: str | None = None, internal: Any = None) -> tuple[dict, str]:
        body = {
            "typename": "Task",
            "id": str(task.id),
            **compaction.links(task),
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": internal if internal is not None else self._plain_internal(
                compaction.stored_internal(task, task.internal_data))[0],
        }
        return body, data_json if data_json is not None else self._to_json(task.data)

    def _store_data(self, session: Session, data_rows: dict[str, str]) -> None:
        if data_rows:
            rows = [{"sha256": sha, "body": body} for sha, body in data_rows.items()]
            session.connection().execute(upsert_statement(session, "task_data", _insert_new_data), rows)

    def _header(self, workflow: BpmnWorkflow) -> dict:
        header = self._workflow_header(workflow)
        header["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        header["waiting_order"] = [str(task_id) for task_id in workflow.event_manager.tasks]
        header["subprocesses"] = {
            str(sp_id): dict(self._workflow_header(sp), parent_task_id=str(sp.parent_task_id), spec=sp.spec.name)
            for sp_id, sp in workflow.subprocesses.items()
        }
        return header

    def _workflow_header(self, wf) -> dict:
        # A completed subprocess keeps its header, unless a reset revives it (a new generation)
        # or a cancellation marks it unsuccessful.
        key = (getattr(wf.top_workflow, "generation", 0), wf.success, wf.last_task)
        cached = getattr(wf, "_redress_header", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        header = {
            "data": self._stored(wf.data),
            "correlations": wf.correlations,
            "last_task": str(wf.last_task.id) if wf.last_task is not None else None,
            "success": wf.success,
            "completed": wf.completed,
            "root": str(wf.task_tree.id),
        }
        if wf.completed and wf.top_workflow is not wf:
            wf._redress_header = (key, header)
        return header

    def _stored(self, value: Any) -> Any:
        """A value as it goes into a JSON column: as it is when plain JSON, else SpiffWorkflow's form."""
        try:
            jsoncodec.plain_dumps(value, sort_keys=False)
            return value
        except TypeError:
            return self.registry.convert(self.registry.clean(value))

    # -- loading ----------------------------------------------------------------

    def load(self, session: Session, instance: ProcessInstance, spec, subprocess_specs, script_engine,
             history: bool = False) -> BpmnWorkflow:
        """The instance's workflow from its rows: the live tree a step works on, or with
        `history` the whole tree, finished rounds included (for views, the audit, a migration)."""
        return self.load_many(session, [instance], lambda _: (spec, subprocess_specs, script_engine),
                              history=history)[instance.id]

    def load_many(self, session: Session, instances: list[ProcessInstance], specs,
                  history: bool = False) -> dict[int, BpmnWorkflow]:
        """Several instances' workflows (their live trees, or with `history` the whole ones) from
        one statement; `specs(instance)` gives (spec, subprocess specs, script engine)."""
        rows = session.execute(_ALL_TASKS if history else _LIVE_TASKS, {"ids": [i.id for i in instances]}).all()
        by_instance: dict[int, dict[str, dict[str, dict]]] = {i.id: {} for i in instances}
        spliced: dict[int, dict[str, dict[str, tuple]]] = {i.id: {} for i in instances}
        for instance_id, workflow_id, body, data_json in rows:
            if history:
                dct = compaction.original_body(body)
            else:
                dct, links = compaction.live_links(body)
                if links is not None:
                    spliced[instance_id].setdefault(workflow_id, {})[dct["id"]] = links
            dct["data"] = json.loads(data_json)
            dct["delta"] = {}
            by_instance[instance_id].setdefault(workflow_id, {})[dct["id"]] = dct
        if history:
            for by_workflow in by_instance.values():
                for task_dicts in by_workflow.values():
                    compaction.restore_iterations(task_dicts)
        return {i.id: self._build(i, by_instance[i.id], spliced[i.id], history, *specs(i)) for i in instances}

    def _build(self, instance: ProcessInstance, by_workflow: dict, spliced: dict, history: bool, spec,
               subprocess_specs, script_engine) -> BpmnWorkflow:
        header = instance.state
        workflow = TrackedWorkflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
        self._restore_tasks(workflow, by_workflow.get(TOP, {}), header)
        workflow.bpmn_events = self.registry.restore(header.get("bpmn_events", []))

        pending = dict(header.get("subprocesses", {}))
        self._restore_subprocesses(workflow, workflow, pending, by_workflow)
        _keep_order(workflow, header)
        if history:
            workflow._redress_whole = True  # saved, it is written whole (see Runtime.change_instance)
        else:
            for workflow_id, wf in self._workflows(workflow):
                compaction.restore_links(wf.tasks, spliced.get(workflow_id, {}))
        reindex(workflow)
        workflow._redress_saved = {
            task.id: self._signature(task)[0] for _, wf in self._workflows(workflow) for task in wf.tasks.live.values()
        }
        return workflow

    def human_task_data(self, session: Session, human_task_id: str) -> dict | None:
        """The data of a human task's engine task as last saved, found from the human task in one
        statement; None when there is no such human task."""
        found = session.execute(_HUMAN_TASK_DATA, {"the_id": human_task_id}).first()
        if found is None:
            return None
        return self.registry.restore(json.loads(found.body)) if found.body is not None else {}

    def _restore_tasks(self, wf, task_dicts: dict[str, dict], header: dict) -> None:
        wf.tasks = {UUID(tid): self.registry.restore(dct, workflow=wf) for tid, dct in task_dicts.items()}
        wf.task_tree = wf.tasks.get(UUID(header["root"]))
        wf.success = header["success"]
        wf.completed = header.get("completed", False)
        wf.correlations = header.get("correlations", {})
        last_task = header.get("last_task")
        wf.last_task = wf.tasks.get(UUID(last_task)) if last_task else None
        wf.data = self.registry.restore(header.get("data", {}))

    def _restore_subprocesses(self, top, wf, pending: dict, by_workflow: dict) -> None:
        # Parents before children: a subprocess hangs off a task of its parent workflow.
        for task in list(wf.tasks.values()):
            sp_key = str(task.id)
            if isinstance(task.task_spec, SubWorkflowTask) and sp_key in pending:
                header = pending.pop(sp_key)
                sp_spec = top.subprocess_specs.get(task.task_spec.spec)
                sp = TrackedSubWorkflow(sp_spec, task.id, top, deserializing=True)
                self._restore_tasks(sp, by_workflow.get(sp_key, {}), header)
                top.subprocesses[task.id] = sp
                sp.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
                self._restore_subprocesses(top, sp, pending, by_workflow)


def _keep_order(workflow: BpmnWorkflow, header: dict) -> None:
    """Put the subprocesses and the tasks waiting for events back in the order they had.

    Rows come back in no particular order, but SpiffWorkflow runs subprocesses of the same
    depth in the order they were created and offers an event to waiting tasks in the order
    they started waiting; two of them reacting to one signal may depend on it."""
    subprocess_order = [UUID(key) for key in header.get("subprocesses", {})]
    workflow.subprocesses = {key: workflow.subprocesses[key] for key in subprocess_order
                             if key in workflow.subprocesses} | workflow.subprocesses
    waiting = workflow.event_manager.tasks
    known = [UUID(key) for key in header.get("waiting_order", []) if UUID(key) in waiting]
    workflow.event_manager.tasks = {key: waiting[key] for key in known} | waiting


_TASKS = InstanceTask.__table__
_DELETE_TASKS = delete(_TASKS).where(_TASKS.c.instance_id == bindparam("instance"),
                                     _TASKS.c.task_id.in_(bindparam("task_ids", expanding=True)))
_ALL_TASKS = (select(InstanceTask.instance_id, InstanceTask.workflow_id, InstanceTask.body, TaskData.body)
              .join(TaskData, TaskData.sha256 == InstanceTask.data_sha256)
              .where(InstanceTask.instance_id.in_(bindparam("ids", expanding=True))))
_LIVE_TASKS = _ALL_TASKS.where(InstanceTask.compacted.is_(False))  # what a step needs
# From the human task: its row always, its engine task's data when that row is there.
_HUMAN_TASK_DATA = (select(HumanTask.id, TaskData.body).select_from(HumanTask)
                    .outerjoin(InstanceTask, (InstanceTask.instance_id == HumanTask.instance_id)
                               & (InstanceTask.task_id == HumanTask.id))
                    .outerjoin(TaskData, TaskData.sha256 == InstanceTask.data_sha256)
                    .where(HumanTask.id == bindparam("the_id")))


def _insert_new_data(insert):
    return insert(TaskData.__table__).on_conflict_do_nothing()  # content-addressed: same sha, same body


def _upsert_task(insert):
    upsert = insert(InstanceTask.__table__)
    return upsert.on_conflict_do_update(
        index_elements=["instance_id", "task_id"],
        set_={"workflow_id": upsert.excluded.workflow_id, "body": upsert.excluded.body,
              "data_sha256": upsert.excluded.data_sha256, "compacted": upsert.excluded.compacted})


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
