"""KPI targets: a manager sets one (SLA compliance at least 95 % over 30 days), the worker checks
them (`check_all`) and reports each target whose verdict changed, so the owner hears once when a
figure crosses its target. The figures are the dashboard's (`analytics.kpis`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints import analytics
from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_models import KpiTarget
from processes.complaints.analytics_rollup import calendar
from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden, ValidationFailed
from processes.engine.models import User, utcnow

# kpi -> (kind, usual direction); rates are shares 0..1, minutes and counts as they are
KPIS = {
    "sla_compliance": ("rate", "at_least"), "csat": ("rate", "at_least"),
    "resolution_rate": ("rate", "at_least"), "first_contact_rate": ("rate", "at_least"),
    "survey_response_rate": ("rate", "at_least"), "reopen_rate": ("rate", "at_most"),
    "escalation_rate": ("rate", "at_most"), "resolve_minutes_median": ("minutes", "at_most"),
    "resolve_minutes_p90": ("minutes", "at_most"), "ack_minutes_p90": ("minutes", "at_most"),
    "breached_open": ("count", "at_most"), "at_risk": ("count", "at_most"),
}
DIRECTIONS = ("at_least", "at_most")
SETTERS = ("manager", "admin")
MAX_TARGETS = 200


def require_setter(actor: Actor) -> None:
    if actor.role not in SETTERS:
        raise Forbidden(N_("Only managers set KPI targets."))


@dataclass(frozen=True)
class Crossing:
    target: KpiTarget
    before: str
    after: str
    value: Decimal | None


def parse(form, departments: tuple[str, ...]) -> dict:
    """A target's fields from a form; ValidationFailed names each wrong field. Rates are typed
    as percentages (95 for 95 %)."""
    errors, out = {}, {}
    kpi = (form.get("kpi") or "").strip()
    if kpi not in KPIS:
        errors["kpi"] = N_("Choose a figure.")
    direction = (form.get("direction") or "").strip() or (KPIS[kpi][1] if kpi in KPIS else "")
    if direction not in DIRECTIONS:
        errors["direction"] = N_("Choose at least or at most.")
    raw = (form.get("target") or "").strip()
    try:
        value = Decimal(raw)
        if not value.is_finite() or value < 0 or value > 10**9:
            raise InvalidOperation
        if kpi in KPIS and KPIS[kpi][0] == "rate":
            if value > 100:
                raise InvalidOperation
            value = value / 100
        out["target"] = value
    except (InvalidOperation, ValueError):
        errors["target"] = N_("Enter a number (a percentage for a rate, 0 to 100).")
    days = (form.get("days") or "30").strip()
    if not days.isdigit() or not 1 <= int(days) <= 366:
        errors["days"] = N_("Enter a number of days from 1 to 366.")
    department = (form.get("department") or "").strip() or None
    if department is not None and department not in departments:
        errors["department"] = N_("Choose a department.")
    owner = (form.get("owner") or "").strip()
    if not owner or len(owner) > 80:
        errors["owner"] = N_("Name the user who is told.")
    if errors:
        raise ValidationFailed(errors, N_("The target was not saved."))
    out.update(kpi=kpi, direction=direction, days=int(days), department=department, owner=owner)
    return out


def create(session: Session, actor: Actor, fields: dict) -> KpiTarget:
    require_setter(actor)
    if session.scalar(select(User.id).where(User.username == fields["owner"], User.active.is_(True))) is None:
        raise ValidationFailed({"owner": N_("No active user has this name.")}, N_("The target was not saved."))
    if len(session.scalars(select(KpiTarget.id).where(KpiTarget.active.is_(True))).all()) >= MAX_TARGETS:
        raise ValidationFailed({"kpi": N_("At most 200 targets.")}, N_("The target was not saved."))
    row = KpiTarget(**fields, active=True, state="unknown", created_by=actor.username, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def deactivate(session: Session, actor: Actor, target_id: int) -> None:
    require_setter(actor)
    row = session.get(KpiTarget, target_id)
    if row is not None:
        row.active = False


def value_of(session: Session, target: KpiTarget, today: date) -> Decimal | None:
    """The target's figure over its last `days` days up to today."""
    period = Period(today - timedelta(days=target.days - 1), today)
    figure = analytics.kpis(session, period, Filters(department=target.department))["current"].get(target.kpi)
    return None if figure is None else Decimal(str(figure))


def verdict(target: KpiTarget, value: Decimal | None) -> str:
    if value is None:
        return "unknown"
    good = value >= target.target if target.direction == "at_least" else value <= target.target
    return "met" if good else "missed"


def check_all(session: Session, now: datetime | None = None) -> list[Crossing]:
    """Evaluate every active target; return those whose verdict changed (row locked on PostgreSQL,
    so two workers report a crossing once)."""
    now = now or utcnow()
    today = calendar().localize(now).date()
    crossings = []
    query = select(KpiTarget).where(KpiTarget.active.is_(True)).order_by(KpiTarget.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for target in session.scalars(query).all():
        value = value_of(session, target, today)
        after = verdict(target, value)
        before = target.state
        target.state, target.last_value, target.checked_at = after, value, now
        if after != before and after != "unknown" and not (before == "unknown" and after == "met"):
            crossings.append(Crossing(target, before, after, value))
    return crossings
