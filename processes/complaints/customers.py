"""One customer's complaints: the same phone number or e-mail address (both indexed).

Used by the customer's page (all their complaints, outcomes and satisfaction) and at registration,
where a repeat complainant is flagged so their complaint goes to a senior agent
(先处理情绪,后处理问题: first the feelings, then the problem).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from processes.complaints.case_summary import accepted_references
from processes.complaints.records import CompensationEntry, Complaint
from processes.engine.models import AuditEntry, utcnow

REPEAT_WINDOW_DAYS = 180  # default of the process setting "repeat_window_days"
PAGE_LIMIT = 200


def _same_customer(phone: str | None, email: str | None):
    conditions = []
    if phone:
        conditions.append(Complaint.customer_phone == phone)
    if email:
        conditions.append(Complaint.customer_email == email)
    return or_(*conditions) if conditions else None


def complaints_of(session: Session, complaint: Complaint, limit: int = PAGE_LIMIT) -> list[Complaint]:
    """Every complaint of the customer of `complaint` (itself included), newest first."""
    same = _same_customer(complaint.customer_phone, complaint.customer_email)
    if same is None:
        return [complaint]
    return list(session.scalars(select(Complaint).where(same).order_by(Complaint.received_at.desc()).limit(limit)))


def earlier_count(session: Session, phone: str | None, email: str | None, days: int = REPEAT_WINDOW_DAYS,
                  exclude: str | None = None) -> int:
    """How many complaints the customer made in the last `days` days (besides `exclude`)."""
    same = _same_customer(phone, email)
    if same is None:
        return 0
    query = select(func.count()).select_from(Complaint).where(same, Complaint.received_at >= utcnow() - timedelta(days=days))
    if exclude:
        query = query.where(Complaint.reference != exclude)
    return session.scalar(query) or 0


@dataclass
class Outcome:
    satisfaction: int | None = None
    resolved: bool | None = None
    paid: Decimal = Decimal(0)  # booked, and the customer accepted (or is deemed to accept) the answer
    offered: Decimal = Decimal(0)  # booked, but the customer has not accepted the answer carrying it


def outcomes(session: Session, references: list[str]) -> dict[str, Outcome]:
    """Satisfaction (the survey, on the portal or by the agent's call) and compensation, per complaint:
    paid once the customer accepted the answer that carried it (as the case summary counts it), else
    only offered."""
    result = {r: Outcome() for r in references}
    if not references:
        return result
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.business_key.in_(references),
            AuditEntry.action.in_(("message_received", "task_completed"))).order_by(AuditEntry.id)):
        detail = entry.detail or {}
        survey = (entry.action == "message_received" and detail.get("message") == "survey_answer") or (
            entry.action == "task_completed" and detail.get("task") == "Task_Survey_Call")
        data = detail.get("data") or {}
        if survey and data.get("satisfaction_score") is not None:
            result[entry.business_key].satisfaction = data.get("satisfaction_score")
            result[entry.business_key].resolved = data.get("resolved")
    accepted = accepted_references(session, references)
    for reference, total in session.execute(
            select(CompensationEntry.business_key, func.sum(CompensationEntry.amount))
            .where(CompensationEntry.business_key.in_(references)).group_by(CompensationEntry.business_key)):
        amount = Decimal(str(total or 0))
        if reference in accepted:
            result[reference].paid = amount
        else:
            result[reference].offered = amount
    return result
