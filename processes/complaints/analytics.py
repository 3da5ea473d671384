"""Complaint KPIs and chart series over any period and filter, read from the rollups.

With no filter, one or two, every sum is read from the slice's rows of `analytics_counts` (whole
years and months at their grains, the days at either end at day grain), so the cost depends on
the length of the period, not on the number of complaints. With three filters or more no slice
answers, and the database sums the period's fact rows with the metric definitions of
`analytics_sql` (a test keeps them equal to the observer's `contributions`). Open work (backlog, at risk) is read from the open fact rows. Every
figure has a drill-down predicate (`drill_down`) whose list of complaints gives the same count.
The definitions: docs/analytics.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session

from processes.complaints import analytics_histogram as histogram
from processes.complaints import analytics_sql
from processes.complaints.analytics_models import (
    LEVELS,
    SCORES,
    AnalyticsCount,
    ComplaintFact,
)
from processes.complaints.analytics_rollup import (
    DIMENSIONS,
    DURATION_METRICS,
    OPEN_METRICS,
    calendar,
    contributions,
    grains,
    pair_slice,
)
from processes.complaints.records import DepartmentBudget
from processes.complaints.sla import profile_names
from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden, ValidationFailed
from processes.engine.models import utcnow

MAX_DAYS = 366 * 5
AGE_BANDS = ((0, 2), (3, 7), (8, 15), (16, 30), (31, None))  # days open, inclusive
INTERVALS = ("day", "week", "month")
METRICS = ("received", "acknowledged", "resolved", "within_sla", "breached", "first_contact", "reopened",
           "paid", "closed", "closed_resolved", "escalated", "survey_sent", "survey_answered",
           "csat_positive", "ack_min", "ack_bmin", "resolve_min", "resolve_bmin", "level", "score")
# Metrics counted when the complaint is resolved, closed or acknowledged: which moment a list reads.
_MOMENT = {"received": "received_at", "acknowledged": "acknowledged_at",
           **{m: "resolved_at" for m in ("resolved", "within_sla", "breached", "first_contact", "reopened", "paid")},
           **{m: "closed_at" for m in ("closed", "closed_resolved", "escalated", "survey_sent",
                                        "survey_answered", "csat_positive")}}
DRILLABLE = (*_MOMENT, "open", "at_risk", "breached_open")
SLA_PROFILES = profile_names()
# Who sees the figures: they name complaints (drill-down) and the money spent.
VIEWERS = ("supervisor", "manager", "admin", "compliance_reviewer")


def require_viewer(actor: Actor) -> None:
    if actor.role not in VIEWERS:
        raise Forbidden(N_("Only supervisors, managers and compliance reviewers see complaint analytics."))


# ---------------------------------------------------------------------------- period and filters


@dataclass(frozen=True)
class Period:
    """Local calendar days from `start` to `end`, both included (the SLA calendar's time zone)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self) -> tuple[datetime, datetime]:
        """UTC start and (exclusive) end."""
        tz = calendar().tzinfo
        lo = datetime.combine(self.start, time(), tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(), tz).astimezone(UTC)
        return lo, hi

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date | None = None) -> Period:
        """From ISO dates; the last 30 days up to today when both are missing."""
        today = today or calendar().localize(utcnow()).date()
        errors = {}
        parsed = {}
        for name, value in (("from", start), ("to", end)):
            if value:
                try:
                    parsed[name] = date.fromisoformat(value)
                except ValueError:
                    errors[name] = N_("Enter a date such as 2026-03-01.")
        if errors:
            raise ValidationFailed(errors, N_("The period is not valid."))
        hi = parsed.get("to") or today
        lo = parsed.get("from") or hi - timedelta(days=29)
        if lo > hi:
            raise ValidationFailed({"from": N_("The start must not be after the end.")}, N_("The period is not valid."))
        if (hi - lo).days >= MAX_DAYS:
            raise ValidationFailed({"from": N_("Choose a period of at most five years.")}, N_("The period is not valid."))
        return cls(lo, hi)


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    category: str | None = None
    channel: str | None = None
    product: str | None = None
    severity: str | None = None
    sla_profile: str | None = None
    tier: str | None = None

    @classmethod
    def from_mapping(cls, args) -> Filters:
        values = {}
        for f in fields(cls):
            value = (args.get(f.name) or "").strip()
            if len(value) > 200:
                raise ValidationFailed({f.name: N_("At most 200 characters.")}, N_("The period is not valid."))
            values[f.name] = value or None
        return cls(**values)

    def active(self) -> list[tuple[str, str]]:
        return [(dim, getattr(self, dim)) for dim in DIMENSIONS if getattr(self, dim)]

    def as_args(self) -> dict[str, str]:
        return dict(self.active())


