"""Moving running instances of an older version to a newer one, and undoing it.

An instance may move when nothing it has already reached (ready, waiting,
running, completed or failed tasks) was changed or removed in the new version:
SpiffWorkflow's `diff_workflow` says which tasks are affected, `migrate_workflow`
re-points the task tree. We migrate a copy first, so the check is exactly the
migration that will happen. Each move is one unit of work through
`runtime.change_instance` (audited), and keeps the workflow as it was before so a
batch can be undone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Conflict, NotFound
from processes.engine.models import AuditEntry, HumanTask, ProcessDefinition, ProcessInstance, Timer, utcnow
from processes.governance.models import MigrationBatch, MigrationItem

REACHED = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.COMPLETED | TaskState.ERROR
log = logging.getLogger(__name__)
MIGRATORS = frozenset({"compliance_reviewer", "admin"})
CHECKERS = frozenset({"process_designer", "compliance_reviewer", "admin"})
# What the instance itself did; these after a migration mean a plain restore would lose work.
ACTIVITY = ("task_completed", "message_received", "timer_fired", "instance_completed", "instance_retried",
            "instance_error")


class NotMigratable(Conflict):
    """`explanations`: [{"zh-CN", "en"}], one sentence per blocking step; `reasons`: their English texts."""

    def __init__(self, explanations: list[dict[str, str]]):
        self.explanations = explanations
        self.reasons = [e["en"] for e in explanations]
        super().__init__("; ".join(self.reasons))


# Task states as a person reads them: (zh, en).
_STATES = {"READY": ("待处理", "waiting for someone"), "STARTED": ("进行中", "in progress"),
           "WAITING": ("等待中", "waiting for an event or a timer"), "COMPLETED": ("已完成", "done"),
           "ERROR": ("出错", "failed")}


def _blocked(task, what: str, where: str | None = None) -> dict[str, str]:
    """Why this reached step keeps the case on its version, and what would let it move."""
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    if not name and isinstance(getattr(spec, "task_spec", None), str):  # a loop: the step it repeats
        name = getattr(task.workflow.spec.task_specs.get(spec.task_spec), "bpmn_name", None)
    name = name or spec.bpmn_id or spec.name
    zh_state, en_state = _STATES.get(TaskState.get_name(task.state), (TaskState.get_name(task.state),) * 2)
    in_zh, in_en = (f"(子流程 {where})", f" (in subprocess {where})") if where else ("", "")
    verb_zh, verb_en = ("删除了", "removes") if what == "removed" else ("修改了", "changes")
    return {"zh-CN": f"案件已到达步骤“{name}”{in_zh}({zh_state}),而新版本{verb_zh}这一步。要让它迁移,请在新版本中保持这一步不变,"
                     "或等案件离开这一步后再迁移。",
            "en": f"The case has reached step {name!r}{in_en} ({en_state}) and the new version {verb_en} that step. "
                  "To move it, keep that step unchanged in the new version, or migrate once the case has left it."}


_UNCOMPARABLE = {"zh-CN": "无法把这个案件与新版本比较(流程引擎比较时出错);它留在原版本上照常运行。请把问题告诉管理员。",
                 "en": "This case could not be compared with the new version (the engine failed while comparing); "
                       "it stays on its version and carries on. Tell an administrator."}


@dataclass
class Assessment:
    instance_id: int
    business_key: str
    from_definition_id: int
    from_version: int
    reasons: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.reasons

    explanations: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"instance_id": self.instance_id, "business_key": self.business_key,
                "from_definition_id": self.from_definition_id, "from_version": self.from_version,
                "safe": self.safe, "reasons": self.reasons, "explanations": self.explanations}


# What a person reads but the engine never acts on: a step whose spec differs only in these still
# behaves exactly as before, so a case that has reached it may move.
LABELS = frozenset({"bpmn_name", "documentation"})
LABEL_PROPERTIES = frozenset({"name_en", "documentation_en"})


def _without_labels(serialized: dict) -> dict:
    plain = {key: value for key, value in serialized.items() if key not in LABELS}
    extensions = dict(plain.get("extensions") or {})
    if isinstance(extensions.get("properties"), dict):
        extensions["properties"] = {k: v for k, v in extensions["properties"].items() if k not in LABEL_PROPERTIES}
    plain["extensions"] = extensions
    return plain


def relabelled_only(registry, old_spec, new_spec) -> bool:
    """True when two aligned task specs differ in names and documentation only."""
    return _without_labels(registry.convert(old_spec)) == _without_labels(registry.convert(new_spec))


def _blocking(registry, diff) -> list:
    """(task, 'removed' | 'changed') for every reached task the new version really changes."""
    found = [(task, "removed") for task in diff.removed if task.state & REACHED]
    for task in diff.changed:
        if task.state & REACHED and task not in diff.removed \
                and not relabelled_only(registry, task.task_spec, diff.alignment[task]):
            found.append((task, "changed"))
    return found


def migrated_copy(runtime, workflow: BpmnWorkflow, spec, subprocess_specs) -> BpmnWorkflow:
    """A copy of `workflow` moved onto `spec`; raises NotMigratable with the reasons it cannot move."""
    registry = runtime.serializer.registry
    top_diff, sp_diffs = diff_workflow(registry, workflow, spec, subprocess_specs)
    reasons = [_blocked(task, what) for task, what in _blocking(registry, top_diff)]
    for sp_id, sp_diff in sp_diffs.items():
        sp = workflow.subprocesses[sp_id]
        if sp_diff is None:
            reasons.append({"zh-CN": f"案件正在运行的子流程 {sp.spec.name} 在新版本中已不存在;请在新版本中保留它,或等它结束后再迁移。",
                            "en": f"The case is inside subprocess {sp.spec.name}, which the new version no longer "
                                  "has; keep it in the new version, or migrate once it has finished."})
            continue
        reasons.extend(_blocked(task, what, sp.spec.name) for task, what in _blocking(registry, sp_diff))
    if reasons:
        raise NotMigratable(reasons)
    # Migrate a copy: the original stays untouched if anything below fails.
    copy = runtime.serializer.from_dict(runtime.serializer.to_dict(workflow))
    top_diff, sp_diffs = diff_workflow(registry, copy, spec, subprocess_specs)
    repoint(top_diff, copy, spec)
    copy.subprocess_specs = subprocess_specs
    for sp_id, sp_diff in sp_diffs.items():
        sp = copy.subprocesses[sp_id]
        repoint(sp_diff, sp, subprocess_specs[sp.spec.name])
    stranded = [t for _, wf in _all(copy) for t in wf.tasks.values()
                if t.task_spec is not wf.spec.task_specs.get(t.task_spec.name)]
    if stranded:
        raise NotMigratable([_blocked(t, "removed") for t in stranded[:5]])
    return copy


def repoint(diff, workflow, spec) -> None:
    """Put `workflow` on `spec` and predict again what follows each open task.

    SpiffWorkflow's `migrate_workflow` resets every ready and waiting task instead: that evaluates
    timers again (a waiting SLA timer either restarts its clock or fails on data its boundary split
    never had, "Error evaluating expression 'resolve_due'") and forgets what a waiting task already
    knows. Open tasks are unchanged here (a changed reached task blocks the move), so only the
    predicted steps after them can differ: those are dropped and predicted from the new spec.
    """
    workflow.spec = spec
    for task in workflow.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment[task]
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id in workflow.tasks:  # an earlier drop may have removed it
            task._drop_children(force=True)
            # The task's own state in the mask: _predict only rebuilds the children of masked tasks.
            task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)
    if workflow.last_task not in workflow.tasks:
        workflow.last_task = None


def _all(workflow: BpmnWorkflow):
    yield "", workflow
    yield from workflow.subprocesses.items()


def reconcile_rows(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Align the inbox and timer rows with a replaced task tree before it is persisted:
    rows of tasks that are gone are cancelled, rows of tasks that are back are reopened."""
    ready = {str(t.id): t for _, wf in _all(workflow) for t in wf.get_tasks(state=TaskState.READY)}
    waiting = {str(t.id) for _, wf in _all(workflow) for t in wf.get_tasks(state=TaskState.WAITING)}
    now = utcnow()
    for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)):
        if row.status == "open" and row.id not in ready:
            row.status, row.completed_at = "cancelled", now
        elif row.status == "cancelled" and row.id in ready:
            row.status, row.completed_at = "open", None
        if row.status == "open" and row.id in ready:  # a relabelled step shows its new name in the inbox
            spec = ready[row.id].task_spec
            row.name = spec.bpmn_name or spec.bpmn_id
    for timer in session.scalars(select(Timer).where(Timer.instance_id == instance.id)):
        if timer.status == "waiting" and timer.task_id not in waiting:
            timer.status = "cancelled"
        elif timer.status != "waiting" and timer.task_id in waiting:
            timer.status, timer.fired_at = "waiting", None
    session.flush()  # before the engine's sync expires these rows and would drop the changes


