"""`redress bench analytics`: the overview and every chart over N complaints and two years.

Seeding a million complaints through the process would take hours, so the fact rows are written
directly with realistic values (a year's seasonality, the process's outcomes and durations) and
the rollups are built from them in one pass with the observer's own arithmetic
(`analytics_build`; tests/test_analytics.py checks that the bulk build equals the observer's rows). Then it times `analytics.kpis` and each chart table for
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
from processes.complaints.analytics_build import build_rollups as build
from processes.complaints.analytics_charts import CHARTS, chart
from processes.complaints.analytics_models import AnalyticsCount, ComplaintFact
from processes.complaints.analytics_rollup import business_minutes, calendar
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
        s.execute(delete(AnalyticsCount))
    for first in range(0, count, batch):
        _write(db, _facts(first, min(batch, count - first), start, now, rng, cal))


def build_rollups(db) -> int:
    """The rollups of every fact row in one pass (`analytics_build`); returns the rows written."""
    with db.write_session.begin() as s:
        return build(s)


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