# ---------------------------------------------------------------------------- sums


Sums = dict[tuple[str, int], list]  # (metric, bucket) -> [count, total]


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _split(period: Period) -> tuple[list[date], list[tuple[date, date]]]:
    """Whole months inside the period (month grain) and the days left at either end (day grain)."""
    months, days = [], []
    day = period.start
    while day <= period.end:
        following = _month_after(day)
        if day.day == 1 and following - timedelta(days=1) <= period.end:
            months.append(day)
            day = following
            continue
        stop = min(following - timedelta(days=1), period.end)
        if days and days[-1][1] == day - timedelta(days=1):
            days[-1] = (days[-1][0], stop)
        else:
            days.append((day, stop))
        day = stop + timedelta(days=1)
    return months, days


def _grain_clause(period: Period, month_grain: bool = True, table=AnalyticsCount):
    """The rollup rows of a period: its whole months at month grain (or, without one, their days)
    and the days at either end at day grain."""
    months, days = _split(period)
    r = table
    if months and not month_grain:
        days = [*days, (months[0], _month_after(months[-1]) - timedelta(days=1))]
    clauses = [and_(r.grain == "day", r.period.between(a, b)) for a, b in days]
    if months and month_grain:
        clauses.append(and_(r.grain == "month", r.period.between(months[0], months[-1])))
    return or_(*clauses)


def _slice(filters: Filters) -> tuple[str, str] | None:
    """The rollup slice that answers for these filters: everything, one dimension, or a pair of
    them; three filters or more have none (the database counts the facts)."""
    active = filters.active()
    if len(active) > 2:
        return None
    if len(active) == 2:
        return pair_slice(*active)
    return (active[0][0], active[0][1][:250]) if active else ("", "")


def _period_facts(session: Session, period: Period, filters: Filters):
    """Fact rows with any counted moment in the period (the path for several filters)."""
    lo, hi = period.bounds()
    f = ComplaintFact
    moments = or_(*(getattr(f, m).between(lo, hi) for m in ("received_at", "acknowledged_at",
                                                            "resolved_at", "closed_at")))
    query = select(f).where(moments, *(getattr(f, dim) == value for dim, value in filters.active()))
    return session.scalars(query)


def sums(session: Session, period: Period, filters: Filters, metrics=METRICS) -> Sums:
    """(metric, bucket) → [count, total] over the period: from the rollup rows the slice keeps
    (`analytics_rollup.grains`), and the parts it does not keep from the fact rows."""
    out: Sums = defaultdict(lambda: [0, Decimal(0)])
    chosen = _slice(filters)
    if chosen is None:
        lo, hi = period.bounds()
        out.update(analytics_sql.sums(session, metrics, lo, hi, filters.active()))
        return out
    counted = [m for m in metrics if m not in DURATION_METRICS]
    if counted:
        _add(out, _count_sums(session, chosen, counted, _grain_clause(
            period, "month" in grains(chosen[0], counted[0]), AnalyticsCount)))
    timed = [m for m in metrics if m in DURATION_METRICS]
    if timed:
        for text_ in _timed_rows(session, chosen, period):
            histogram.add_into(out, text_, timed)
    return out


def count_columns(metrics) -> list[str]:
    """The AnalyticsCount columns of some counted metrics (levels and scores have one per value)."""
    columns = []
    for metric in metrics:
        if metric == "level":
            columns += [f"level_{n}" for n in LEVELS]
        elif metric == "score":
            columns += [f"score_{n}" for n in SCORES]
        else:
            columns.append(metric)
    return columns


def _as_metric(column: str) -> tuple[str, int]:
    metric, _, n = column.rpartition("_")
    return (metric, int(n)) if metric in ("level", "score") else (column, 0)


def _count_sums(session: Session, chosen: tuple[str, str], metrics, when) -> list[tuple]:
    """(metric, bucket, count, total) rows of the counts of one slice, summed over `when`."""
    c = AnalyticsCount
    columns = count_columns(metrics)
    row = session.execute(select(*(func.sum(c.__table__.c[k]) for k in columns), func.sum(c.paid_total))
                          .where(c.dim == chosen[0], c.value == chosen[1], when)).one()
    return [(*_as_metric(k), n, row[-1] if k == "paid" else 0) for k, n in zip(columns, row, strict=False) if n]


