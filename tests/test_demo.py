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
