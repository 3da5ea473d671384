"""Breach timers on the complaint process fire at their deadline, not a minute before (test clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from processes.complaints.records import EscalationRecord
from tests.process_harness import DEFAULT_START
from tests.test_complaint_paths import (  # noqa: F401 - fixtures
    classify,
    complaint_runtime,
    confirm_strategy,
    dbsession,
    investigate,
    run,
)

MINUTE = timedelta(minutes=1)


def breaches(session) -> int:
    return session.scalar(select(func.count()).select_from(EscalationRecord)
                          .where(EscalationRecord.reason == "sla_breach"))


def step_to(h, moment: datetime) -> None:
    h.advance_time(moment - datetime.now(UTC))


def fires_exactly_at(h, session, deadline: datetime) -> None:
    before = breaches(session)
    step_to(h, deadline - MINUTE)
    assert breaches(session) == before, f"fired before {deadline.isoformat()}"
    step_to(h, deadline + timedelta(seconds=1))
    assert breaches(session) == before + 1, f"did not fire at {deadline.isoformat()}"


def test_the_acceptance_breach_fires_at_three_working_days_and_not_before(run, dbsession):
    h = run()  # received Monday 3 March 2025 09:00 UTC, not yet classified: medium
    fires_exactly_at(h, dbsession, DEFAULT_START + timedelta(days=3))


def test_the_investigation_breach_fires_at_the_respond_deadline_and_not_before(run, dbsession):
    h = run()
    classify(h, "product_quality", "medium")
    assert h.data["respond_due"] == "2025-03-10T09:00:00+00:00"  # 5 working days
    fires_exactly_at(h, dbsession, datetime.fromisoformat(h.data["respond_due"]))


def test_the_resolve_breach_fires_at_the_resolve_deadline_and_not_before(run, dbsession):
    h = run()
    classify(h, "product_quality", "medium")
    assert h.data["resolve_due"] == "2025-03-13T09:00:00+00:00"  # 10 calendar days, not mediation's 30 working
    investigate(h, "product", "customer", warranty="out_of_warranty")
    confirm_strategy(h, "rule_based")
    fires_exactly_at(h, dbsession, datetime.fromisoformat(h.data["resolve_due"]))