def _coarse_parts(months: list[date]) -> list[tuple[str, date, date]]:
    """Consecutive whole months as histogram rows to read: the whole calendar years among them at
    year grain, the months before and after at month grain."""
    years = sorted(y for y in {m.year for m in months} if sum(m.year == y for m in months) == 12)
    if not years:
        return [("month", months[0], months[-1])]
    parts = [("year", date(years[0], 1, 1), date(years[-1], 1, 1))]
    for run in ([m for m in months if m.year < years[0]], [m for m in months if m.year > years[-1]]):
        if run:
            parts.append(("month", run[0], run[-1]))
    return parts


def _timed_rows(session: Session, chosen: tuple[str, str], period: Period) -> list[str]:
    """The `histograms` JSON of one slice's rows covering the period: whole years and months at their
    grains, the days at either end by day (a few dozen rows), one range of the rollup key per part
    (an OR of grains would not use the index)."""
    months, days = _split(period)
    kept = grains(chosen[0], DURATION_METRICS[0])
    parts = (_coarse_parts(months) if "year" in kept else [("month", months[0], months[-1])]) if months else []
    c = AnalyticsCount
    each = [select(c.histograms).where(c.grain == grain, c.dim == chosen[0], c.value == chosen[1],
                                       c.period.between(lo, hi), c.histograms != "{}")
            for grain, lo, hi in [*parts, *(("day", a, b) for a, b in days)]]
    return list(session.scalars(union_all(*each) if len(each) > 1 else each[0]))


def _add(out: Sums, rows) -> None:
    for metric, bucket, count, total in rows:
        cell = out[(metric, bucket)]
        cell[0] += int(count or 0)
        cell[1] += Decimal(total or 0)


class _ByMetric(dict):
    """Sums indexed by metric once: {metric: [(bucket, count, total)]} (a two-year histogram has
    thousands of buckets, and every figure reads one metric)."""

    def __init__(self, s: Sums):
        super().__init__()
        for (m, b), (c, t) in s.items():
            self.setdefault(m, []).append((b, c, t))


def _index(s) -> _ByMetric:
    return s if isinstance(s, _ByMetric) else _ByMetric(s)


def _count(s, metric: str) -> int:
    return sum(c for _b, c, _t in _index(s).get(metric, ()))


def _total(s, metric: str) -> Decimal:
    return sum((t for _b, _c, t in _index(s).get(metric, ())), Decimal(0))


def percentile(s, metric: str, p: float) -> int | None:
    """Nearest-rank percentile of a histogram metric (the bucket's lower bound, in minutes)."""
    buckets = sorted((b, c) for b, c, _t in _index(s).get(metric, ()) if c > 0)
    n = sum(c for _b, c in buckets)
    if not n:
        return None
    rank, seen = max(math.ceil(p * n), 1), 0
    for b, c in buckets:
        seen += c
        if seen >= rank:
            return b
    return buckets[-1][0]


def _rate(num: int | Decimal, den: int | Decimal) -> float | None:
    return round(float(num) / float(den), 4) if den else None


# ---------------------------------------------------------------------------- open work


def _as_of(period: Period) -> tuple[datetime, bool]:
    """The moment open work is counted at (the end of the period, or now), and whether it is now."""
    now = utcnow()
    end = period.bounds()[1]
    return (now, True) if end >= now else (end, False)


def _open_where(at: datetime, filters: Filters, is_now: bool) -> list:
    """Open at `at`: received before it and not closed by then."""
    f = ComplaintFact
    # Nothing closes in the future: for "now" the open rows alone (the NULL end of ix_fact_open).
    still_open = f.closed_at.is_(None) if is_now else or_(f.closed_at.is_(None), f.closed_at >= at)
    return [f.received_at < at, still_open, *(getattr(f, dim) == value for dim, value in filters.active())]


def _band_where(band: int, at: datetime) -> list:
    """Open for `lo`–`hi` whole days at `at`: received in (at − (hi+1) days, at − lo days]."""
    lo, hi = AGE_BANDS[band]
    clauses = [ComplaintFact.received_at <= at - timedelta(days=lo)]
    if hi is not None:
        clauses.append(ComplaintFact.received_at > at - timedelta(days=hi + 1))
    return clauses


