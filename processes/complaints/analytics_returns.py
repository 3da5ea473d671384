"""Regulatory returns: the periodic complaint figures a regulator asks for (the FCA's half-yearly
complaints return, a monthly statistics table for Chinese regulators), by product and category,
for the deployment's SLA profile. One grouped query over the fact rows of the period: a return
is made a few times a year, not on every page view. Every export is written to the audit log
with its figures' checksum, so the numbers given to the regulator can be shown again."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from processes.complaints.analytics import Period
from processes.complaints.analytics_models import ComplaintFact
from processes.engine import audit
from processes.engine.actors import Actor

COLUMNS = ("product", "category", "received", "closed", "closed_within_limit", "upheld", "open_at_end",
           "compensation_paid")
KINDS = ("monthly", "half_year")


def _flag(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def figures(session: Session, period: Period) -> list[list]:
    """Rows of COLUMNS, one per product and category with anything to report, then a total row.
    received: registered in the period; closed: closed in it; closed within the limit: of those,
    resolved by the resolve deadline; upheld: of those, closed as resolved with the customer's
    acceptance; open at the end: received before the end and not closed by then; compensation paid
    (accepted and issued) on the complaints resolved in the period."""
    lo, hi = period.bounds()
    f = ComplaintFact
    closed_in = and_(f.closed_at >= lo, f.closed_at < hi)
    resolved_in = and_(f.resolved_at >= lo, f.resolved_at < hi)
    # Grouped by the labels: PostgreSQL takes two bound '' as two different expressions.
    product, category = func.coalesce(f.product, "").label("product"), func.coalesce(f.category, "").label("category")
    query = (select(product, category,
                    _flag(and_(f.received_at >= lo, f.received_at < hi)),
                    _flag(closed_in),
                    _flag(and_(closed_in, f.resolved_at.is_not(None), f.resolve_due.is_not(None),
                               f.resolved_at <= f.resolve_due)),
                    _flag(and_(closed_in, f.outcome == "closed", f.resolved_at.is_not(None))),
                    _flag(and_(f.received_at < hi, or_(f.closed_at.is_(None), f.closed_at >= hi))),
                    func.coalesce(func.sum(case((resolved_in, f.paid_amount), else_=0)), 0))
             .where(f.received_at < hi, or_(f.closed_at.is_(None), f.closed_at >= lo,
                                            and_(f.resolved_at >= lo, f.resolved_at < hi)))
             .group_by(product, category))
    rows = []
    total = defaultdict(lambda: Decimal(0))
    for product, category, *values in session.execute(query):
        counts = [int(v) for v in values[:-1]]
        paid = Decimal(values[-1] or 0).quantize(Decimal("0.01"))
        if not any(counts) and not paid:
            continue
        rows.append([product, category, *counts, str(paid)])
        for i, v in enumerate([*counts, paid]):
            total[i] += v
    rows.sort(key=lambda r: (r[0], r[1]))
    rows.append(["", "", *(int(total[i]) for i in range(5)), str(Decimal(total[5]).quantize(Decimal("0.01")))])
    return rows


def checksum(period: Period, rows: list[list]) -> str:
    canonical = json.dumps({"from": period.start.isoformat(), "to": period.end.isoformat(), "rows": rows},
                           ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_export(session: Session, actor: Actor, period: Period, kind: str, rows: list[list], fmt: str) -> str:
    """The export, its period and its figures' checksum in the audit chain; returns the checksum."""
    digest = checksum(period, rows)
    audit.append(session, actor.username, "regulatory_return_exported",
                 detail={"from": period.start.isoformat(), "to": period.end.isoformat(), "kind": kind,
                         "format": fmt, "sha256": digest, "total": rows[-1][2:]})
    return digest
