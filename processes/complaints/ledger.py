"""The compensation ledger: the one way money a complaint gives is booked against a department's budget.

A complaint has at most one entry: the compensation it currently offers. The compensation strategy
books it when the amount is decided, a revised answer corrects it, and every answer sent to the
customer (the escalation ladder's too) brings it in line with what that answer offers; a mediation's
settlement is booked when the customer accepts the proposal. Each booking
and each correction is written to the audit log. Budgets count every entry; the analytics count an
entry as paid only once the customer accepted the answer that carried it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from processes.complaints.records import CompensationEntry
from processes.engine import audit

KINDS = ("points", "coupon", "refund", "cash")
NOTE_LIMIT = 500


def current_month(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m")


def entry_of(session: Session, business_key: str, entry_id: int | None) -> CompensationEntry | None:
    """The complaint's entry the process recorded (`entry_id`); never another complaint's."""
    entry = session.get(CompensationEntry, entry_id) if entry_id else None
    return entry if entry is not None and entry.business_key == business_key else None


def book(session: Session, by: str, business_key: str, department: str, kind: str, amount: Decimal,
         approved: bool, note: str = "", instance_id: int | None = None) -> CompensationEntry:
    """A new entry charged to the department's current month, with its audit entry."""
    entry = CompensationEntry(business_key=business_key, department=department, month=current_month(), kind=kind,
                              amount=amount, approved_by_management=approved, note=note[:NOTE_LIMIT])
    session.add(entry)
    session.flush()
    audit.append(session, by, "compensation_booked", business_key=business_key, instance_id=instance_id,
                 detail={"entry": entry.id, "department": department, "month": entry.month, "kind": kind,
                         "amount": str(amount), "approved_by_management": approved, "note": entry.note})
    return entry


def correct(session: Session, by: str, entry: CompensationEntry, kind: str, amount: Decimal, approved: bool,
            why: str, instance_id: int | None = None) -> bool:
    """The entry takes a new kind and amount (it stays in the month it was first charged to); False
    when nothing changed. The old figures stay in the note and in the audit entry."""
    if (entry.kind, Decimal(entry.amount)) == (kind, amount):
        return False
    before = {"kind": entry.kind, "amount": str(entry.amount)}
    entry.note = f"{entry.note or ''} {why} from {entry.kind} {entry.amount}".strip()[:NOTE_LIMIT]
    entry.kind, entry.amount = kind, amount
    entry.approved_by_management = entry.approved_by_management or approved
    session.flush()
    audit.append(session, by, "compensation_corrected", business_key=entry.business_key, instance_id=instance_id,
                 detail={"entry": entry.id, "before": before, "kind": kind, "amount": str(amount), "why": why,
                         "approved_by_management": entry.approved_by_management})
    return True
