"""The complaint process's service-task handlers, called directly with an in-memory database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from handlers.complaint import (
    acknowledge,
    archive,
    check_budget,
    check_completeness,
    check_duplicates,
    complete_improvement_action,
    correct_compensation,
    issue_compensation,
    notify,
    record_escalation,
    start_improvement_action,
)
from processes.complaints.records import (
    ArchiveRecord,
    CompensationEntry,
    Complaint,
    DepartmentBudget,
    EscalationRecord,
    ImmutableRecordError,
    ImprovementAction,
    Notification,
)
from processes.complaints.settings import SETTINGS, default_settings, describe_settings
from processes.engine.db import Base
from processes.engine.handlers import HandlerError, handler_names
from processes.engine.models import AuditEntry
from processes.engine.spiff import HandlerContext
from tests.process_harness import RecordingServices

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
REF = "C-2025-0042"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def ctx(session=None, data=None, params=None, services=None, business_key=REF):
    return HandlerContext(
        data=dict(data or {}),
        params=dict(params or {}),
        business_key=business_key,
        session=session,
        services=services,
        task_name="Task_Test",
    )


def test_every_handler_the_process_uses_is_registered():
    assert {
        "acknowledge",
        "notify",
        "check_completeness",
        "check_duplicates",
        "check_budget",
        "issue_compensation",
        "correct_compensation",
        "record_escalation",
        "archive",
        "start_improvement_action",
        "complete_improvement_action",
    } <= set(handler_names())


# ---------------------------------------------------------------- check_completeness


def test_completeness_lists_missing_fields_and_contact():
    out = check_completeness(
        ctx(
            data={"customer_name": "王芳", "subject": "漏水", "description": " "},
            params={"required": ["customer_name", "contact", "subject", "description"]},
        )
    )
    assert out["missing_fields"] == ["contact"]  # " " counts as given; the form trims
    assert out["complete"] is False and out["status"] == "awaiting_details"
    # every complaint field exists afterwards, so gateways can test them
    assert out["order_number"] is None and out["safety_issue"] is False and out["category"] is None
    assert out["received_at"] == NOW.isoformat()


def test_completeness_absorbs_the_customers_details():
    data = {
        "customer_name": "王芳",
        "customer_phone": "138",
        "subject": "漏水",
        "description": None,
        "customer_details": {"description": "底座漏水", "remedy_sought": "换货", "status": "hacked"},
    }
    out = check_completeness(
        ctx(data=data, params={"required": ["customer_name", "contact", "description", "remedy_sought"]})
    )
    assert out["description"] == "底座漏水" and out["remedy_sought"] == "换货"
    assert out["complete"] is True and out["status"] == "registered"
    assert out["customer_details"] is None
    assert "hacked" not in out.values()  # only complaint fields are taken from the customer


def test_completeness_refuses_details_that_are_not_an_object():
    with pytest.raises(HandlerError):
        check_completeness(ctx(data={"customer_details": "all of it"}))


# ---------------------------------------------------------------- notifications


def test_acknowledge_writes_the_reference_to_the_customer(session):
    out = acknowledge(ctx(session, {"customer_email": "a@example.cn", "channel": "web"}))
    note = session.get(Notification, out["acknowledgement_id"])
    assert (note.recipient_type, note.recipient, note.template) == (
        "customer",
        "a@example.cn",
        "acknowledgement",
    )
    assert REF in note.subject and REF in note.body and note.sent_at is not None
    assert out["status"] == "acknowledged" and out["acknowledged_at"].startswith("2025-03-12T10:00")


def test_acknowledge_needs_a_reference(session):
    with pytest.raises(HandlerError):
        acknowledge(ctx(session, {"customer_phone": "138"}, business_key=None))


def test_notify_a_department_a_role_a_user_and_the_customer(session):
    data = {"reference": REF, "severity": "critical", "customer_phone": "13800138000"}
    for recipient_type, recipient in [
        ("department", "management"),
        ("role", "supervisor"),
        ("user", "li.lei"),
    ]:
        notify(
            ctx(
                session,
                data,
                {
                    "recipient_type": recipient_type,
                    "recipient": recipient,
                    "template": "critical_complaint",
                    "subject": "严重投诉",
                },
            )
        )
    notify(ctx(session, data, {"recipient_type": "customer", "template": "survey", "payload": {"x": 1}}))
    rows = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.recipient_type, n.recipient) for n in rows] == [
        ("department", "management"),
        ("role", "supervisor"),
        ("user", "li.lei"),
        ("customer", "13800138000"),
    ]
    assert rows[0].payload["severity"] == "critical" and rows[3].payload["x"] == 1
    assert rows[0].business_key == REF


def test_notify_refuses_unknown_recipient_types_and_missing_recipients(session):
    with pytest.raises(HandlerError):
        notify(ctx(session, {}, {"recipient_type": "fax", "recipient": "x"}))
    with pytest.raises(HandlerError):
        notify(ctx(session, {}, {"recipient_type": "department"}))


def test_notify_needs_a_session():
    with pytest.raises(HandlerError):
        notify(ctx(None, {}, {"recipient_type": "department", "recipient": "sales"}))


# ---------------------------------------------------------------- duplicates


def _complaint(session, reference, days_ago, **kw):
    row = Complaint(reference=reference, channel="phone", received_at=NOW - timedelta(days=days_ago), **kw)
    session.add(row)
    session.flush()
    return row


def test_duplicates_same_phone_and_similar_subject_within_the_window(session):
    _complaint(session, "C-OLD-1", 40, customer_phone="138", subject="电水壶漏水")  # too old
    _complaint(session, "C-OLD-2", 3, customer_phone="139", subject="电水壶漏水")  # another customer
    _complaint(session, "C-OLD-3", 10, customer_phone="138", subject="电水壶底座漏水")
    _complaint(session, "C-OLD-4", 2, customer_phone="138", subject="发票抬头错误")  # another matter
    own = _complaint(session, REF, 0, customer_phone="138", subject="电水壶漏水")
    out = check_duplicates(
        ctx(session, {"customer_phone": "138", "subject": "电水壶漏水"}, {"window_days": 30})
    )
    assert out == {"duplicate_of": "C-OLD-3", "duplicate_candidates": ["C-OLD-3"]}
    assert own.duplicate_of == "C-OLD-3"


def test_duplicates_by_order_number_or_product(session):
    _complaint(session, "C-A", 1, customer_phone="138", subject="x", order_number="SO-1")
    _complaint(session, "C-B", 2, customer_phone="138", subject="y", product="Kettle K-200")
    out = check_duplicates(
        ctx(
            session,
            {
                "customer_phone": "138",
                "subject": "完全不同",
                "order_number": "SO-1",
                "product": "kettle k-200",
            },
        )
    )
    assert out["duplicate_candidates"] == ["C-A", "C-B"] and out["duplicate_of"] == "C-A"


def test_no_duplicates_without_a_phone(session):
    assert check_duplicates(ctx(session, {"subject": "x"}))["duplicate_of"] is None


# ---------------------------------------------------------------- budget and ledger


def test_budget_from_the_months_row(session):
    session.add(DepartmentBudget(department="product", month="2025-03", amount=Decimal(1000)))
    session.add(DepartmentBudget(department="product", month="2025-02", amount=Decimal(1)))
    session.add(
        CompensationEntry(
            business_key="X", department="product", month="2025-03", kind="cash", amount=Decimal(900)
        )
    )
    session.add(
        CompensationEntry(
            business_key="Y", department="sales", month="2025-03", kind="cash", amount=Decimal(900)
        )
    )
    session.flush()
    within = check_budget(ctx(session, {}, {"department": "product", "amount": 100}))
    assert within == {
        "over_budget": False,
        "budget_month": "2025-03",
        "budget_limit": 1000.0,
        "budget_spent": 900.0,
        "budget_remaining": 100.0,
    }
    assert check_budget(ctx(session, {}, {"department": "product", "amount": 100.01}))["over_budget"] is True


def test_budget_default_and_no_limit(session):
    out = check_budget(
        ctx(session, {"department": "sales", "compensation_amount": 300}, {"default_budget": 200})
    )
    assert out["over_budget"] is True and out["budget_limit"] == 200.0
    out = check_budget(ctx(session, {"department": "sales", "compensation_amount": 300}))
    assert out["over_budget"] is False and out["budget_limit"] is None


def test_budget_refuses_bad_amounts(session):
    with pytest.raises(HandlerError):
        check_budget(ctx(session, {}, {"department": "sales", "amount": "lots"}))
    with pytest.raises(HandlerError):
        check_budget(ctx(session, {}, {"department": "sales", "amount": -5}))
    with pytest.raises(HandlerError):
        check_budget(ctx(session, {}, {"amount": 5}))


def test_issue_compensation_writes_a_ledger_entry(session):
    out = issue_compensation(
        ctx(session, {"department": "after_sales"}, {"kind": "coupon", "amount": 50, "approved": False})
    )
    entry = session.get(CompensationEntry, out["ledger_entry_id"])
    assert (entry.business_key, entry.department, entry.month, entry.kind, entry.amount) == (
        REF,
        "after_sales",
        "2025-03",
        "coupon",
        Decimal("50.00"),
    )
    assert out["compensation_issued"] is True


def test_a_revised_amount_replaces_the_complaints_own_entry_in_the_budget_and_the_ledger(session):
    session.add(DepartmentBudget(department="product", month="2025-03", amount=Decimal(1000)))
    session.add(CompensationEntry(business_key="OTHER", department="product", month="2025-03", kind="cash",
                                  amount=Decimal(300)))
    ledger = issue_compensation(ctx(session, {"department": "product"}, {"kind": "cash", "amount": 400}))
    # Raising this complaint's 400 to 700: the others' 300 is spent, its own 400 is being replaced.
    revised = check_budget(ctx(session, {}, {"department": "product", "amount": 700, "replacing_own": True}))
    assert (revised["budget_spent"], revised["over_budget"]) == (300.0, False)
    assert check_budget(ctx(session, {}, {"department": "product", "amount": 700}))["over_budget"] is True
    data = {"ledger": ledger}
    assert correct_compensation(ctx(session, data, {"kind": "cash", "amount": 700, "approved": True})) == {
        "ledger_corrected": True}
    entry = session.get(CompensationEntry, ledger["ledger_entry_id"])
    assert (entry.kind, entry.amount, entry.approved_by_management) == ("cash", Decimal("700.00"), True)
    assert "revised from cash 400.00" in entry.note
    assert correct_compensation(ctx(session, data, {"kind": "cash", "amount": 700}))["ledger_corrected"] is False
    # No money any more: the entry keeps its kind at 0; another complaint's entry is never touched.
    correct_compensation(ctx(session, data, {"kind": None, "amount": 0}))
    assert (entry.kind, entry.amount) == ("cash", Decimal("0.00"))
    assert correct_compensation(ctx(session, data, {"kind": "cash", "amount": 5}, business_key="C-OTHER")) == {
        "ledger_corrected": False}
    assert correct_compensation(ctx(session, {}, {"kind": "cash", "amount": 5})) == {"ledger_corrected": False}
    with pytest.raises(HandlerError):
        correct_compensation(ctx(session, data, {"kind": "voucher", "amount": 5}))


def test_issue_compensation_refuses_unknown_kinds(session):
    with pytest.raises(HandlerError):
        issue_compensation(ctx(session, {"department": "sales"}, {"kind": "voucher", "amount": 5}))


# ---------------------------------------------------------------- escalation


def test_record_escalation_climbs_the_ladder_and_updates_the_complaint(session):
    complaint = _complaint(session, REF, 0)
    out = record_escalation(
        ctx(session, {"escalation_level": 1}, {"reason": "rejected", "raise_level": True})
    )
    assert out == {"escalation_level": 2, "status": "escalated"}
    assert complaint.escalation_level == 2
    row = session.scalars(select(EscalationRecord)).one()
    assert (row.business_key, row.level, row.reason, row.task) == (REF, 2, "rejected", "Task_Test")


def test_record_escalation_stops_at_management(session):
    with pytest.raises(HandlerError):
        record_escalation(ctx(session, {"escalation_level": 4}, {"raise_level": True}))


def test_sla_breach_is_recorded_without_climbing(session):
    out = record_escalation(
        ctx(session, {"escalation_level": 2}, {"reason": "sla_breach", "raise_level": False})
    )
    assert out == {"escalation_level": 2, "sla_breached": True}


# ---------------------------------------------------------------- archive


def test_archive_snapshots_variables_and_history(session):
    complaint = _complaint(session, REF, 1)
    session.add(
        AuditEntry(
            actor="agent",
            action="complete_task",
            business_key=REF,
            detail={"task": "Task_Classify"},
            prev_hash="0" * 64,
            hash="1" * 64,
        )
    )
    record_escalation(ctx(session, {"escalation_level": 1}, {"reason": "rejected", "raise_level": True}))
    issue_compensation(ctx(session, {"department": "sales"}, {"kind": "cash", "amount": 10}))
    notify(ctx(session, {}, {"recipient_type": "department", "recipient": "sales", "template": "x"}))
    services = RecordingServices(history=[{"task": "Task_Classify", "by": "agent"}])
    data = {"reference": REF, "status": "follow_up", "settings": {"secret": 1}, "answer": "答复"}
    out = archive(ctx(session, data, {"outcome": "closed"}, services))
    record = session.get(ArchiveRecord, out["archive_id"])
    assert out["status"] == "closed" and out["closed_at"].startswith("2025-03-12")
    snapshot = record.snapshot
    assert snapshot["variables"]["answer"] == "答复" and "settings" not in snapshot["variables"]
    assert snapshot["variables"]["status"] == "closed"
    history = snapshot["history"]
    assert [a["action"] for a in history["audit"]] == ["complete_task"]
    assert [e["level"] for e in history["escalations"]] == [2]
    assert [c["amount"] for c in history["compensation"]] == ["10.00"]
    assert [n["to"] for n in history["notifications"]] == ["department:sales"]
    assert history["tasks"] == [{"task": "Task_Classify", "by": "agent"}]
    canonical = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert record.sha256 == hashlib.sha256(canonical).hexdigest() == out["archive_sha256"]
    assert complaint.closed_at is not None


def test_archive_records_are_immutable_but_can_be_marked_reviewed(session):
    out = archive(ctx(session, {"reference": REF}, {"outcome": "closed_incomplete"}))
    record = session.get(ArchiveRecord, out["archive_id"])
    record.reviewed_at = NOW
    session.flush()
    record.outcome = "closed"
    with pytest.raises(ImmutableRecordError):
        session.flush()
    session.rollback()
    record = session.scalars(select(ArchiveRecord)).one_or_none()
    if record is not None:  # (rolled back entirely on SQLite without an outer transaction)
        session.delete(record)
        with pytest.raises(ImmutableRecordError):
            session.flush()


def test_archive_refuses_unknown_outcomes(session):
    with pytest.raises(HandlerError):
        archive(ctx(session, {}, {"outcome": "gone"}))


# ---------------------------------------------------------------- improvement actions


def test_start_improvement_action_opens_a_row_and_starts_its_process(session):
    services = RecordingServices()
    data = {"department": "product", "root_cause": "温控器缺陷", "product": "K-200", "settings": {"a": 1}}
    out = start_improvement_action(ctx(session, data, {"department": "product", "due_days": 30}, services))
    action = session.get(ImprovementAction, out["improvement_action_id"])
    assert (action.business_key, action.department, action.root_cause, action.status) == (
        REF,
        "product",
        "温控器缺陷",
        "open",
    )
    assert out["improvement_due_date"] == "2025-04-11" == action.due_date.isoformat()
    [(key, business_key, start_data)] = services.started
    assert (key, business_key) == ("improvement_action", REF)
    assert start_data["improvement_action_id"] == action.id and start_data["due_date"] == "2025-04-11"
    assert action.instance_id == 1


def test_start_improvement_action_needs_the_runtime_service(session):
    with pytest.raises(HandlerError):
        start_improvement_action(ctx(session, {"department": "product"}, services=None))


def test_complete_improvement_action(session):
    out = start_improvement_action(ctx(session, {"department": "technical"}, services=RecordingServices()))
    done = complete_improvement_action(
        ctx(session, {}, {"improvement_action_id": out["improvement_action_id"], "action_taken": "修复"})
    )
    action = session.get(ImprovementAction, out["improvement_action_id"])
    assert done == {"improvement_status": "done"} and action.status == "done" and action.completed_at
    with pytest.raises(HandlerError):
        complete_improvement_action(ctx(session, {}, {"improvement_action_id": 999}))


# ---------------------------------------------------------------- settings


def test_default_settings_are_documented_and_durations_parse():
    settings = default_settings()
    assert set(settings) == set(describe_settings()) == set(SETTINGS)
    for key in (
        "details_timeout",
        "response_timeout",
        "follow_up_wait",
        "survey_timeout",
        "mediation_response_timeout",
    ):
        TimerEventDefinition.parse_iso_duration(settings[key])
    assert settings["max_mediation_rounds"] == 3
    settings["required_fields"].append("x")
    assert "x" not in default_settings()["required_fields"], "each call returns a fresh copy"
