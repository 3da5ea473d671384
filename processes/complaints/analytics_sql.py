"""The rollup metrics as SQL over `complaint_facts`: the benchmark builds its rollups with them, and
the figures that have no rollup slice (a split by one dimension under a filter on another) are
counted with them by the database instead of row by row in Python."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, text

from processes.complaints.analytics_rollup import DIMENSIONS, calendar
from processes.engine.models import TZDateTime

# as analytics_rollup.contributions: four escalation levels, a 1–5 survey
LEVEL = "CASE WHEN escalation_level > 4 THEN 4 WHEN escalation_level < 1 THEN 1 ELSE escalation_level END"
SCORE = "CASE WHEN satisfaction_score > 5 THEN 5 WHEN satisfaction_score < 1 THEN 1 ELSE satisfaction_score END"
# metric: (moment column, condition, bucket expression, total expression); mirrors
# analytics_rollup.contributions, and tests/test_analytics.py keeps the two equal.
SPECS = {
    "received": ("received_at", "1=1", "0", "0"),
    "acknowledged": ("acknowledged_at", "acknowledged_at IS NOT NULL", "0", "0"),
    # durations: exact minutes, as the rollups keep them while few (analytics_histogram)
    "ack_min": ("acknowledged_at", "acknowledged_at IS NOT NULL", "COALESCE(ack_minutes, 0)", "0"),
    "ack_bmin": ("acknowledged_at", "acknowledged_at IS NOT NULL", "COALESCE(ack_business_minutes, 0)", "0"),
    "resolved": ("resolved_at", "resolved_at IS NOT NULL", "0", "0"),
    "resolve_min": ("resolved_at", "resolved_at IS NOT NULL", "COALESCE(resolve_minutes, 0)", "0"),
    "resolve_bmin": ("resolved_at", "resolved_at IS NOT NULL", "COALESCE(resolve_business_minutes, 0)", "0"),
    "within_sla": ("resolved_at", "resolved_at IS NOT NULL AND resolve_due IS NOT NULL AND resolved_at <= resolve_due",
                   "0", "0"),
    "breached": ("resolved_at", "resolved_at IS NOT NULL AND resolve_due IS NOT NULL AND resolved_at > resolve_due",
                 "0", "0"),
    "first_contact": ("resolved_at", ("resolved_at IS NOT NULL AND escalation_level = 1 AND NOT reopened "
                                     "AND mediation_rounds <= 1"), "0", "0"),
    "reopened": ("resolved_at", "resolved_at IS NOT NULL AND reopened", "0", "0"),
    "paid": ("resolved_at", "resolved_at IS NOT NULL AND paid_amount > 0", "0", "paid_amount"),
    "closed": ("closed_at", "closed_at IS NOT NULL", "0", "0"),
    "closed_resolved": ("closed_at", "closed_at IS NOT NULL AND outcome = 'closed' AND resolved_at IS NOT NULL",
                        "0", "0"),
    "level": ("closed_at", "closed_at IS NOT NULL", LEVEL, "0"),
    "escalated": ("closed_at", "closed_at IS NOT NULL AND escalation_level > 1", "0", "0"),
    "survey_sent": ("closed_at", "closed_at IS NOT NULL AND survey_sent", "0", "0"),
    "survey_answered": ("closed_at", "closed_at IS NOT NULL AND satisfaction_score IS NOT NULL", "0", "0"),
    "score": ("closed_at", "closed_at IS NOT NULL AND satisfaction_score IS NOT NULL", SCORE, "0"),
    "csat_positive": ("closed_at", "closed_at IS NOT NULL AND satisfaction_score >= 4", "0", "0"),
}




def open_specs(dialect: str) -> dict[str, tuple[str, str, str, str]]:
    """The start and stop counts of open work (analytics_rollup.open_spans) as SQL, in SPECS' shape."""
    if dialect == "postgresql":
        risk_start, risk_end = "GREATEST(received_at, at_risk_at)", "LEAST(resolve_due, resolved_at, closed_at)"
        breach_start, breach_end = "GREATEST(received_at, resolve_due)", "LEAST(resolved_at, closed_at)"
    else:  # SQLite's MIN/MAX of several values answer NULL when one is NULL
        risk_start = "MAX(received_at, at_risk_at)"
        risk_end = "MIN(resolve_due, COALESCE(resolved_at, resolve_due), COALESCE(closed_at, resolve_due))"
        breach_start = "MAX(received_at, resolve_due)"
        breach_end = ("CASE WHEN resolved_at IS NULL THEN closed_at WHEN closed_at IS NULL THEN resolved_at "
                      "ELSE MIN(resolved_at, closed_at) END")
    risk = f"resolve_due IS NOT NULL AND at_risk_at IS NOT NULL AND {risk_start} < {risk_end}"
    return {
        "risk_in": (risk_start, risk, "0", "0"),
        "risk_out": (risk_end, risk, "0", "0"),
        "breach_in": (breach_start, f"resolve_due IS NOT NULL AND ({breach_end} IS NULL OR {breach_start} < {breach_end})",
                      "0", "0"),
        "breach_out": (breach_end, f"resolve_due IS NOT NULL AND {breach_end} IS NOT NULL AND {breach_start} < {breach_end}",
                       "0", "0"),
    }