def specs_of(runtime, session: Session, definition_id: int) -> tuple:
    """(spec, subprocess_specs) of a deployed version, from the runtime's cache."""
    cache = getattr(runtime, "definitions", None)
    if cache is not None and hasattr(cache, "get"):
        loaded = cache.get(session, definition_id)
        return loaded.spec, loaded.subprocess_specs
    return runtime.specs.get(_target(session, definition_id))


def _target(session: Session, definition_id: int) -> ProcessDefinition:
    target = session.get(ProcessDefinition, definition_id)
    if target is None:
        raise NotFound(N_("Process version %(definition_id)s does not exist."), definition_id=definition_id)
    return target


def candidates(session: Session, target: ProcessDefinition, instance_ids: list[int] | None = None) -> list[ProcessInstance]:
    """Running instances of older versions of the target's process."""
    query = (select(ProcessInstance).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .where(ProcessInstance.process_key == target.process_key,
                    ProcessInstance.status.in_(("running", "error")),
                    ProcessDefinition.version < target.version)
             .order_by(ProcessInstance.id))
    if instance_ids:
        query = query.where(ProcessInstance.id.in_(instance_ids))
    return list(session.scalars(query))


def check(runtime, definition_id: int, instance_ids: list[int] | None = None) -> list[Assessment]:
    """Which running instances of older versions can move to `definition_id`, and why not."""
    with runtime.db.session() as session:
        target = _target(session, definition_id)
        spec, subprocess_specs = specs_of(runtime, session, target.id)
        rows = [(i.id, i.business_key, i.definition_id, session.get(ProcessDefinition, i.definition_id).version)
                for i in candidates(session, target, instance_ids)]
    result = []
    for instance_id, business_key, from_id, from_version in rows:
        assessment = Assessment(instance_id, business_key, from_id, from_version)
        try:
            migrated_copy(runtime, runtime.load_workflow(instance_id), spec, subprocess_specs)
        except NotMigratable as exc:
            assessment.reasons, assessment.explanations = exc.reasons, exc.explanations
        except Exception:  # an instance the engine cannot diff is reported and logged, not fatal
            log.exception("migration check of instance %s failed", instance_id)
            assessment.reasons, assessment.explanations = [_UNCOMPARABLE["en"]], [_UNCOMPARABLE]
        result.append(assessment)
    return result


