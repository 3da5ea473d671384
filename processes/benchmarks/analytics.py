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
from processes.complaints.analytics_models import (
    COUNT_COLUMNS,
    LEVELS,
    SCORES,
    AnalyticsCount,
    AnalyticsRollup,
    ComplaintFact,
)
from processes.complaints.analytics_rollup import (
    DIMENSIONS,
    DURATION_METRICS,
    PAIRS,
    business_minutes,
    calendar,
    grains,
    pair_slice,
)
from processes.complaints.analytics_sql import SPECS, local_period, open_specs
from processes.complaints.registration import CATEGORIES, CHANNELS, SEVERITIES, TIERS

DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")
PRODUCTS = [f"产品 P-{n:03d}" for n in range(40)]
CAUSES = ["密封圈老化", "快递破损", "话术误导", "系统故障", "安装不当", "计费错误", "配件缺货", "温控器批次缺陷",
          "客服态度", "说明书不清"]


def _facts(first: int, count: int, start: datetime, now: datetime, rng: random.Random, cal) -> list[dict]:
    """`count` fact rows received over two years from `start`; every random column is drawn for the
    whole batch at once (rng.choices with k), which is what keeps a million rows to minutes."""
    def pick(values, weights=None):
        return rng.choices(values, weights, k=count)

    limits = {"low": 10, "medium": 10, "high": 7, "critical": 3}
    columns = zip(pick(SEVERITIES, (40, 40, 15, 5)), pick((0, 0, 0, 5, 30, 120)), pick((1, 2, 3, 4), (80, 14, 4, 2)),
                  pick((None, 1, 2, 3, 4, 5), (15, 4, 6, 15, 30, 30)),
                  pick(("closed", "closed_incomplete", "closed_duplicate"), (92, 5, 3)), pick(DEPARTMENTS),
                  pick(CATEGORIES), pick(CHANNELS), pick(PRODUCTS), pick(TIERS, (70, 15, 10, 5)), pick(CAUSES),
                  pick((0, 0, 1, 2)), pick((50, 100, 300, 600)), strict=True)
    rows = []
    for n, (severity, ack_after, level, score, outcome, dept, category, channel, product, tier, cause, rounds,
            amount) in enumerate(columns, first):
        received = start + timedelta(seconds=rng.uniform(0, 730 * 86400))
        limit_days = limits[severity]
        ack = received + timedelta(minutes=ack_after)
        resolve_minutes = int(rng.lognormvariate(8.3, 0.9))  # median ≈ 2.8 days
        resolved = received + timedelta(minutes=resolve_minutes)
        reopened = level > 1 and rng.random() < 0.3
        closed = resolved + timedelta(days=3, minutes=rng.randint(1, 8 * 1440))
        if outcome != "closed":
            resolved, score, level, reopened = None, None, 1, False
        if resolved is not None and resolved > now:
            resolved = None
        if closed > now or resolved is None and outcome == "closed":
            closed = None
        paid = Decimal(amount) if resolved and rng.random() < 0.15 else Decimal(0)
        rows.append({
            "reference": f"TS-B{n:07d}", "department": dept, "category": category, "channel": channel,
            "product": product, "severity": severity, "sla_profile": "default", "tier": tier, "root_cause": cause,
            "status": outcome if closed else "investigating", "received_at": received, "acknowledged_at": ack,
            "resolved_at": resolved, "closed_at": closed, "resolve_due": received + timedelta(days=limit_days),
            "at_risk_at": received + timedelta(days=limit_days * 0.8),
            "outcome": outcome if closed else None, "ack_minutes": ack_after,
            "ack_business_minutes": business_minutes(received, ack, cal) if ack_after else 0,
            "resolve_minutes": resolve_minutes if resolved else None,
            "resolve_business_minutes": (resolve_minutes * 5 // 7) if resolved else None,
            "escalation_level": level, "mediation_rounds": rounds, "reopened": reopened,
            "survey_sent": bool(closed and outcome == "closed"), "satisfaction_score": score if closed else None,
            "paid_amount": paid,
        })
    return rows


_FACT_COLUMNS = [c.key for c in ComplaintFact.__table__.columns]


def _write(db, rows: list[dict]) -> None:
    """One batch of fact rows: COPY on PostgreSQL, one executemany on SQLite."""
    with db.write_session.begin() as s:
        if s.get_bind().dialect.name != "postgresql":
            s.execute(insert(ComplaintFact), rows)
            return
        raw = s.connection().connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY complaint_facts ({', '.join(_FACT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in _FACT_COLUMNS])


def seed_facts(db, count: int, now: datetime, rng: random.Random, batch: int = 20000) -> None:
    cal = calendar()
    start = now - timedelta(days=730)
    with db.write_session.begin() as s:
        s.execute(delete(ComplaintFact))
        s.execute(delete(AnalyticsRollup))
        s.execute(delete(AnalyticsCount))
    for first in range(0, count, batch):
        _write(db, _facts(first, min(batch, count - first), start, now, rng, cal))


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
            year = local_period(dialect, moment, "year", tz, offset)
            s.execute(text("DROP TABLE IF EXISTS bench_metric"))
            s.execute(text(f"CREATE TEMPORARY TABLE bench_metric AS SELECT {columns}, {day_of[metric]} AS day, "
                           f"{month_of[metric]} AS month, {year} AS year, {bucket} AS b, {total} AS t "
                           f"FROM complaint_facts WHERE {where}"))
            for dim, value in slices:
                for grain in grains(dim, metric):
                    group = ", ".join(e for e in (value, grain, "b") if e != "''")
                    s.execute(text(
                        f"INSERT INTO analytics_rollups (grain, dim, value, metric, period, bucket, count, total) "
                        f"SELECT '{grain}', '{dim}', {value}, '{metric}', {grain}, b, COUNT(*), SUM(t) "
                        f"FROM bench_metric GROUP BY {group}"))
        # The counts: one pass over the facts per moment (received, resolved, closed …) and slice, each
        # adding its columns to the slice's wide rows of that day (or month).
        causes = [("root_cause", "COALESCE(root_cause, '')"),
                  ("product_root_cause", f"COALESCE(product, '') || {chr_}(31) || COALESCE(root_cause, '')")]
        every = (*COUNT_COLUMNS, "paid_total")
        add = ", ".join(f"{c} = analytics_counts.{c} + excluded.{c}" for c in every)
        for moment, columns_of in _count_moments(specs).items():
            for dim, value in [*slices, *causes]:
                wanted = {c: e for c, e in columns_of.items() if c == "resolved" or dim not in dict(causes)}
                if not wanted:
                    continue
                sums = ", ".join(f"SUM({wanted[c]})" if c in wanted else "0" for c in every)
                for grain in grains(dim, "received"):
                    period = (day_of if grain == "day" else month_of)[moment]
                    group = ", ".join(e for e in (value, period) if e != "''")
                    where = " OR ".join(f"({specs[m][1]})" for m in {*_metric_of(wanted)})
                    s.execute(text(
                        f"INSERT INTO analytics_counts (grain, dim, value, period, {', '.join(every)}) "
                        f"SELECT '{grain}', '{dim}', {value}, {period}, {sums} FROM complaint_facts "
                        f"WHERE {where} GROUP BY {group} "
                        f"ON CONFLICT (grain, dim, value, period) DO UPDATE SET {add}"))
        rows = s.execute(text("SELECT COUNT(*) FROM analytics_counts")).scalar_one()
        return rows + s.execute(text("SELECT COUNT(*) FROM analytics_rollups")).scalar_one()


def _metric_of(columns: dict[str, str]) -> set[str]:
    return {"paid" if c == "paid_total" else c.rsplit("_", 1)[0] if c[-1].isdigit() else c for c in columns}


def _count_moments(specs: dict) -> dict[str, dict[str, str]]:
    """The count columns grouped by the metric (first of its moment) whose moment they are counted at:
    {metric: {column: SQL of its count or amount per fact row}}."""
    by_moment: dict[str, dict[str, str]] = {}
    first: dict[str, str] = {}
    for metric, (moment, where, bucket, total) in specs.items():
        if metric in DURATION_METRICS:
            continue
        key = first.setdefault(moment, metric)
        columns = by_moment.setdefault(key, {})
        if metric in ("level", "score"):
            for n in (LEVELS if metric == "level" else SCORES):
                columns[f"{metric}_{n}"] = f"CASE WHEN ({where}) AND {bucket} = {n} THEN 1 ELSE 0 END"
        else:
            columns[metric] = f"CASE WHEN {where} THEN 1 ELSE 0 END"
        if metric == "paid":
            columns["paid_total"] = f"CASE WHEN {where} THEN {total} ELSE 0 END"
    return by_moment


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