def _state_where(state: str, at: datetime) -> list:
    """Not resolved by `at`, and past the deadline (breached_open) or past at_risk_at (at_risk)."""
    f = ComplaintFact
    unresolved = or_(f.resolved_at.is_(None), f.resolved_at >= at)
    if state == "breached_open":
        return [unresolved, f.resolve_due.is_not(None), f.resolve_due < at]
    return [unresolved, f.resolve_due.is_not(None), f.resolve_due >= at, f.at_risk_at < at]


def _flag(clauses: list):
    return func.coalesce(func.sum(case((and_(*clauses), 1), else_=0)), 0)


def open_work(session: Session, period: Period, filters: Filters) -> dict:
    """Complaints open at the end of the period (or now): count, by age band, at risk, breached."""
    at, is_now = _as_of(period)
    chosen = _slice(filters)
    if is_now or chosen is None:
        # Now: the open fact rows alone (the NULL end of ix_fact_open), few whatever the history.
        bands, at_risk, breached = open_by_scan(session, at, filters, is_now)
    else:
        bands, at_risk, breached = _open_at_day_end(session, period.end + timedelta(days=1), at, filters, chosen)
    return {"as_of": at.isoformat(), "open": sum(bands), "bands": [
        {"band": i, "from_days": lo, "to_days": hi, "count": bands[i]} for i, (lo, hi) in enumerate(AGE_BANDS)],
        "at_risk": at_risk, "breached_open": breached}


def open_by_scan(session: Session, at: datetime, filters: Filters, is_now: bool) -> tuple[list[int], int, int]:
    """Open work at `at` counted over the fact rows open then: one aggregate query."""
    columns = [_flag(_band_where(i, at)) for i in range(len(AGE_BANDS))]
    columns += [_flag(_state_where("at_risk", at)), _flag(_state_where("breached_open", at))]
    row = session.execute(select(*columns).where(*_open_where(at, filters, is_now))).one()
    return [int(v) for v in row[:len(AGE_BANDS)]], int(row[-2]), int(row[-1])


def _before(session: Session, chosen: tuple[str, str], day: date, metrics: tuple[str, ...]) -> dict[str, int]:
    """Each count summed over every local day before `day`: months at month grain where the slice
    keeps them, then days."""
    c = AnalyticsCount
    first = day.replace(day=1)
    if "month" in grains(chosen[0], metrics[0]):
        when = or_(and_(c.grain == "month", c.period < first), and_(c.grain == "day", c.period >= first, c.period < day))
    else:
        when = and_(c.grain == "day", c.period < day)
    found = {m: int(n or 0) for m, _b, n, _t in _count_sums(session, chosen, metrics, when)}
    return {m: found.get(m, 0) for m in metrics}


def _open_at_day_end(session: Session, day: date, at: datetime, filters: Filters,
                     chosen: tuple[str, str]) -> tuple[list[int], int, int]:
    """Open work at local midnight `at` (the start of `day`) from the rollups: open = received −
    closed before it, at risk and breached the same from their start and stop counts; the age
    bands under 31 days count the open facts received in the last 31 days (ix_fact_received)."""
    c = _before(session, chosen, day, ("received", "closed", *OPEN_METRICS))
    total = c["received"] - c["closed"]
    young = [_flag(_band_where(i, at)) for i in range(len(AGE_BANDS) - 1)]
    row = session.execute(select(*young).where(
        ComplaintFact.received_at > at - timedelta(days=AGE_BANDS[-1][0]), *_open_where(at, filters, False))).one()
    bands = [int(v) for v in row]
    bands.append(total - sum(bands))
    return bands, c["risk_in"] - c["risk_out"], c["breach_in"] - c["breach_out"]


# ---------------------------------------------------------------------------- KPIs


