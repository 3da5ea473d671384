"""What operations staff watch and repair: instances stuck in error and the worker's timers.

Administrators and supervisors only, checked here so the page, the API and any script share
the rule; a retry goes through `Runtime.retry`, which audits who did it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Conflict, Forbidden, ValidationFailed
from processes.engine.models import AuditEntry, OperationRequest, ProcessInstance, Timer, utcnow

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


# -- skip a failed step (four eyes) and cancel -----------------------------------------------

REASON_LIMIT = 2000


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise OperationRefused("reason", N_("Give the reason; it is kept in the audit log."))
    if len(reason) > REASON_LIMIT:
        raise OperationRefused("reason", N_("At most %(limit)s characters."), limit=REASON_LIMIT)
    return reason


class OperationRefused(ValidationFailed):
    """Bad input for an operation; `field` names the form field the message belongs next to."""

    def __init__(self, field: str, template: str, **params):
        super().__init__({field: template % params if params else template}, template, **params)
        self.field = field


def pending_skips(session: Session, actor: Actor) -> list[OperationRequest]:
    require_operator(actor)
    return list(session.scalars(select(OperationRequest).where(OperationRequest.status == "pending")
                                .order_by(OperationRequest.id)))


def request_skip(session: Session, actor: Actor, instance_id: int, reason: str) -> OperationRequest:
    """Ask a second operator to confirm skipping the instance's failed step."""
    require_operator(actor)
    reason = _reason(reason)
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.status != "error":
        raise Conflict(N_("This instance has no failed step to skip."))
    if session.scalar(select(OperationRequest.id).where(OperationRequest.instance_id == instance_id,
                                                        OperationRequest.status == "pending")):
        raise Conflict(N_("Skipping this step was already requested; a second person must confirm it."))
    step = failed_step(session, instance_id)
    request = OperationRequest(kind="skip", instance_id=instance_id, step=step, reason=reason,
                               requested_by=actor.username)
    session.add(request)
    session.flush()
    audit.append(session, actor.username, "skip_requested", business_key=instance.business_key,
                 instance_id=instance_id, detail={"request": request.id, "task": step, "reason": reason})
    return request


def failed_step(session: Session, instance_id: int) -> str | None:
    entry = session.scalar(select(AuditEntry).where(AuditEntry.instance_id == instance_id,
                                                    AuditEntry.action == "instance_error")
                           .order_by(AuditEntry.id.desc()).limit(1))
    return (entry.detail or {}).get("task") if entry else None


def _open_request(session: Session, request_id: int) -> OperationRequest:
    request = session.get(OperationRequest, request_id)
    if request is None or request.status != "pending":
        raise Conflict(N_("This request was already decided."))
    return request


def confirm_skip(runtime, actor: Actor, request_id: int) -> str:
    """A second operator (not the one who asked) confirms: the step is marked done and the process goes on."""
    require_operator(actor)
    with runtime.db.session() as s:
        request = _open_request(s, request_id)
        instance_id, step, reason, requester = request.instance_id, request.step, request.reason, request.requested_by
    if requester == actor.username:
        raise Forbidden(N_("Four eyes: someone other than the person who asked must confirm the skip."))

    def settle(session: Session) -> None:
        row = _open_request(session, request_id)
        row.status, row.decided_by, row.decided_at = "confirmed", actor.username, utcnow()

    return runtime.skip(instance_id, actor, reason, step=step, requested_by=requester, also=settle)


def refuse_skip(session: Session, actor: Actor, request_id: int) -> OperationRequest:
    require_operator(actor)
    request = _open_request(session, request_id)
    request.status, request.decided_by, request.decided_at = "refused", actor.username, utcnow()
    instance = session.get(ProcessInstance, request.instance_id)
    audit.append(session, actor.username, "skip_refused", business_key=instance.business_key,
                 instance_id=instance.id, detail={"request": request.id, "requested_by": request.requested_by})
    return request


def cancel(runtime, actor: Actor, instance_id: int, reason: str) -> None:
    """End a process (and so its complaint) for good, with a reason in the audit log."""
    require_operator(actor)
    runtime.cancel(instance_id, actor, _reason(reason))
