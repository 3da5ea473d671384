"""The archive review (定期回顾投诉档案): each month a supervisor reviews complaints closed in the
month before: a sample per department, plus every one that was reopened, reached level 4, or was
paid more than the threshold. A review note per complaint is kept (`ArchiveReview`) and audited."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.analytics import Period, _month_after
from processes.complaints.analytics_models import ArchiveReview, ComplaintFact
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Conflict, Forbidden, ValidationFailed
from processes.engine.models import utcnow

REVIEWERS = ("supervisor", "manager", "admin", "compliance_reviewer")
SAMPLE_PER_DEPARTMENT = 3
DEFAULT_THRESHOLD = Decimal(500)
VERDICTS = ("ok", "concern")
MAX_NOTE = 2000
MAX_CASES = 2000  # a month with more closed complaints than this is reviewed from the first ones


def require_reviewer(actor: Actor) -> None:
    if actor.role not in REVIEWERS:
        raise Forbidden(N_("Only supervisors, managers and compliance reviewers review the archive."))


def parse_cycle(value: str | None, today: date) -> str:
    """"2026-11"; default the month before today."""
    if not value:
        first = today.replace(day=1)
        previous = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
        return previous.strftime("%Y-%m")
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise ValidationFailed({"cycle": N_("Enter a month such as 2026-11.")}, N_("The month is not valid.")) from None
    return value


def cycle_period(cycle: str) -> Period:
    first = date.fromisoformat(cycle + "-01")
    return Period(first, date.fromordinal(_month_after(first).toordinal() - 1))


def _rank(cycle: str, reference: str) -> str:
    """A stable, unpredictable order: the same sample every time the list is opened."""
    return hashlib.sha256(f"{cycle}/{reference}".encode()).hexdigest()


def review_list(session: Session, cycle: str, threshold: Decimal = DEFAULT_THRESHOLD) -> list[dict]:
    """The complaints to review in a cycle, each with why it is on the list and its note if any."""
    lo, hi = cycle_period(cycle).bounds()
    f = ComplaintFact
    facts = session.scalars(select(f).where(f.closed_at >= lo, f.closed_at < hi)
                            .order_by(f.closed_at).limit(MAX_CASES)).all()
    chosen: dict[str, tuple[ComplaintFact, str]] = {}
    for fact in facts:
        if fact.reopened:
            chosen[fact.reference] = (fact, "reopened")
        elif (fact.escalation_level or 1) >= 4:
            chosen[fact.reference] = (fact, "level_4")
        elif (fact.paid_amount or 0) > threshold:
            chosen[fact.reference] = (fact, "compensation")
    by_department: dict[str, list[ComplaintFact]] = defaultdict(list)
    for fact in facts:
        if fact.reference not in chosen:
            by_department[fact.department or ""].append(fact)
    for rows in by_department.values():
        for fact in sorted(rows, key=lambda x: _rank(cycle, x.reference))[:SAMPLE_PER_DEPARTMENT]:
            chosen[fact.reference] = (fact, "sample")
    notes = {r.business_key: r for r in session.scalars(
        select(ArchiveReview).where(ArchiveReview.cycle == cycle, ArchiveReview.business_key.in_(list(chosen))))}
    out = [{"fact": fact, "reason": reason, "review": notes.get(ref)} for ref, (fact, reason) in chosen.items()]
    out.sort(key=lambda x: (x["fact"].department or "", x["reason"] == "sample", x["fact"].reference))
    return out


def record(session: Session, actor: Actor, cycle: str, reference: str, verdict: str, note: str,
           threshold: Decimal = DEFAULT_THRESHOLD) -> ArchiveReview:
    require_reviewer(actor)
    errors = {}
    if verdict not in VERDICTS:
        errors["verdict"] = N_("Choose fine or a concern.")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = N_("At most 2,000 characters.")
    if verdict == "concern" and not note:
        errors["note"] = N_("Say what the concern is.")
    if errors:
        raise ValidationFailed(errors, N_("The review was not saved."))
    listed = {item["fact"].reference: item["reason"] for item in review_list(session, cycle, threshold)}
    if reference not in listed:
        raise ValidationFailed({"reference": N_("This complaint is not on this month's review list.")},
                               N_("The review was not saved."))
    if session.scalar(select(ArchiveReview.id).where(ArchiveReview.cycle == cycle,
                                                     ArchiveReview.business_key == reference)) is not None:
        raise Conflict(N_("This complaint has already been reviewed this month."))
    row = ArchiveReview(cycle=cycle, business_key=reference, reason=listed[reference], verdict=verdict, note=note,
                        reviewer=actor.username, reviewed_at=utcnow())
    session.add(row)
    audit.append(session, actor.username, "archive_reviewed", business_key=reference,
                 detail={"cycle": cycle, "reason": listed[reference], "verdict": verdict})
    return row