def migrate(runtime, actor: Actor, definition_id: int, instance_ids: list[int] | None = None) -> MigrationBatch:
    """Move every safe instance (or the given ones) to `definition_id`; returns the batch and its report."""
    if actor.role not in MIGRATORS:
        from processes.engine.errors import Forbidden

        raise Forbidden(N_("Your role may not migrate running instances."))
    with runtime.db.write_session.begin() as session:
        target = _target(session, definition_id)
        spec_key, target_version = target.process_key, target.version
        batch = MigrationBatch(process_key=spec_key, to_definition_id=target.id, actor=actor.username,
                               report={"moved": [], "refused": []})
        session.add(batch)
        session.flush()
        batch_id = batch.id
        rows = [(i.id, i.business_key) for i in candidates(session, target, instance_ids)]
    with runtime.db.session() as session:
        spec, subprocess_specs = specs_of(runtime, session, definition_id)
    moved, refused = [], []
    for instance_id, business_key in rows:
        holder: dict = {}

        def change(session, instance, workflow, holder=holder):
            copy = migrated_copy(runtime, workflow, spec, subprocess_specs)
            holder["from"] = instance.definition_id
            session.add(MigrationItem(batch_id=batch_id, instance_id=instance.id,
                                      from_definition_id=instance.definition_id,
                                      snapshot=runtime.serializer.to_dict(workflow)))
            instance.definition_id = definition_id
            reconcile_rows(session, instance, copy)
            return copy

        try:
            runtime.change_instance(instance_id, actor, change, action="instance_migrated",
                                    detail={"batch_id": batch_id, "to_definition_id": definition_id,
                                            "to_version": target_version})
            moved.append({"instance_id": instance_id, "business_key": business_key,
                          "from_definition_id": holder.get("from")})
        except NotMigratable as exc:
            refused.append({"instance_id": instance_id, "business_key": business_key, "reasons": exc.reasons,
                            "explanations": exc.explanations})
        except Exception:  # one failed instance never stops the batch
            log.exception("migration of instance %s failed", instance_id)
            refused.append({"instance_id": instance_id, "business_key": business_key,
                            "reasons": [_UNCOMPARABLE["en"]], "explanations": [_UNCOMPARABLE]})
    with runtime.db.write_session.begin() as session:
        batch = session.get(MigrationBatch, batch_id)
        batch.report = {"moved": moved, "refused": refused}
        for item in session.scalars(select(MigrationItem).where(MigrationItem.batch_id == batch_id)):
            item.audit_id = session.scalar(select(func.max(AuditEntry.id))
                                           .where(AuditEntry.instance_id == item.instance_id))
        audit.append(session, actor.username, "instances_migrated", business_key=f"process:{spec_key}",
                     detail={"batch_id": batch_id, "to_definition_id": definition_id, "to_version": target_version,
                             "moved": [m["instance_id"] for m in moved],
                             "refused": [r["instance_id"] for r in refused]})
        session.flush()
        session.expunge(batch)
    return batch


