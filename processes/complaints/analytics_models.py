"""The tables complaint analytics reads: one fact row per complaint and the rollups kept from them.

Both are written by the analytics observer (`analytics_rollup.observe`) inside the unit of work
that changed the complaint, so the figures are never behind the process. Definitions of every
figure: docs/analytics.md.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from processes.engine.db import Base
from processes.engine.models import TZDateTime


class ComplaintFact(Base):
    """What analytics needs of one complaint: its dimensions and the moments that count."""

    __tablename__ = "complaint_facts"
    __table_args__ = (
        # Drill-down lists and the multi-filter path read a period's rows by one of these moments.
        Index("ix_fact_received", "received_at"),
        Index("ix_fact_acknowledged", "acknowledged_at"),
        Index("ix_fact_resolved", "resolved_at"),
        # Closed in a period, and open ones (backlog, at risk: no closed_at) by receipt.
        Index("ix_fact_open", "closed_at", "resolved_at", "received_at"),
    )

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(20))
    product: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(20))
    sla_profile: Mapped[str | None] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(20))
    root_cause: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(TZDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    resolve_due: Mapped[datetime | None] = mapped_column(TZDateTime())
    # when 80 % (the profile's at_risk_ratio) of the time from receipt to resolve_due is used
    at_risk_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    # closed, closed_incomplete, closed_duplicate
    outcome: Mapped[str | None] = mapped_column(String(30))
    ack_minutes: Mapped[int | None] = mapped_column(Integer)
    ack_business_minutes: Mapped[int | None] = mapped_column(Integer)
    resolve_minutes: Mapped[int | None] = mapped_column(Integer)
    resolve_business_minutes: Mapped[int | None] = mapped_column(Integer)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    mediation_rounds: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
    survey_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    satisfaction_score: Mapped[int | None] = mapped_column(Integer)
    paid_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))


# The plain counts of a complaint (docs/analytics.md), one column each in AnalyticsCount; "paid" also
# sums its amount in paid_total. Escalation levels (1–4) and survey scores (1–5) count per value.
COUNT_METRICS = ("received", "acknowledged", "resolved", "within_sla", "breached", "first_contact", "reopened",
                 "paid", "closed", "closed_resolved", "escalated", "survey_sent", "survey_answered",
                 "csat_positive", "risk_in", "risk_out", "breach_in", "breach_out")
LEVELS = (1, 2, 3, 4)
SCORES = (1, 2, 3, 4, 5)
COUNT_COLUMNS = (*COUNT_METRICS, *(f"level_{n}" for n in LEVELS), *(f"score_{n}" for n in SCORES))


class AnalyticsCount(Base):
    """Every count and duration histogram of one day, month or year, for everything (`dim` "") or
    one slice, in one row: a step that resolves a complaint adds to one row per slice and grain
    however many figures it changes, and a year under any filter reads a few such rows.
    `histograms` holds the four duration histograms as JSON, {metric: {minutes: count}}; a metric
    named with a trailing "~" holds log-spaced buckets instead of exact minutes
    (`analytics_histogram`)."""

    __tablename__ = "analytics_counts"
    __table_args__ = (UniqueConstraint("grain", "dim", "value", "period", name="uq_count_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    grain: Mapped[str] = mapped_column(String(5))  # day, month, year
    dim: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(250))
    period: Mapped[date] = mapped_column(Date)
    paid_total: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal(0))
    histograms: Mapped[str] = mapped_column(Text, default="{}", server_default="{}", nullable=False)


for _column in COUNT_COLUMNS:
    setattr(AnalyticsCount, _column, mapped_column(_column, Integer, default=0, nullable=False))


class KpiTarget(Base):
    """A manager's target for one KPI over a rolling period (SLA compliance ≥ 95 % over 30 days),
    optionally for one department. The worker checks it; `state` remembers the last verdict so
    the owner is told once when the figure crosses the target, not at every check."""

    __tablename__ = "kpi_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(40))
    # at_least (the figure must not fall below) or at_most (must not rise above)
    direction: Mapped[str] = mapped_column(String(10))
    target: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    days: Mapped[int] = mapped_column(Integer, default=30)
    department: Mapped[str | None] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # unknown (not checked yet or no data), met, missed
    state: Mapped[str] = mapped_column(String(10), default="unknown")
    last_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    checked_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class ArchiveReview(Base):
    """One supervisor's review note on a closed complaint in a review cycle (定期回顾, a month "2026-11")."""

    __tablename__ = "archive_reviews"
    __table_args__ = (UniqueConstraint("cycle", "business_key", name="uq_archive_review"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle: Mapped[str] = mapped_column(String(7))
    business_key: Mapped[str] = mapped_column(String(40))
    # sample, reopened, level_4, compensation: why the complaint is on the list
    reason: Mapped[str] = mapped_column(String(20))
    # ok, concern: the reviewer's verdict
    verdict: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(80))
    reviewed_at: Mapped[datetime] = mapped_column(TZDateTime())
