"""Keeping the analytics facts and rollups in step with the complaint process.

`observe` is a runtime observer (installed by the composition root after the record's): after
each unit of work of a complaint it updates the complaint's fact row from the process variables
and adds to the rollups the difference between what the row contributed before and after. So a
complaint classified a week after it came in moves its "received" count from the unclassified
slice to its category, and no figure ever needs a scan of the complaints.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import combinations
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from processes.complaints import analytics_histogram as histogram
from processes.complaints.analytics_models import (
    COUNT_COLUMNS,
    COUNT_METRICS,
    AnalyticsCount,
    ComplaintFact,
)
from processes.complaints.calendar import BusinessCalendar
from processes.complaints.records import CompensationEntry
from processes.complaints.sla import load_policy, policy_for
from processes.engine.db import upsert_statement
from processes.engine.models import ProcessInstance, utcnow

PROCESS_KEY = "complaint_handling"
# The filters of every figure; each has its own slice of the rollups.
DIMENSIONS = ("department", "category", "channel", "product", "severity", "sla_profile", "tier")
CLOSED_STATUSES = ("closed", "closed_incomplete", "closed_duplicate")
# Two filters at once read a pair slice ("dep+chn", "product\x1fphone"): no scan for them either.
_SHORT = {"department": "dep", "category": "cat", "channel": "chn", "product": "prd", "severity": "sev",
          "sla_profile": "sla", "tier": "tir"}
PAIRS = tuple(combinations(DIMENSIONS, 2))
GRAINS = ("day", "month")
# Counted where a complaint starts and stops being open, at risk or past its limit: open work at the
# end of a past period is the sum of what started before it minus what stopped (docs/analytics.md).
OPEN_METRICS = ("risk_in", "risk_out", "breach_in", "breach_out")
# Duration histograms, in minutes (AnalyticsCount.histograms); figures read them for median and p90.
DURATION_METRICS = ("ack_min", "ack_bmin", "resolve_min", "resolve_bmin")

Key = tuple[date, str, int]  # local day, metric, bucket (exact minutes for a duration)
# The slices counted at month grain as well as day grain; the others are read at day grain only,
# which stays cheap because they are sparse (a few rows per day and value).
_DENSE = ("",)


def grains(dim: str, metric: str) -> tuple[str, ...]:
    """The grains a slice keeps a metric at. Duration histograms live in the rows' `histograms`
    (a few hundred keys at most per metric, `analytics_histogram`), so every slice keeps them by
    day and month, and everything and each dimension by year too: any period under one or two
    filters is read from a few dozen rows. Counts are kept by day in every slice, and by month in
    the dense ones, where summing days over a long period would read too many rows."""
    if metric in DURATION_METRICS:
        return ("day", "month") if "+" in dim else ("day", "month", "year")
    return GRAINS if dim in _DENSE else ("day",)


@lru_cache(maxsize=1)
def _policy_calendar() -> tuple[str, BusinessCalendar, float]:
    policy = load_policy()
    return policy.name, policy.calendar or BusinessCalendar.for_country(policy.country), policy.at_risk_ratio


def calendar() -> BusinessCalendar:
    """The business calendar of the deployment's SLA profile: its days and its time zone."""
    return _policy_calendar()[1]


def local_day(moment: datetime) -> date:
    return calendar().localize(moment).date()


