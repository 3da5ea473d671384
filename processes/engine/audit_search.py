"""Reading the audit log for compliance: filter by complaint, person, action and period.

Compliance reviewers and administrators only (the log names customers and staff); checked here
so the page, the export and any script share the rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden
from processes.engine.models import AuditEntry

READERS = ("compliance_reviewer", "admin")


@dataclass(frozen=True)
class AuditFilter:
    business_key: str = ""
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive


def require_reader(actor: Actor) -> None:
    if actor.role not in READERS:
        raise Forbidden(N_("Only compliance reviewers and administrators may read the audit log."))


def search(session: Session, actor: Actor, where: AuditFilter, limit: int = 500) -> list[AuditEntry]:
    """Matching entries, newest first (business_key, actor and action match exactly)."""
    require_reader(actor)
    query = select(AuditEntry)
    if where.business_key:
        query = query.where(AuditEntry.business_key == where.business_key)
    if where.actor:
        query = query.where(AuditEntry.actor == where.actor)
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.since:
        query = query.where(AuditEntry.at >= where.since)
    if where.until:
        query = query.where(AuditEntry.at < where.until)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