def undo(runtime, actor: Actor, batch_id: int) -> dict:
    """Move a batch's instances back. An instance untouched since is restored exactly as it was;
    one that moved on goes back only if the old version still fits where it is now."""
    if actor.role not in MIGRATORS:
        from processes.engine.errors import Forbidden

        raise Forbidden(N_("Your role may not migrate running instances."))
    with runtime.db.session() as session:
        batch = session.get(MigrationBatch, batch_id)
        if batch is None:
            raise NotFound(N_("Migration batch %(batch_id)s does not exist."), batch_id=batch_id)
        if batch.undone_at is not None:
            raise Conflict(N_("Migration batch %(batch_id)s was already undone."), batch_id=batch_id)
        items = [(i.id, i.instance_id, i.from_definition_id, i.audit_id) for i in session.scalars(
            select(MigrationItem).where(MigrationItem.batch_id == batch_id).order_by(MigrationItem.id))]
        process_key = batch.process_key
    restored, refused = [], []
    for item_id, instance_id, from_id, audit_id in items:
        with runtime.db.session() as session:
            moved_on = session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.instance_id == instance_id, AuditEntry.id > (audit_id or 0),
                AuditEntry.action.in_(ACTIVITY)))
            old_spec = specs_of(runtime, session, from_id)

        def change(session, instance, workflow, item_id=item_id, moved_on=moved_on, old_spec=old_spec,
                   from_id=from_id):
            if moved_on:
                back = migrated_copy(runtime, workflow, *old_spec)
            else:
                back = runtime.serializer.from_dict(session.get(MigrationItem, item_id).snapshot)
            instance.definition_id = from_id
            reconcile_rows(session, instance, back)
            return back

        try:
            runtime.change_instance(instance_id, actor, change, action="instance_migration_undone",
                                    detail={"batch_id": batch_id, "to_definition_id": from_id,
                                            "exact": not moved_on})
            restored.append({"instance_id": instance_id, "exact": not moved_on})
        except NotMigratable as exc:
            refused.append({"instance_id": instance_id, "reasons": exc.reasons})
        except Exception as exc:  # noqa: BLE001
            refused.append({"instance_id": instance_id, "reasons": [str(exc)]})
    report = {"restored": restored, "refused": refused}
    with runtime.db.write_session.begin() as session:
        batch = session.get(MigrationBatch, batch_id)
        batch.undone_at, batch.undone_by, batch.undo_report = utcnow(), actor.username, report
        audit.append(session, actor.username, "migration_undone", business_key=f"process:{process_key}",
                     detail={"batch_id": batch_id, **report})
    return report