def business_minutes(start: datetime, end: datetime, cal: BusinessCalendar | None = None) -> int:
    """Minutes between two moments that fall on working days of the calendar (whole days count:
    the calendar knows working days, not office hours)."""
    cal = cal or calendar()
    a, b = cal.localize(start), cal.localize(end)
    if b <= a:
        return 0
    total = timedelta()
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            day_start = datetime(day.year, day.month, day.day, tzinfo=a.tzinfo)
            lo, hi = max(a, day_start), min(b, day_start + timedelta(days=1))
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(int((end - start).total_seconds() // 60), 0)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- what a fact contributes


def first_contact(fact: ComplaintFact) -> bool:
    """Resolved by the first answer the customer got: no escalation, no reopening, one proposal at most."""
    return bool(fact.resolved_at and (fact.escalation_level or 1) == 1 and not fact.reopened
                and (fact.mediation_rounds or 0) <= 1)


def pair_slice(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    """The rollup slice of two filters, (dimension, value) each, in DIMENSIONS order."""
    (da, va), (db, vb) = sorted((a, b), key=lambda x: DIMENSIONS.index(x[0]))
    return f"{_SHORT[da]}+{_SHORT[db]}", f"{va}\x1f{vb}"[:250]


def open_spans(fact: ComplaintFact) -> list[tuple[str, datetime, datetime | None]]:
    """(at_risk or breach, start, end): the complaint is at risk / past its limit at a moment T
    when start < T <= end (end None: still). Matches analytics._state_where at T."""
    spans = []
    if fact.resolve_due is None:
        return spans
    ends = [m for m in (fact.resolved_at, fact.closed_at) if m is not None]
    if fact.at_risk_at is not None:
        start, end = max(fact.received_at, fact.at_risk_at), min([fact.resolve_due, *ends])
        if start < end:
            spans.append(("risk", start, end))
    start, end = max(fact.received_at, fact.resolve_due), min(ends) if ends else None
    if end is None or start < end:
        spans.append(("breach", start, end))
    return spans


def contributions(fact: ComplaintFact | None) -> dict[Key, list]:
    """What one fact row adds to the rollups: (day, metric, bucket) → [count, total]."""
    out: dict[Key, list] = defaultdict(lambda: [0, Decimal(0)])
    if fact is None or fact.received_at is None:
        return out

    def add(moment: datetime, metric: str, bucket_: int = 0, total: Decimal | int = 0) -> None:
        cell = out[(local_day(moment), metric, bucket_)]
        cell[0] += 1
        cell[1] += Decimal(total)

    add(fact.received_at, "received")
    if fact.acknowledged_at is not None:
        add(fact.acknowledged_at, "acknowledged")
        add(fact.acknowledged_at, "ack_min", fact.ack_minutes or 0)  # exact minutes: analytics_histogram
        add(fact.acknowledged_at, "ack_bmin", fact.ack_business_minutes or 0)
    if fact.resolved_at is not None:
        at = fact.resolved_at
        add(at, "resolved")
        add(at, "resolve_min", fact.resolve_minutes or 0)
        add(at, "resolve_bmin", fact.resolve_business_minutes or 0)
        if fact.resolve_due is not None:
            add(at, "within_sla" if at <= fact.resolve_due else "breached")
        if first_contact(fact):
            add(at, "first_contact")
        if fact.reopened:
            add(at, "reopened")
        if fact.paid_amount:
            add(at, "paid", 0, fact.paid_amount)
    if fact.closed_at is not None:
        at = fact.closed_at
        add(at, "closed")
        if fact.outcome == "closed" and fact.resolved_at is not None:
            add(at, "closed_resolved")
        level = min(max(fact.escalation_level or 1, 1), 4)  # the process has four levels
        add(at, "level", level)
        if level > 1:
            add(at, "escalated")
        if fact.survey_sent:
            add(at, "survey_sent")
        if fact.satisfaction_score is not None:
            add(at, "survey_answered")
            add(at, "score", min(max(int(fact.satisfaction_score), 1), 5))  # the 1–5 survey
            if fact.satisfaction_score >= 4:
                add(at, "csat_positive")
    for kind, start, end in open_spans(fact):
        add(start, f"{kind}_in")
        if end is not None:
            add(end, f"{kind}_out")
    return out


_PAIR_DIMS = tuple(f"{_SHORT[a]}+{_SHORT[b]}" for a, b in PAIRS)
_PAIR_INDEXES = tuple(combinations(range(len(DIMENSIONS)), 2))


def _slices(fact) -> list[tuple[str, str]]:
    """Everything, each dimension and each pair of them (pair_slice's names, built without sorting)."""
    values = [getattr(fact, dim) or "" for dim in DIMENSIONS]
    found = [("", ""), *((dim, v[:250]) for dim, v in zip(DIMENSIONS, values, strict=True))]
    found += [(name, f"{values[i]}\x1f{values[j]}"[:250]) for name, (i, j) in zip(_PAIR_DIMS, _PAIR_INDEXES, strict=True)]
    return found


def _period(grain: str, day: date) -> date:
    if grain == "year":
        return day.replace(month=1, day=1)
    return day if grain == "day" else day.replace(day=1)


def count_column(metric: str, bucket_: int) -> str | None:
    """The AnalyticsCount column of a counted metric; None for a duration histogram."""
    if metric in ("level", "score"):
        return f"{metric}_{bucket_}"
    return metric if metric in COUNT_METRICS else None


Cell = tuple[dict[str, Any], dict[str, dict[int, int]]]  # counts by column, histograms by metric


@lru_cache(maxsize=64)
def _row_grains(dim: str) -> tuple[tuple[str, bool, bool], ...]:
    """(grain, keeps counts, keeps histograms and root causes) for each grain a slice has rows at."""
    counted, timed = grains(dim, "received"), grains(dim, DURATION_METRICS[0])
    return tuple((g, g in counted, g in timed) for g in ("day", "month", "year") if g in counted or g in timed)


def rollup_cells(fact: ComplaintFact | None, sign: int, keep=None, into: dict | None = None) -> dict[tuple, Cell]:
    """What a fact adds to the rollup rows: (grain, dim, value, period) → (counts by column and
    paid_total, histograms {metric: {exact minutes: count}}). `keep`: only these slices' dims;
    `into`: add to these rows (the bulk build's sums) instead of new ones."""
    rows: dict[tuple, Cell] = {} if into is None else into
    if fact is None:
        return rows
    by_day: dict[date, tuple[list, list]] = {}
    splits: dict[date, list] = {}
    for (day, metric, bucket_), (count, total) in contributions(fact).items():
        counts, timed = by_day.setdefault(day, ([], []))
        column = count_column(metric, bucket_)
        if column is None:
            timed.append((metric, bucket_, sign * count))
        else:
            counts.append((column, sign * count, sign * total if metric == "paid" else 0))
            if metric == "resolved":  # the Pareto of root causes, kept beside the histograms
                timed.append((histogram.CAUSES, (fact.root_cause or "")[:200], sign * count))
            if metric == "received":  # pairs: received by category and channel, for their charts
                splits.setdefault(day, []).extend(
                    (name, (getattr(fact, dim) or "")[:200], sign * count) for dim, name in histogram.SPLITS.items())
    every = _slices(fact)
    for day, (counts, timed) in by_day.items():
        periods = {"day": day, "month": day.replace(day=1), "year": day.replace(month=1, day=1)}
        for dim, value in every:
            if keep is not None and dim not in keep:
                continue
            pair_splits = splits.get(day) if "+" in dim else None
            for grain, with_counts, with_timed in _row_grains(dim):
                if grain == "day" and pair_splits:
                    with_timed, timed_here = True, timed + pair_splits
                else:
                    timed_here = timed
                if not (with_counts and counts or with_timed and timed_here):
                    continue
                key = (grain, dim, value, periods[grain])
                cell = rows.get(key)
                if cell is None:
                    cell = rows[key] = ({}, {})
                if with_counts:
                    mine = cell[0]
                    for column, n, amount in counts:
                        mine[column] = mine.get(column, 0) + n
                        if amount:
                            mine["paid_total"] = mine.get("paid_total", 0) + amount
                if with_timed:
                    hist = cell[1]
                    for metric, minutes, n in timed_here:
                        h = hist.get(metric)
                        if h is None:
                            hist[metric] = {minutes: n}
                        else:
                            h[minutes] = h.get(minutes, 0) + n
    return rows


def cell_delta(before: ComplaintFact | None, after: ComplaintFact | None) -> dict[tuple, Cell]:
    """The rows whose sums change between two states of a fact, with what changes in each."""
    delta = rollup_cells(after, +1, into=rollup_cells(before, -1))
    out = {}
    for key, (counts, histograms) in delta.items():
        counts = {c: n for c, n in counts.items() if n}
        histograms = {m: h for m, h in ((m, {k: n for k, n in h.items() if n}) for m, h in histograms.items()) if h}
        if counts or histograms:
            out[key] = (counts, histograms)
    return out


def apply_delta(session: Session, before: ComplaintFact | None, after: ComplaintFact | None) -> int:
    """Add to the rollup rows what changed between two states of a fact; returns rows touched.
    The counts are added by the database (one upsert for every row touched, which also locks it);
    the histograms of the rows whose durations changed are then read, merged and written back."""
    delta = cell_delta(before, after)
    if not delta:
        return 0
    keys = sorted(delta)  # two transactions touching the same rows lock them in the same order
    params = [dict(zip(("g", "d", "v", "p"), key, strict=True), **{c: delta[key][0].get(c, 0) for c in COUNT_COLUMNS},
                   paid_total=Decimal(delta[key][0].get("paid_total", 0))) for key in keys]
    if not any(delta[key][1] for key in keys):
        session.execute(_count_upsert(session), params)
        return len(keys)
    # The upsert answers each row's id and stored histograms (RETURNING): no second read.
    changed = []
    for row in session.execute(_count_upsert(session, returning=True), params):
        timed = delta[(row.grain, row.dim, row.value, row.period)][1]
        if timed:
            merged = histogram.apply(histogram.decode(row.histograms), timed)
            changed.append({"row_id": row.id, "h": histogram.encode(merged)})
    if changed:
        table = AnalyticsCount.__table__
        session.execute(update(table).where(table.c.id == bindparam("row_id")).values(histograms=bindparam("h")),
                        changed)
    return len(keys)


def _count_upsert(session: Session, returning: bool = False):
    def build(insert):
        table = AnalyticsCount.__table__
        columns = (*COUNT_COLUMNS, "paid_total")
        stmt = insert(table).values(grain=bindparam("g"), dim=bindparam("d"), value=bindparam("v"),
                                    period=bindparam("p"), **{c: bindparam(c) for c in columns})
        stmt = stmt.on_conflict_do_update(
            index_elements=["grain", "dim", "value", "period"],
            set_={c: table.c[c] + stmt.excluded[c] for c in columns})
        if returning:
            stmt = stmt.returning(table.c.id, table.c.grain, table.c.dim, table.c.value, table.c.period,
                                  table.c.histograms)
        return stmt

    return upsert_statement(session, "analytics_count_returning" if returning else "analytics_count", build)


# ---------------------------------------------------------------------------- facts from the process


_FIELDS = [c.key for c in ComplaintFact.__table__.columns]


def copy_fact(fact: ComplaintFact | None) -> ComplaintFact | None:
    if fact is None:
        return None
    return ComplaintFact(**{key: getattr(fact, key) for key in _FIELDS})


def update_fact(session: Session, fact: ComplaintFact, facts: dict, instance: ProcessInstance,
                now: datetime) -> None:
    """Bring a fact row up to date with the process variables of one unit of work."""
    for dim, var in (("department", "department"), ("category", "category"), ("channel", "channel"),
                     ("product", "product"), ("severity", "severity"), ("tier", "customer_tier"),
                     ("root_cause", "root_cause"), ("status", "status")):
        if facts.get(var) is not None:
            setattr(fact, dim, str(facts[var])[:200])
    if facts.get("escalation_level"):
        fact.escalation_level = max(int(facts["escalation_level"]), fact.escalation_level or 1)
    if facts.get("mediation_round"):
        fact.mediation_rounds = max(int(facts["mediation_round"]), fact.mediation_rounds or 0)
    if fact.acknowledged_at is None and (acknowledged := _moment(facts.get("acknowledged_at"))):
        fact.acknowledged_at = acknowledged
        fact.ack_minutes = _minutes(fact.received_at, acknowledged)
        fact.ack_business_minutes = business_minutes(fact.received_at, acknowledged)
    if (due := _moment(facts.get("resolve_due"))) is not None:
        fact.resolve_due = due
        fact.at_risk_at = fact.received_at + (due - fact.received_at) * _policy_calendar()[2]
    status = facts.get("status")
    # The unit that sends the survey may report the data of its waiting events, not the status; an
    # answer (portal or call) proves it was sent.
    if status == "awaiting_survey" or facts.get("satisfaction_score") is not None or facts.get("survey_channel"):
        fact.survey_sent = True
    if status == "escalated" and facts.get("escalation_reason") == "survey_dissatisfied" and fact.resolved_at:
        fact.reopened = True
    resolved = _moment(facts.get("resolved_at"))
    if resolved is not None and resolved != fact.resolved_at and status not in ("escalated",):
        fact.resolved_at = resolved
        fact.resolve_minutes = _minutes(fact.received_at, resolved)
        fact.resolve_business_minutes = business_minutes(fact.received_at, resolved)
        fact.paid_amount = _paid(session, facts)
    if facts.get("satisfaction_score") is not None:
        fact.satisfaction_score = int(facts["satisfaction_score"])
    closed = status in CLOSED_STATUSES or instance.status == "completed"
    if closed and fact.closed_at is None:
        fact.closed_at = now
        fact.outcome = status if status in CLOSED_STATUSES else "closed"


def _paid(session: Session, facts: dict) -> Decimal:
    """Compensation counts as paid when the ledger entry was issued and the customer accepted the
    answer that carried it; an offer refused or superseded is not money spent (every answer sent
    brings the complaint's entry in line with what it offers, so the entry is the last answer's)."""
    if facts.get("customer_decision") != "accept":
        return Decimal(0)
    if not facts.get("compensation_issued"):
        return Decimal(0)
    ledger = facts.get("ledger") or {}
    entry_id = ledger.get("ledger_entry_id") if isinstance(ledger, dict) else None
    entry = session.get(CompensationEntry, entry_id) if entry_id else None
    if entry is not None:
        return Decimal(entry.amount)
    return Decimal(str(facts.get("compensation_amount") or 0))


def observe(session: Session, instance: ProcessInstance, facts: dict, uow) -> None:
    if instance.process_key != PROCESS_KEY:
        return
    fact = session.get(ComplaintFact, instance.business_key)
    before = copy_fact(fact)
    if fact is None:
        received = _moment(facts.get("received_at")) or utcnow()
        fact = ComplaintFact(reference=instance.business_key, received_at=received,
                             sla_profile=policy_for(facts.get("settings")).name, escalation_level=1, mediation_rounds=0,
                             reopened=False, survey_sent=False, paid_amount=Decimal(0))
        session.add(fact)
    update_fact(session, fact, facts, instance, utcnow())
    # Most units of work (a task claimed, a note) change nothing that counts: the rollups are a
    # function of the fact row alone, so an unchanged row needs no delta worked out.
    if before is not None and all(getattr(before, key) == getattr(fact, key) for key in _FIELDS):
        return
    apply_delta(session, before, fact)


def install(runtime) -> None:
    if observe not in runtime.observers:
        runtime.observers.append(observe)