def local_period(dialect: str, column: str, grain: str, tz: str, offset_hours: float) -> str:
    """The local day (or first of the month or year) of a timestamp column, as SQL."""
    if dialect == "postgresql":
        local = f"({column} AT TIME ZONE '{tz}')"
        return f"CAST({local} AS DATE)" if grain == "day" else f"CAST(date_trunc('{grain}', {local}) AS DATE)"
    shift = f"'{offset_hours:+g} hours'"
    return f"date({column}, {shift})" if grain == "day" else f"date({column}, {shift}, 'start of {grain}')"


def local_day_sql(dialect: str, column: str) -> str:
    """`column`'s local day in the SLA calendar's time zone (SQLite: that zone's current offset)."""
    cal = calendar()
    offset = cal.localize(datetime.now(UTC)).utcoffset().total_seconds() / 3600
    return local_period(dialect, column, "day", cal.timezone, offset)


def is_count(metric: str) -> bool:
    spec = SPECS.get(metric)
    return spec is not None and spec[2] == "0" and spec[3] == "0"


def count_by_day(session, metric: str, lo, hi, active: list[tuple[str, str]], split: str | None):
    """(local day, split value or "", count) of a count metric whose moment falls in [lo, hi)."""
    moment, where, _bucket, _total = SPECS[metric]
    if split is not None and split not in DIMENSIONS:
        raise ValueError(split)
    dialect = session.get_bind().dialect.name
    day = local_day_sql(dialect, moment)
    value = f"COALESCE({split}, '')" if split else "''"
    params = {"lo": lo, "hi": hi}
    clauses = [where, f"{moment} >= :lo", f"{moment} < :hi"]
    for i, (dim, wanted) in enumerate(active):
        if dim not in DIMENSIONS:
            raise ValueError(dim)
        clauses.append(f"{dim} = :f{i}")
        params[f"f{i}"] = wanted
    group = ", ".join(e for e in (day, value) if e != "''")
    query = text(f"SELECT {day}, {value}, COUNT(*) FROM complaint_facts "
                 f"WHERE {' AND '.join(clauses)} GROUP BY {group}").bindparams(
        bindparam("lo", type_=TZDateTime()), bindparam("hi", type_=TZDateTime()))
    # SQLite answers the day as text
    return [(date.fromisoformat(d) if isinstance(d, str) else d, v, int(c))
            for d, v, c in session.execute(query, params)]


def sums(session, metrics, lo, hi, active: list[tuple[str, str]]) -> dict[tuple[str, int], list]:
    """(metric, bucket) → [count, total] of the facts whose moment falls in [lo, hi), filtered."""
    out: dict[tuple[str, int], list] = {}
    params = {"lo": lo, "hi": hi}
    filters = []
    for i, (dim, wanted) in enumerate(active):
        if dim not in DIMENSIONS:
            raise ValueError(dim)
        filters.append(f"{dim} = :f{i}")
        params[f"f{i}"] = wanted
    for metric in metrics:
        moment, where, bucket, total = SPECS[metric]
        clauses = [where, f"{moment} >= :lo", f"{moment} < :hi", *filters]
        group = f" GROUP BY {bucket}" if bucket != "0" else ""
        query = text(f"SELECT {bucket}, COUNT(*), SUM({total}) FROM complaint_facts "
                     f"WHERE {' AND '.join(clauses)}{group}").bindparams(
            bindparam("lo", type_=TZDateTime()), bindparam("hi", type_=TZDateTime()))
        for b, count, amount in session.execute(query, params):
            if count:
                out[(metric, int(b or 0))] = [int(count), Decimal(str(amount or 0))]
    return out
