"""What operations staff watch and repair: instances stuck in error and the worker's timers.

Administrators and supervisors only, checked here so the page, the API and any script share
the rule; a retry goes through `Runtime.retry`, which audits who did it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden
from processes.engine.models import AuditEntry, ProcessInstance, Timer, utcnow

OPERATORS = ("admin", "supervisor")
# A due timer not fired after this long means the worker is not keeping up (or not running).
LATE_AFTER = timedelta(minutes=5)


def require_operator(actor: Actor) -> None:
    if actor.role not in OPERATORS:
        raise Forbidden(N_("Only administrators and supervisors may use the operations page."))


@dataclass(frozen=True)
class FailedInstance:
    id: int
    business_key: str
    process_key: str
    step: str | None  # the BPMN id of the failing task
    error: str
    failed_at: datetime


def failed_instances(session: Session, actor: Actor, limit: int = 200) -> list[FailedInstance]:
    """Instances in error, most recent first, with the failing step from their last error entry."""
    require_operator(actor)
    instances = list(session.scalars(select(ProcessInstance).where(ProcessInstance.status == "error")
                                     .order_by(ProcessInstance.updated_at.desc()).limit(limit)))
    if not instances:
        return []
    last = (select(AuditEntry.instance_id, func.max(AuditEntry.id).label("id"))
            .where(AuditEntry.action == "instance_error",
                   AuditEntry.instance_id.in_([i.id for i in instances]))
            .group_by(AuditEntry.instance_id).subquery())
    entries = {e.instance_id: e for e in session.scalars(select(AuditEntry).join(last, and_(
        AuditEntry.id == last.c.id)))}
    result = []
    for instance in instances:
        entry = entries.get(instance.id)
        result.append(FailedInstance(instance.id, instance.business_key, instance.process_key,
                                     (entry.detail or {}).get("task") if entry else None,
                                     instance.error or "", entry.at if entry else instance.updated_at))
    return result


@dataclass(frozen=True)
class WorkerHealth:
    last_fired_at: datetime | None
    waiting: int
    due: int
    late: int
    oldest_due_at: datetime | None

    @property
    def healthy(self) -> bool:
        return self.late == 0


def worker_health(session: Session, actor: Actor, now: datetime | None = None) -> WorkerHealth:
    require_operator(actor)
    now = now or utcnow()
    waiting = Timer.status == "waiting"
    count_waiting, count_due, count_late, oldest = session.execute(select(
        func.count(),
        func.count().filter(Timer.due_at <= now),
        func.count().filter(Timer.due_at <= now - LATE_AFTER),
        func.min(Timer.due_at).filter(Timer.due_at <= now),
    ).where(waiting)).one()
    last = session.scalar(select(func.max(Timer.fired_at)).where(Timer.status == "fired"))
    return WorkerHealth(last, count_waiting, count_due, count_late, oldest)


def retry(runtime, actor: Actor, instance_id: int) -> str:
    """Run the failed step again as this operator; the instance's status afterwards."""
    require_operator(actor)
    return runtime.retry(instance_id, actor)
