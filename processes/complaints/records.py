"""The complaint record, and the records the complaint process writes besides it.

Service-task handlers (handlers/complaint.py) write these rows inside the
runtime's transaction: notifications, escalation steps, the compensation ledger
and the departments' monthly budgets, the immutable archive file written at
closing, and improvement actions started from defects.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from processes.engine.db import Base
from processes.engine.models import TZDateTime, utcnow


class Complaint(Base):
    """The complaint record: what the customer told us and where it stands."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str | None] = mapped_column(String(40), index=True)
    # Indexed: the customer's page finds their complaints by phone or e-mail.
    customer_email: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_address: Mapped[str | None] = mapped_column(String(500))
    customer_tier: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    remedy_sought: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(200))
    order_number: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    occurred_where: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(20))
    safety_issue: Mapped[bool] = mapped_column(Boolean, default=False)
    department: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str | None] = mapped_column(String(30))
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(30), default="registered")
    # Suspected by the duplicate check, or confirmed (by the review task or a supervisor by hand).
    duplicate_of: Mapped[str | None] = mapped_column(String(40), index=True)
    duplicate_confirmed_by: Mapped[str | None] = mapped_column(String(80))
    duplicate_confirmed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    created_by: Mapped[str | None] = mapped_column(String(80))


def complaint_by_reference(session: Session, reference: str | None) -> Complaint | None:
    """The complaint with this reference, read once per transaction of `session`.

    A unit of work asks for its complaint several times (a handler, the record's observer, the
    mailer). A second query would hand back the very object the session already holds, without
    refreshing it (SQLAlchemy's identity map), so the repeats are pure round trips. The session
    only keeps weak references, so the transaction's copy is held here; an expired copy (after
    a savepoint's rollback) reloads itself when read, as a query would."""
    if not reference:
        return None
    transaction = session.get_transaction()
    held = session.info.get(_HELD_COMPLAINTS)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_HELD_COMPLAINTS] = held
    complaint = held[1].get(reference)
    if complaint is not None and complaint in session and complaint not in session.deleted:
        return complaint
    complaint = session.scalar(_COMPLAINT_BY_REFERENCE, {"reference": reference})
    if complaint is not None and transaction is not None:
        held[1][reference] = complaint
    return complaint


_HELD_COMPLAINTS = "redress.complaints_read"


class CaseNote(Base):
    """An internal note on a complaint file: for colleagues, never shown to the customer."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_reference", "reference", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    # usernames @mentioned (each was notified)
    mentions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


RECIPIENT_TYPES = ("department", "user", "role", "customer")


class Notification(Base):
    """A message for a department inbox, a user, a role, or the customer (outbound channel)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notification_recipient", "recipient_type", "recipient", "read_at"),
        Index("ix_notification_business_key", "business_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # department, user, role or customer
    recipient_type: Mapped[str] = mapped_column(String(20))
    # department id, username, role name, or the customer's phone/email
    recipient: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100))
    # acknowledgement, critical_complaint, sla_breach, escalation, response, survey, ...
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class EscalationRecord(Base):
    """One step of a complaint's escalation: ladder levels, SLA breaches, critical alerts."""

    __tablename__ = "escalation_records"
    __table_args__ = (Index("ix_escalation_business_key", "business_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # the escalation level after this step (1-4)
    level: Mapped[int] = mapped_column(Integer)
    # rejected, survey_dissatisfied, sla_breach, critical
    reason: Mapped[str] = mapped_column(String(40))
    task: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")


class DepartmentBudget(Base):
    """A department's compensation budget for one calendar month ("2025-03")."""

    __tablename__ = "department_budgets"
    __table_args__ = (UniqueConstraint("department", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")


class BudgetChange(Base):
    """One change of a department's monthly budget: who set it, from what to what, and why."""

    __tablename__ = "budget_changes"
    __table_args__ = (Index("ix_budget_change_department_month", "department", "month", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))
    # None: the month had no budget of its own before (the default applied).
    old_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    new_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    changed_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ConfigVersion(Base):
    """An approved, numbered version of a reviewed configuration: the process settings
    (kind "settings"), the company calendar ("calendar") or the e-mail templates ("mail_templates").

    Insert-only; the highest version of a kind is the one in force."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class CompensationEntry(Base):
    """The compensation ledger: one row per compensation granted, charged to a department's month."""

    __tablename__ = "compensation_ledger"
    __table_args__ = (
        Index("ix_ledger_department_month", "department", "month"),
        Index("ix_ledger_business_key", "business_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))
    # points, coupon, refund, cash
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    approved_by_management: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ArchiveRecord(Base):
    """The immutable file of a closed complaint: its variables and whole handling history.

    Rows are insert-only: the ORM refuses updates and deletes (see the listeners below)."""

    __tablename__ = "complaint_archive"
    __table_args__ = (Index("ix_archive_business_key", "business_key", "archived_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(100))
    archived_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # closed, closed_incomplete, closed_duplicate
    outcome: Mapped[str] = mapped_column(String(30))
    snapshot: Mapped[dict] = mapped_column(JSON)
    # sha256 of the canonical JSON of `snapshot`, so a later review can verify it
    sha256: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class ImprovementAction(Base):
    """A corrective action (整改) started from a defect found while handling a complaint."""

    __tablename__ = "improvement_actions"
    __table_args__ = (
        Index("ix_improvement_open", "status", "department", "due_date"),
        Index("ix_improvement_business_key", "business_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(40))
    root_cause: Mapped[str] = mapped_column(Text, default="")
    product: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    # open, done, cancelled
    status: Mapped[str] = mapped_column(String(20), default="open")
    action_taken: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))


class ImmutableRecordError(RuntimeError):
    """An archive record was about to be changed or deleted."""


@event.listens_for(Session, "before_flush")
def _refuse_archive_changes(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ArchiveRecord) and (obj in session.deleted or _archive_changed(session, obj)):
            raise ImmutableRecordError(f"archive record {obj.id} of {obj.business_key} is immutable")


def _archive_changed(session: Session, obj: ArchiveRecord) -> bool:
    # Marking a file reviewed is the one change allowed.
    state = inspect(obj)
    for attr in state.attrs:
        if attr.key != "reviewed_at" and attr.history.has_changes():
            return True
    return False


_COMPLAINT_BY_REFERENCE = select(Complaint).where(Complaint.reference == bindparam("reference"))
