"""`redress demo` leaves complaints at different stages, and running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from processes.app import build_runtime
from processes.complaints.demo import DEMO_USERS, load_demo
from processes.complaints.records import Complaint
from processes.engine.definitions import read_files
from processes.engine.inbox import sla_state
from processes.engine.models import HumanTask, User
from tests.conftest import ROOT


def test_demo_reaches_every_stage_and_is_idempotent(db):
    runtime = build_runtime(db=db, mail=False)
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    load_demo(runtime)
    with db.session() as s:
        statuses = sorted(s.scalars(select(Complaint.status)))
        users = s.scalar(select(func.count()).select_from(User))
    assert users == len(DEMO_USERS)
    assert {"registered", "investigating", "awaiting_customer", "awaiting_approval", "escalated",
            "closed"} <= set(statuses)
    assert runtime.settings["follow_up_wait"] != "PT0S"  # the demo's shortcut does not leak
    with db.session() as s:  # the inbox shows every SLA clock, and every task has one
        tasks = list(s.scalars(select(HumanTask).where(HumanTask.status == "open")))
    assert {"on_time", "at_risk", "breached"} <= {sla_state(t) for t in tasks}
    assert all(t.due_at is not None for t in tasks)
    load_demo(runtime)
    with db.session() as s:
        assert sorted(s.scalars(select(Complaint.status))) == statuses
        assert s.scalar(select(func.count()).select_from(User)) == users


def test_demo_history_runs_weeks_of_complaints_through_the_process_for_the_dashboards(db):
    """Short here (three weeks); `redress demo` loads a year the same way."""
    from datetime import timedelta

    from processes.complaints import analytics
    from processes.complaints.analytics import Filters, Period
    from processes.complaints.analytics_models import ComplaintFact
    from processes.complaints.analytics_rollup import local_day
    from processes.complaints.demo_history import load_history
    from processes.engine.models import utcnow

    runtime = build_runtime(db=db, mail=False)
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    loaded = load_history(runtime, days=21)
    assert loaded > 5 and load_history(runtime, days=21) == 0  # once
    with db.session() as s:
        facts = s.scalars(select(ComplaintFact)).all()
        received_days = {local_day(f.received_at) for f in facts}
        today = local_day(utcnow())
        figures = analytics.kpis(s, Period(today - timedelta(days=22), today), Filters())["current"]
        statuses = set(s.scalars(select(Complaint.status)))
    assert len(facts) == loaded and len(received_days) > 5  # spread over the weeks, not one day
    assert min(received_days) < today - timedelta(days=10)
    # Through the process: answers accepted, surveys answered, complaints closed over time.
    assert figures["received"] == loaded and figures["closed"] > 0 and figures["survey_answered"] > 0
    assert figures["resolve_minutes_median"] and figures["resolve_minutes_median"] > 60
    assert "closed" in statuses
