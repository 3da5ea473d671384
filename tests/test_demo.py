"""`redress demo` leaves complaints at different stages, and running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from processes.app import build_runtime
from processes.complaints.demo import DEMO_USERS
from processes.complaints.records import Complaint
from processes.engine.definitions import read_files
from processes.engine.inbox import sla_state
from processes.engine.models import HumanTask, User
from processes.governance.demo_settings import load_demo
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
    assert runtime.settings["follow_up_wait"] == "P3D"  # no shortcut in memory
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


def test_the_demos_short_waits_are_a_reviewed_settings_version_the_audit_shows(db):
    """The demo's designer proposes the short waits, its reviewer approves them; the demo's complaints
    start under that version, and the waits in force before come back (reviewed) for later ones. A
    version approved before the demo (here a lower threshold) stays in both."""
    from processes.complaints.records import ConfigVersion
    from processes.engine.actors import Actor
    from processes.engine.models import AuditEntry, ProcessInstance
    from processes.governance import config_review

    runtime = build_runtime(db=db, mail=False)
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    with db.write_session.begin() as s:
        values = {**config_review.in_force(s, "settings")[1], "compensation_approval_threshold": 300}
        draft = config_review.propose(s, Actor("dora", "management", "process_designer"), "settings", values, "lower")
        config_review.approve(s, Actor("rita", "management", "compliance_reviewer"), draft.id)
    load_demo(runtime)
    with db.session() as s:
        versions = {v.version: (v.author, v.approved_by, v.values["follow_up_wait"],
                                v.values["compensation_approval_threshold"])
                    for v in s.scalars(select(ConfigVersion).where(ConfigVersion.kind == "settings"))}
        assert versions == {1: ("dora", "rita", "P3D", 300), 2: ("designer", "reviewer", "PT0S", 300),
                            3: ("designer", "reviewer", "P3D", 300)}
        audit = [(e.actor, e.action) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.business_key == "config:settings").order_by(AuditEntry.id))]
        assert audit[2:] == [("designer", "config_submitted"), ("reviewer", "config_approved")] * 2
        demo_versions = set(s.scalars(select(ProcessInstance.settings_version).where(
            ProcessInstance.process_key == "complaint_handling")))
    assert demo_versions == {2}  # every demo complaint started under the short waits
    load_demo(runtime)  # nothing left to load: no further version
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ConfigVersion)) == 3
