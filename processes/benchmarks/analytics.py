"""`redress bench analytics`: the overview and every chart over N complaints and two years.

Seeding a million complaints through the process would take hours, so the fact rows are written
directly with realistic values (a year's seasonality, the process's outcomes and durations) and
the rollups are built from them with one INSERT … SELECT per metric and slice, the same sums the
observer keeps (`analytics_rollup.contributions`; tests/test_analytics.py checks that the SQL
build equals the observer's rows). Then it times `analytics.kpis` and each chart table for
periods of a week to two years, with no filter, one filter and two filters.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, insert, text

from processes.complaints import analytics
from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_charts import CHARTS, chart
from processes.complaints.analytics_models import COUNT_COLUMNS, AnalyticsCount, AnalyticsRollup, ComplaintFact
from processes.complaints.analytics_rollup import DIMENSIONS, DURATION_METRICS, PAIRS, business_minutes, calendar, grains, pair_slice
from processes.complaints.analytics_sql import SPECS, local_period, open_specs
from processes.complaints.registration import CATEGORIES, CHANNELS, SEVERITIES, TIERS

DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")
PRODUCTS = [f"产品 P-{n:03d}" for n in range(40)]
CAUSES = ["密封圈老化", "快递破损", "话术误导", "系统故障", "安装不当", "计费错误", "配件缺货", "温控器批次缺陷",
          "客服态度", "说明书不清"]


def _fact(n: int, received: datetime, now: datetime, rng: random.Random, cal) -> dict:
    severity = rng.choices(SEVERITIES, (40, 40, 15, 5))[0]
    limit_days = {"low": 10, "medium": 10, "high": 7, "critical": 3}[severity]
    ack = received + timedelta(minutes=rng.choice((0, 0, 0, 5, 30, 120)))
    resolve_minutes = int(rng.lognormvariate(8.3, 0.9))  # median ≈ 2.8 days
    resolved = received + timedelta(minutes=resolve_minutes)
    level = rng.choices((1, 2, 3, 4), (80, 14, 4, 2))[0]
    reopened = level > 1 and rng.random() < 0.3
    closed = resolved + timedelta(days=3, minutes=rng.randint(1, 8 * 1440))
    score = rng.choices((None, 1, 2, 3, 4, 5), (15, 4, 6, 15, 30, 30))[0]
    outcome = rng.choices(("closed", "closed_incomplete", "closed_duplicate"), (92, 5, 3))[0]
    if outcome != "closed":
        resolved, score, level, reopened = None, None, 1, False
    if resolved is not None and resolved > now:
        resolved = None
    if closed > now or resolved is None and outcome == "closed":
        closed = None
    paid = Decimal(rng.choice((50, 100, 300, 600))) if resolved and rng.random() < 0.15 else Decimal(0)
    return {
        "reference": f"TS-B{n:07d}", "department": rng.choice(DEPARTMENTS), "category": rng.choice(CATEGORIES),
        "channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS), "severity": severity,
        "sla_profile": "default", "tier": rng.choices(TIERS, (70, 15, 10, 5))[0],
        "root_cause": rng.choice(CAUSES), "status": outcome if closed else "investigating",
        "received_at": received, "acknowledged_at": ack,
        "resolved_at": resolved, "closed_at": closed, "resolve_due": received + timedelta(days=limit_days),
        "at_risk_at": received + timedelta(days=limit_days * 0.8),
        "outcome": outcome if closed else None, "ack_minutes": int((ack - received).total_seconds() // 60),
        "ack_business_minutes": business_minutes(received, ack, cal),
        "resolve_minutes": resolve_minutes if resolved else None,
        "resolve_business_minutes": (resolve_minutes * 5 // 7) if resolved else None,
        "escalation_level": level, "mediation_rounds": rng.choice((0, 0, 1, 2)), "reopened": reopened,
        "survey_sent": bool(closed and outcome == "closed"), "satisfaction_score": score if closed else None,
        "paid_amount": paid,
    }


def seed_facts(db, count: int, now: datetime, rng: random.Random, batch: int = 5000) -> None:
    cal = calendar()
    start = now - timedelta(days=730)
    rows = []
    with db.write_session.begin() as s:
        s.execute(delete(ComplaintFact))
        s.execute(delete(AnalyticsRollup))
        s.execute(delete(AnalyticsCount))
    for n in range(count):
        received = start + timedelta(seconds=rng.uniform(0, 730 * 86400))
        rows.append(_fact(n, received, now, rng, cal))
        if len(rows) == batch:
            with db.write_session.begin() as s:
                s.execute(insert(ComplaintFact), rows)
            rows = []
    if rows:
        with db.write_session.begin() as s:
            s.execute(insert(ComplaintFact), rows)


# ---------------------------------------------------------------------------- rollups by SQL


def build_rollups(db) -> int:
    """The rollups of every fact row, by SQL; returns the rows written."""
    cal = calendar()
    tz = cal.timezone
    offset = cal.localize(datetime.now(UTC)).utcoffset().total_seconds() / 3600
    with db.write_session.begin() as s:
        dialect = s.get_bind().dialect.name
        s.execute(delete(AnalyticsRollup))
        s.execute(delete(AnalyticsCount))
        chr_ = "chr" if dialect == "postgresql" else "char"
        slices = [("", "''")] + [(d, f"COALESCE({d}, '')") for d in DIMENSIONS] + [
            (pair_slice((a, ""), (b, ""))[0], f"SUBSTR(COALESCE({a}, '') || {chr_}(31) || COALESCE({b}, ''), 1, 250)")
            for a, b in PAIRS]
        columns = ", ".join((*DIMENSIONS, "root_cause"))
        specs = {**SPECS, **open_specs(dialect)}
        day_of = {m: local_period(dialect, spec[0], "day", tz, offset) for m, spec in specs.items()}
        month_of = {m: local_period(dialect, spec[0], "month", tz, offset) for m, spec in specs.items()}
        for metric in DURATION_METRICS:  # one pass over the facts per histogram, then its slices
            moment, where, bucket, total = specs[metric]
            s.execute(text("DROP TABLE IF EXISTS bench_metric"))
            s.execute(text(f"CREATE TEMPORARY TABLE bench_metric AS SELECT {columns}, {day_of[metric]} AS day, "
                           f"{month_of[metric]} AS month, {bucket} AS b, {total} AS t "
                           f"FROM complaint_facts WHERE {where}"))
            for dim, value in slices:
                for grain in grains(dim, metric):
                    group = ", ".join(e for e in (value, grain, "b") if e != "''")
                    s.execute(text(
                        f"INSERT INTO analytics_rollups (grain, dim, value, metric, period, bucket, count, total) "
                        f"SELECT '{grain}', '{dim}', {value}, '{metric}', {grain}, b, COUNT(*), SUM(t) "
                        f"FROM bench_metric GROUP BY {group}"))
        # Every count of every fact as one event row (its column, day and amount), then each slice's
        # wide rows from them.
        events = []
        for metric, (moment, where, bucket, total) in specs.items():
            if metric in DURATION_METRICS:
                continue
            column = f"'{metric}'" if bucket == "0" else f"'{metric}_' || CAST({bucket} AS VARCHAR(2))"
            events.append(f"SELECT {columns}, {day_of[metric]} AS day, {month_of[metric]} AS month, "
                          f"{column} AS col, {total} AS t FROM complaint_facts WHERE {where}")
        s.execute(text("DROP TABLE IF EXISTS bench_metric"))
        s.execute(text("CREATE TEMPORARY TABLE bench_metric AS " + " UNION ALL ".join(events)))
        sums = ", ".join(f"SUM(CASE WHEN col = '{c}' THEN 1 ELSE 0 END)" for c in COUNT_COLUMNS)
        causes = [("root_cause", "COALESCE(root_cause, '')"),
                  ("product_root_cause", f"COALESCE(product, '') || {chr_}(31) || COALESCE(root_cause, '')")]
        for dim, value in [*slices, *causes]:
            only = " WHERE col = 'resolved'" if dim in ("root_cause", "product_root_cause") else ""
            for grain in grains(dim, "received"):
                group = ", ".join(e for e in (value, grain) if e != "''")
                s.execute(text(
                    f"INSERT INTO analytics_counts (grain, dim, value, period, paid_total, {', '.join(COUNT_COLUMNS)}) "
                    f"SELECT '{grain}', '{dim}', {value}, {grain}, SUM(CASE WHEN col = 'paid' THEN t ELSE 0 END), "
                    f"{sums} FROM bench_metric{only} GROUP BY {group}"))
        s.execute(text("DROP TABLE IF EXISTS bench_metric"))
        rows = s.execute(text("SELECT COUNT(*) FROM analytics_counts")).scalar_one()
        return rows + s.execute(text("SELECT COUNT(*) FROM analytics_rollups")).scalar_one()


# ---------------------------------------------------------------------------- timing


def _cases(today: date, rng: random.Random, samples: int) -> list[tuple[str, Period, Filters]]:
    one = [Filters(**{d: v}) for d, v in (("department", "product"), ("category", "product_quality"),
                                           ("channel", "phone"), ("product", PRODUCTS[3]), ("severity", "high"),
                                           ("sla_profile", "default"), ("tier", "gold"))]
    cases = []
    for _ in range(samples):
        days = rng.choice((7, 30, 90, 365, 730))
        end = today - timedelta(days=rng.randint(0, 730 - days))
        period = Period(end - timedelta(days=days - 1), end)
        cases.append(("no filter", period, Filters()))
        cases.append(("one filter", period, rng.choice(one)))
        a, b = rng.sample(one, 2)
        cases.append(("two filters", period, Filters(**a.as_args(), **b.as_args())))
    return cases


def _stats(runs: list[float]) -> dict:
    runs = sorted(runs)
    p95 = runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]
    return {"n": len(runs), "median_ms": round(statistics.median(runs), 1), "p95_ms": round(p95, 1),
            "max_ms": round(runs[-1], 1)}


def run(database_url: str | None, complaints: int, samples: int) -> dict:
    from processes.engine.database import Database
    from processes.engine.schema import upgrade

    if database_url is None:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='redress-bench-analytics-')) / 'bench.db'}"
    upgrade(database_url)
    db = Database(database_url)
    rng = random.Random(16)
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed_facts(db, complaints, now, rng)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    rollup_rows = build_rollups(db)
    built = time.perf_counter() - started
    with db.write_session.begin() as s:
        s.execute(text("ANALYZE"))
    today = calendar().localize(now).date()
    timings: dict[str, list[float]] = {}
    for kind, period, filters in _cases(today, rng, samples):
        for name in ("kpis", *CHARTS):
            t0 = time.perf_counter()
            with db.session() as s:
                if name == "kpis":
                    analytics.kpis(s, period, filters)
                else:
                    chart(s, name, period, filters, "week" if period.days > 62 else "day")
            timings.setdefault(f"{name}, {kind}", []).append((time.perf_counter() - t0) * 1000)
    db.dispose()
    figures = {name: _stats(runs) for name, runs in timings.items()}
    every = [t for runs in timings.values() for t in runs]
    overall = _stats(every)
    return {"database": database_url.split("://")[0], "complaints": complaints, "days": 730,
            "seed_seconds": round(seeded, 1), "rollup_build_seconds": round(built, 1), "rollup_rows": rollup_rows,
            "overall": overall, "target": {"median_ms": 300, "p95_ms": 800},
            # every figure together, and the KPI overview by itself for each number of filters
            "met": overall["median_ms"] < 300 and overall["p95_ms"] < 800 and all(
                figures[f"kpis, {kind}"]["median_ms"] < 300 for kind in ("no filter", "one filter", "two filters")),
            "kpis": {kind: figures[f"kpis, {kind}"] for kind in ("no filter", "one filter", "two filters")},
            "figures": figures}
