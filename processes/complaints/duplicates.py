"""Duplicate complaints: a confirmed duplicate is linked to its original, both files show the link.

The duplicate check (handlers/complaint.py `check_duplicates`) only suspects: it writes
`duplicate_of`. A person confirms: the review task (then `handlers` `link_duplicate` closes the new
complaint and tells the customer the original's reference) or a supervisor by hand on the file,
who may also undo a link. A link by hand changes only the link, not where the process is.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.records import Complaint
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden, NotFound, ValidationFailed
from processes.engine.models import utcnow

# Who links or unlinks by hand: supervisors decide what is the same matter.
LINKING_ROLES = frozenset({"supervisor"})


def may_link(who: Actor) -> bool:
    return who.role in LINKING_ROLES


def _refuse(message: str) -> ValidationFailed:
    """An error beside the field that names the original."""
    return ValidationFailed({"original": message}, message)


def confirm(session: Session, complaint: Complaint, original: str, by: str) -> None:
    """Mark `complaint` a confirmed duplicate of `original` (the caller audits)."""
    complaint.duplicate_of = original
    complaint.duplicate_confirmed_by = by
    complaint.duplicate_confirmed_at = utcnow()


def _load(session: Session, reference: str) -> Complaint:
    row = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if row is None:
        raise NotFound(N_("There is no complaint %(reference)s."), reference=reference)
    return row


def link_by_hand(session: Session, reference: str, original: str, who: Actor) -> Complaint:
    """A supervisor links `reference` to `original` as its duplicate. Errors name the field `original`."""
    if not may_link(who):
        raise Forbidden(N_("Only a supervisor links or unlinks duplicates."))
    complaint = _load(session, reference)
    original = (original or "").strip().upper()[:40]
    if not original:
        raise _refuse(N_("Enter the reference of the original complaint."))
    if original == reference:
        raise _refuse(N_("A complaint cannot be a duplicate of itself."))
    target = session.scalar(select(Complaint).where(Complaint.reference == original))
    if target is None:
        raise _refuse(N_("There is no complaint with this reference."))
    if target.duplicate_of and target.duplicate_confirmed_by:
        # Links point at the original itself, never along a chain.
        raise _refuse(N_("That complaint is itself a duplicate; link to its original."))
    confirm(session, complaint, original, who.username)
    audit.append(session, who.username, "duplicate_linked", business_key=reference,
                 detail={"original": original, "by_hand": True})
    audit.append(session, who.username, "duplicate_linked", business_key=original,
                 detail={"duplicate": reference, "by_hand": True})
    return complaint


def unlink_by_hand(session: Session, reference: str, who: Actor) -> Complaint:
    if not may_link(who):
        raise Forbidden(N_("Only a supervisor links or unlinks duplicates."))
    complaint = _load(session, reference)
    previous = complaint.duplicate_of
    if previous is None:
        raise _refuse(N_("This complaint is not linked to another."))
    complaint.duplicate_of = None
    complaint.duplicate_confirmed_by = None
    complaint.duplicate_confirmed_at = None
    audit.append(session, who.username, "duplicate_unlinked", business_key=reference, detail={"original": previous})
    audit.append(session, who.username, "duplicate_unlinked", business_key=previous, detail={"duplicate": reference})
    return complaint


def duplicates_of(session: Session, reference: str) -> list[Complaint]:
    """Complaints linked to `reference` as confirmed duplicates (the original's file lists them)."""
    return list(session.scalars(select(Complaint).where(Complaint.duplicate_of == reference,
                                                        Complaint.duplicate_confirmed_by.is_not(None))
                                .order_by(Complaint.received_at.desc()).limit(50)))