def _figures(s: Sums) -> dict:
    s = _index(s)
    received, closed, resolved = _count(s, "received"), _count(s, "closed"), _count(s, "resolved")
    within, breached = _count(s, "within_sla"), _count(s, "breached")
    levels = {b: c for b, c, _t in s.get("level", ()) if c}
    paid = _total(s, "paid")
    return {
        "received": received,
        "closed": closed,
        "resolved": resolved,
        "closed_resolved": _count(s, "closed_resolved"),
        "resolution_rate": _rate(_count(s, "closed_resolved"), closed),
        "acknowledged": _count(s, "acknowledged"),
        "ack_minutes_median": percentile(s, "ack_min", 0.5),
        "ack_minutes_p90": percentile(s, "ack_min", 0.9),
        "ack_business_minutes_median": percentile(s, "ack_bmin", 0.5),
        "ack_business_minutes_p90": percentile(s, "ack_bmin", 0.9),
        "resolve_minutes_median": percentile(s, "resolve_min", 0.5),
        "resolve_minutes_p90": percentile(s, "resolve_min", 0.9),
        "resolve_business_minutes_median": percentile(s, "resolve_bmin", 0.5),
        "resolve_business_minutes_p90": percentile(s, "resolve_bmin", 0.9),
        "within_sla": within,
        "breached": breached,
        "sla_compliance": _rate(within, within + breached),
        "first_contact": _count(s, "first_contact"),
        "first_contact_rate": _rate(_count(s, "first_contact"), resolved),
        "reopened": _count(s, "reopened"),
        "reopen_rate": _rate(_count(s, "reopened"), resolved),
        "escalated": _count(s, "escalated"),
        "escalation_rate": _rate(_count(s, "escalated"), closed),
        "escalation_levels": {str(k): v for k, v in sorted(levels.items())},
        "max_escalation_level": max(levels) if levels else None,
        "survey_sent": _count(s, "survey_sent"),
        "survey_answered": _count(s, "survey_answered"),
        "survey_response_rate": _rate(_count(s, "survey_answered"), _count(s, "survey_sent")),
        "csat_positive": _count(s, "csat_positive"),
        "csat": _rate(_count(s, "csat_positive"), _count(s, "survey_answered")),
        "compensation_paid": str(paid.quantize(Decimal("0.01"))),
        "paid_count": _count(s, "paid"),
        "cost_per_complaint": str((paid / closed).quantize(Decimal("0.01"))) if closed else None,
    }


def kpis(session: Session, period: Period, filters: Filters) -> dict:
    """Every KPI for the period, and the same for the period of the same length before it."""
    out = {}
    for name, p in (("current", period), ("previous", period.previous())):
        out[name] = {"from": p.start.isoformat(), "to": p.end.isoformat(),
                     **_figures(sums(session, p, filters)), **open_work(session, p, filters)}
    out["filters"] = filters.as_args()
    out["source"] = "rollups" if _slice(filters) is not None else "facts"
    return out


# ---------------------------------------------------------------------------- series for charts


def _interval_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def series(session: Session, period: Period, filters: Filters, metrics: tuple[str, ...],
           interval: str = "day", split: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """{interval start: {split value or "": {metric: count}}} for each day/week/month of the period."""
    if interval not in INTERVALS:
        raise ValidationFailed({"interval": N_("Choose day, week or month.")}, N_("The period is not valid."))
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    chosen = _slice(filters)
    if metrics == ("received",) and split in histogram.SPLITS and len(filters.active()) == 2:
        return _received_split(session, period, chosen, split, interval)
    source = _series_source(session, period, filters, split, metrics) if chosen is not None else None
    if source is not None:
        c = AnalyticsCount
        dim, values = source  # rollup value -> the split value it stands for ("" without a split)
        grain = "month" if interval == "month" and "month" in grains(dim, metrics[0]) else "day"
        query = (select(c.period, c.value, *(func.sum(c.__table__.c[m]) for m in metrics))
                 .where(c.grain == grain, c.dim == dim,
                        c.period.between(period.start.replace(day=1) if grain == "month" else period.start,
                                         period.end))
                 .group_by(c.period, c.value))
        if values is not None:
            query = query.where(c.value.in_(values))
        for day, val, *counts in session.execute(query):
            if grain == "day" or day >= period.start.replace(day=1):
                key = val if values is None else values[val]
                for metric, count in zip(metrics, counts, strict=True):
                    if count:  # a slice a complaint left keeps its row at zero
                        out[_interval_start(day, interval).isoformat()][key][metric] += int(count)
        # Month grain covers whole months; keep the partial months at the ends exact from days.
        if grain == "month":
            return _trim_months(session, period, filters, metrics, split, out)
        return _dense(period, interval, out)
    if all(analytics_sql.is_count(m) for m in metrics):  # counted by the database
        lo, hi = period.bounds()
        for metric in metrics:
            for day, key, count in analytics_sql.count_by_day(session, metric, lo, hi, filters.active(), split):
                if period.start <= day <= period.end:
                    out[_interval_start(day, interval).isoformat()][key][metric] += count
        return _dense(period, interval, out)
    for fact in _period_facts(session, period, filters):
        key = (getattr(fact, split) or "") if split else ""
        for (day, metric, _bucket), (count, _total) in contributions(fact).items():
            if period.start <= day <= period.end and metric in metrics:
                out[_interval_start(day, interval).isoformat()][key][metric] += count
    return _dense(period, interval, out)


def _received_split(session: Session, period: Period, chosen: tuple[str, str], split: str, interval: str) -> dict:
    """Complaints received by category or channel under two filters: the pair slice's day rows keep
    them in their JSON (`analytics_histogram.SPLITS`)."""
    c = AnalyticsCount
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for day, text_ in session.execute(select(c.period, c.histograms).where(
            c.grain == "day", c.dim == chosen[0], c.value == chosen[1], c.period.between(period.start, period.end),
            c.histograms != "{}")):
        counts: dict[str, int] = {}
        histogram.add_named(counts, text_, histogram.SPLITS[split])
        for value, n in counts.items():
            if n:
                out[_interval_start(day, interval).isoformat()][value]["received"] += n
    return _dense(period, interval, out)


def _series_source(session: Session, period: Period, filters: Filters, split: str | None,
                   metrics: tuple[str, ...]) -> tuple[str, dict[str, str] | None] | None:
    """The rollup slice a series reads, and which of its values stand for which split value (None:
    every value, as itself); None when no slice answers (a split under two filters or more)."""
    chosen = _slice(filters)
    active = filters.active()
    if split is None:
        return chosen[0], {chosen[1]: ""}
    if not active:
        return split, None
    if len(active) > 1:
        return None
    (dim, wanted), c = active[0], AnalyticsCount
    if dim == split:
        return split, {wanted[:250]: wanted[:250]}
    # One filter on another dimension: the pair slice of the two, for each value the split has.
    known = session.scalars(select(c.value).distinct().where(
        c.grain == "day", c.dim == split, c.period.between(period.start, period.end)))
    values = {pair_slice((dim, wanted), (split, v))[1]: v for v in known}
    return pair_slice((dim, wanted), (split, ""))[0], values


def _trim_months(session, period, filters, metrics, split, out):
    """Replace the first and last month by their days inside the period, when they are partial."""
    for edge in {period.start.replace(day=1), period.end.replace(day=1)}:
        lo, hi = max(edge, period.start), min(_month_after(edge) - timedelta(days=1), period.end)
        if (lo, hi) == (edge, _month_after(edge) - timedelta(days=1)):
            continue
        part = series(session, Period(lo, hi), filters, metrics, "day", split)
        merged: dict = defaultdict(lambda: defaultdict(int))
        for by_value in part.values():
            for val, counts in by_value.items():
                for metric, count in counts.items():
                    merged[val][metric] += count
        out[edge.isoformat()] = merged
    return _dense(period, "month", out)


def _dense(period: Period, interval: str, out: dict) -> dict:
    """Every interval of the period in order, empty ones too, as plain dicts."""
    result = {}
    day = _interval_start(period.start, interval)
    while day <= period.end:
        key = day.isoformat()
        result[key] = {val: dict(counts) for val, counts in out.get(key, {}).items()}
        day = _month_after(day) if interval == "month" else day + timedelta(days=7 if interval == "week" else 1)
    return result


def root_causes(session: Session, period: Period, filters: Filters, limit: int = 15) -> list[dict]:
    """Resolved complaints per root cause, most frequent first, with the cumulative share (Pareto)."""
    counts: dict[str, int] = defaultdict(int)
    active = filters.active()
    chosen = _slice(filters)
    if chosen is not None:  # the causes ride in the slice's rows beside the histograms
        for text_ in _timed_rows(session, chosen, period):
            histogram.add_named(counts, text_)
    else:  # no slice for this filter: the database counts the period's resolved facts
        lo, hi = period.bounds()
        f = ComplaintFact
        cause = func.coalesce(f.root_cause, "")
        for value, count in session.execute(
                select(cause, func.count()).where(f.resolved_at >= lo, f.resolved_at < hi,
                                                  *(getattr(f, d) == v for d, v in active)).group_by(cause)):
            counts[value] += int(count)
    ranked = sorted(((c, k) for k, c in counts.items() if c), key=lambda x: (-x[0], x[1]))[:limit]
    total, running, out = sum(counts.values()), 0, []
    for count, cause in ranked:
        running += count
        out.append({"root_cause": cause, "count": count, "cumulative_share": _rate(running, total)})
    return out


def compensation_budget(session: Session, period: Period, filters: Filters, default_budget: Decimal,
                        departments: tuple[str, ...]) -> list[dict]:
    """Compensation paid per department and month of the period, against that month's budget."""
    c = AnalyticsCount
    months = []
    month = period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = _month_after(month)
    wanted = [d for d in departments if not filters.department or d == filters.department]
    paid: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for value, day, total in session.execute(  # department slices are kept by day
            select(c.value, c.period, c.paid_total).where(
                c.grain == "day", c.dim == "department", c.paid_total != 0, c.value.in_(wanted),
                c.period.between(months[0], _month_after(months[-1]) - timedelta(days=1)))):
        paid[(value, day.replace(day=1))] += Decimal(total or 0)
    budgets = {(d, m): Decimal(a) for d, m, a in session.execute(
        select(DepartmentBudget.department, DepartmentBudget.month, DepartmentBudget.amount).where(
            DepartmentBudget.month.in_([m.strftime("%Y-%m") for m in months])))}
    rows = []
    for month in months:
        for dept in wanted:
            spent = paid.get((dept, month), Decimal(0))
            budget = budgets.get((dept, month.strftime("%Y-%m")), default_budget)
            rows.append({"department": dept, "month": month.strftime("%Y-%m"),
                         "paid": str(spent.quantize(Decimal("0.01"))), "budget": str(Decimal(budget).quantize(Decimal("0.01"))),
                         "share": _rate(spent, budget)})
    return rows


# ---------------------------------------------------------------------------- drill-down


def drill_down(session: Session, metric: str, period: Period, filters: Filters, *, band: int | None = None,
               root_cause: str | None = None, page: int = 1, per_page: int = 50) -> tuple[list[ComplaintFact], int]:
    """The complaints behind one figure (a page of them, and how many there are)."""
    if metric not in DRILLABLE:
        raise ValidationFailed({"metric": N_("Unknown figure.")}, N_("The period is not valid."))
    f = ComplaintFact
    where = [getattr(f, dim) == value for dim, value in filters.active()]
    if metric in ("open", "at_risk", "breached_open"):
        at, is_now = _as_of(period)
        where = _open_where(at, filters, is_now)
        if metric != "open":
            where += _state_where(metric, at)
        elif band is not None:
            if not 0 <= band < len(AGE_BANDS):
                raise ValidationFailed({"band": N_("Unknown figure.")}, N_("The period is not valid."))
            where += _band_where(band, at)
        query = select(f).where(*where).order_by(f.received_at, f.reference)
        total = session.scalar(select(func.count()).select_from(f).where(*where))
        return session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all(), int(total or 0)
    lo, hi = period.bounds()
    column = getattr(f, _MOMENT[metric])
    where += [column >= lo, column < hi]
    where += {
        "within_sla": [f.resolve_due.is_not(None), f.resolved_at <= f.resolve_due],
        "breached": [f.resolve_due.is_not(None), f.resolved_at > f.resolve_due],
        "reopened": [f.reopened.is_(True)],
        # as analytics_rollup.first_contact
        "first_contact": [f.escalation_level == 1, f.reopened.is_(False), f.mediation_rounds <= 1],
        "paid": [f.paid_amount > 0],
        "closed_resolved": [f.outcome == "closed", f.resolved_at.is_not(None)],
        "escalated": [f.escalation_level > 1],
        "survey_sent": [f.survey_sent.is_(True)],
        "survey_answered": [f.satisfaction_score.is_not(None)],
        "csat_positive": [f.satisfaction_score >= 4],
    }.get(metric, [])
    if root_cause is not None:
        where.append(func.coalesce(f.root_cause, "") == root_cause)
    query = select(f).where(*where).order_by(column, f.reference)
    total = session.scalar(select(func.count()).select_from(f).where(*where))
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    return rows, int(total or 0)


def with_interval(period: Period, start: str, interval: str) -> Period:
    """The part of the period one chart bar stands for (a day, a week or a month)."""
    day = date.fromisoformat(start)
    if interval == "month":
        end = _month_after(day) - timedelta(days=1)
    elif interval == "week":
        end = day + timedelta(days=6)
    else:
        end = day
    return replace(period, start=max(day, period.start), end=min(end, period.end))
