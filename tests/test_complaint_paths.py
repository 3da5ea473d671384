"""One scenario per path of the complaint process (issue 3, "Tests that tell the story").

Each drives bpmn/complaint.bpmn through the runtime facade (tests/runtime_harness.py) from intake to the end and
asserts the lanes visited, the variables set, the records written and the final state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import processes.complaints.records  # noqa: F401 - registers the tables
from processes.app import build_runtime
from processes.complaints import case_summary
from processes.complaints.records import (
    ArchiveRecord,
    CompensationEntry,
    Complaint,
    DepartmentBudget,
    EscalationRecord,
    ImprovementAction,
    Notification,
)
from processes.engine.actors import Actor
from processes.engine.handlers import HandlerError
from processes.engine.models import AuditEntry, HumanTask, ProcessInstance, Timer
from tests.conftest import needs_shipped_model
from tests.process_harness import DEFAULT_START, complaint_start_data
from tests.runtime_harness import FacadeHarness

REF = "C-2025-0001"


@pytest.fixture
@needs_shipped_model
def complaint_runtime(db):
    runtime = build_runtime(db=db, mail=False)
    # Every human task any path reaches gets a deadline and a priority (issue 13).
    undated: list[str] = []

    def no_task_without_deadline(session, instance, facts, uow):
        undated.extend(session.scalars(select(HumanTask.bpmn_id).where(
            HumanTask.instance_id == instance.id, HumanTask.status == "open",
            HumanTask.due_at.is_(None) | HumanTask.priority.is_(None))))

    runtime.observers.append(no_task_without_deadline)
    yield runtime
    assert not undated, f"human tasks without a due_at: {sorted(set(undated))}"


@pytest.fixture
def dbsession(db):
    """The test's own view of the database; the harness renews its snapshot after each step."""
    with db.session() as session:
        yield session


@pytest.fixture
def run(complaint_runtime, dbsession):
    """Start a complaint through the runtime facade: run(**start_data_overrides) -> harness."""
    started = []

    def start(reference=REF, **overrides):
        harness = FacadeHarness.start(complaint_runtime, complaint_start_data(reference, **overrides), dbsession)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.close()


# ------------------------------------------------------------------ steps shared by the scenarios


def classify(h, category="product_quality", severity="medium", legitimacy="justified", safety=False):
    assert ("Task_Classify", "customer_service", "classify.json") in h.ready_user_tasks()
    h.complete(
        "Task_Classify",
        {"category": category, "severity": severity, "safety_issue": safety, "legitimacy": legitimacy},
    )


def investigate(
    h, department, responsibility, is_defect=False, warranty="in_warranty", root_cause="密封圈老化"
):
    task = "Task_Investigate_" + "_".join(p.capitalize() for p in department.split("_"))
    assert (task, department, "investigate.json") in h.ready_user_tasks()
    h.complete(
        task,
        {
            "findings": "核实属实 Confirmed",
            "root_cause": root_cause,
            "is_defect": is_defect,
            "responsibility": responsibility,
            "warranty_status": warranty,
        },
    )


def confirm_strategy(h, expected):
    assert h.data["strategy"] == expected
    assert h.task_properties("Task_Review_Strategy")["candidateGroup"] == "supervisor"
    h.complete("Task_Review_Strategy", {"override_strategy": False})


def choose_compensation(h, suggested, kind=None, amount=None):
    """A person chooses the compensation; the policy's figures are only a suggestion."""
    assert h.ready_user_tasks() == [("Task_Choose_Compensation", "customer_service", "choose_compensation.json")]
    assert (h.data["suggested_compensation_kind"], h.data["suggested_compensation_amount"]) == suggested
    assert h.data["compensation_amount"] is None  # nothing applied before the person decides
    kind, amount = kind or suggested[0], suggested[1] if amount is None else amount
    h.complete("Task_Choose_Compensation", {"compensation_kind": kind, "compensation_amount": amount})


def write_offer(h, text="经核实责任在我方,向您致歉并提供补偿。"):
    assert h.ready_user_tasks() == [("Task_Write_Offer", "customer_service", "compensation_answer.json")]
    h.complete("Task_Write_Offer", {"answer": text})


def quality_check(h, decision="approve", note=""):
    row = h._row("Task_Quality_Check")
    assert (row.department, row.candidate_group) == ("customer_service", "supervisor")
    assert row.not_by == h.data["answer_author"]  # four eyes: not the person who wrote it
    h.complete("Task_Quality_Check", {"qc_decision": decision, **({"qc_note": note} if note else {})})


def answer(h, decision, **extra):
    assert "customer_response" in h.waiting_messages()
    h.send_message("customer_response", {"customer_decision": decision, "comment": "", **extra})


def survey(h, score=5, resolved=True, wait=timedelta(days=3, minutes=1)):
    assert h.data["status"] == "follow_up"
    h.advance_time(wait)
    assert h.waiting_messages() == ["survey_answer"]
    assert h.data["status"] == "awaiting_survey"
    h.send_message("survey_answer", {"satisfaction_score": score, "resolved": resolved, "comment": ""})


def notifications(session, template=None):
    query = select(Notification).order_by(Notification.id)
    if template:
        query = query.where(Notification.template == template)
    return session.scalars(query).all()


def assert_closed(h, session, outcome="closed"):
    assert h.is_completed
    assert h.data["status"] == outcome
    archive = session.scalars(select(ArchiveRecord).where(ArchiveRecord.business_key == REF)).one()
    assert archive.outcome == outcome
    assert archive.snapshot["variables"]["reference"] == REF
    # The archive keeps who did each task and when: the production services read it from the audit log.
    done = session.scalars(select(HumanTask).where(HumanTask.business_key == REF, HumanTask.status == "completed")
                           .order_by(HumanTask.completed_at, HumanTask.id)).all()
    kept = archive.snapshot["history"]["tasks"]
    assert sorted(t["task"] for t in kept) == sorted(t.bpmn_id for t in done)
    assert all(t["by"] and t["at"] for t in kept)
    return archive


# ------------------------------------------------------------------ scenarios


def test_rule_based(run, dbsession):
    h = run()
    assert h.data["status"] == "acknowledged"
    ack = notifications(dbsession, "acknowledgement")
    assert len(ack) == 1 and REF in ack[0].body
    classify(h, "product_quality", "medium")
    assert (h.data["department"], h.data["priority"], h.data["sla_class"]) == ("product", "P3", "medium")
    assert h.data["respond_due"] == "2025-03-10T09:00:00+00:00"  # 5 working days
    assert h.data["status"] == "investigating"
    investigate(h, "product", "customer", warranty="out_of_warranty")
    confirm_strategy(h, "rule_based")
    # Proposed by rule_policy.dmn and shown beside the field; only the person's choice is applied.
    assert h.data["suggested_remedy"] == "paid_service" and h.data["remedy"] is None
    assert h.ready_user_tasks() == [("Task_Draft_Rule_Answer", "customer_service", "draft_rule_answer.json")]
    h.complete("Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "已过保修期,可提供付费维修。"})
    assert h.data["status"] == "awaiting_customer"
    assert notifications(dbsession, "response")[0].body == "已过保修期,可提供付费维修。"
    answer(h, "accept")
    survey(h, 5)
    assert_closed(h, dbsession)
    assert h.lanes_visited == {"customer_service", "product"}
    assert h.data["escalation_level"] == 1 and h.data["strategy"] == "rule_based"
    assert "Task_Start_Improvement" not in h.completed_ids


@pytest.fixture
@needs_shipped_model
def cold_run(db, dbsession):
    """Like `run`, but the runtime keeps no workflow in memory: every step loads from the rows."""
    runtime = build_runtime(db=db, mail=False, cache_size=0)
    started = []

    def start(reference=REF, **overrides):
        harness = FacadeHarness.start(runtime, complaint_start_data(reference, **overrides), dbsession)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.close()


def test_rule_based_loading_every_step_from_the_database(cold_run, dbsession):
    # Proves that what is written after each step is all the next step needs.
    test_rule_based(cold_run, dbsession)


def test_supervisor_overrides_the_strategy_with_a_reason(run):
    h = run()
    classify(h, "service_attitude", "low")
    investigate(h, "customer_service", "customer")
    h.complete(
        "Task_Review_Strategy",
        {"override_strategy": True, "strategy": "compensation", "override_reason": "老客户,态度问题需安抚"},
    )
    assert h.data["strategy"] == "compensation" and h.data["strategy_overridden"] is True
    assert h.ready_ids() == ["Task_Choose_Compensation"]  # inside Call_Compensation


def test_compensation_below_the_threshold(run, dbsession):
    h = run(customer_tier="standard")
    classify(h, "logistics_delivery", "medium")
    investigate(h, "after_sales", "company", warranty="not_applicable")
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("coupon", 50))
    # No approval needed: straight to the ledger, then a person writes the offer; no quality check.
    write_offer(h, "李娜您好:给您送上优惠券 ¥50.00,再次致歉。")
    assert h.data["status"] == "awaiting_customer"
    assert (h.data["compensation_kind"], h.data["compensation_amount"]) == ("coupon", 50)
    assert h.data["over_budget"] is False and h.data["remedy"] == "compensation"
    assert notifications(dbsession, "response")[0].body == "李娜您好:给您送上优惠券 ¥50.00,再次致歉。"
    assert "Task_Quality_Check" not in h.completed_ids
    entry = dbsession.scalars(select(CompensationEntry)).one()
    assert (entry.department, entry.kind, entry.amount, entry.approved_by_management) == (
        "after_sales",
        "coupon",
        Decimal("50.00"),
        False,
    )
    assert notifications(dbsession, "compensation_escalation")[0].recipient == "supervisor"
    answer(h, "accept")
    # No survey answer: customer service calls the customer.
    h.advance_time(timedelta(days=3, minutes=1))
    h.advance_time(timedelta(days=5, minutes=1))
    assert h.ready_user_tasks() == [("Task_Survey_Call", "customer_service", "survey_call.json")]
    h.complete("Task_Survey_Call", {"reached": True, "satisfaction_score": 4, "resolved": True})
    assert_closed(h, dbsession)
    assert h.data["survey_channel"] == "call"
    assert "management" not in h.lanes_visited


def test_compensation_above_the_threshold_refused_once_then_approved(run, dbsession):
    h = run(customer_tier="vip", order_value=3000)
    classify(h, "product_quality", "high")
    investigate(h, "product", "company")
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("cash", 900))
    assert (h.data["compensation_kind"], h.data["compensation_amount"]) == ("cash", 900)
    assert h.ready_user_tasks() == [("Task_Approve_Compensation", "management", "approve_compensation.json")]
    assert h.data["status"] == "awaiting_approval"
    h.complete("Task_Approve_Compensation", {"approval_decision": "refuse", "refusal_reason": "金额过高"})
    assert h.data["approved"] is False
    assert h.ready_user_tasks() == [("Task_Revise_Offer", "customer_service", "revise_compensation.json")]
    h.complete(
        "Task_Revise_Offer",
        {"compensation_kind": "refund", "compensation_amount": 600, "revision_note": "改为退款600"},
    )
    assert h.ready_ids() == ["Task_Approve_Compensation"]
    h.complete("Task_Approve_Compensation", {"approval_decision": "approve"})
    entry = dbsession.scalars(select(CompensationEntry)).one()
    assert (entry.kind, entry.amount, entry.approved_by_management) == ("refund", Decimal("600.00"), True)
    write_offer(h, "退款 ¥600.00")
    # 600 is above the approval threshold: a second person checks wording and amount before sending.
    assert h.ready_ids() == ["Task_Quality_Check"] and not notifications(dbsession, "response")
    quality_check(h, "return", note="请说明到账时间")
    assert h.ready_user_tasks() == [("Task_Revise_Answer", "customer_service", "revise_answer.json")]
    h.complete("Task_Revise_Answer", {"answer": "退款 ¥600.00,3 个工作日内到账。"})
    quality_check(h)
    assert notifications(dbsession, "response")[-1].body == "退款 ¥600.00,3 个工作日内到账。"
    assert h.data["approved"] is True and h.data["status"] == "awaiting_customer"
    # The customer does not answer in time: the response is deemed accepted.
    h.advance_time(timedelta(days=7, minutes=1))
    assert h.data["deemed_accepted"] is True
    survey(h, 4)
    assert_closed(h, dbsession)
    assert {"customer_service", "product", "management"} == h.lanes_visited


def returned_offer(h, amount=400):
    """A cash offer within authority, written and sent back by quality control (regulatory impact)."""
    h.complete("Task_Classify", {"category": "product_quality", "severity": "high", "safety_issue": False,
                                 "legitimacy": "justified", "regulatory_impact": True})
    investigate(h, "product", "company")
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("cash", 900), amount=amount)  # within the threshold: no approval
    write_offer(h, f"现金补偿 ¥{amount:.2f}")
    quality_check(h, "return", note="金额不足以弥补损失,请重新考虑")
    assert h.ready_user_tasks() == [("Task_Revise_Answer", "customer_service", "revise_answer.json")]


def ledger_entry(session):
    session.commit()
    return session.scalars(select(CompensationEntry).where(CompensationEntry.business_key == REF)).one()


def test_a_returned_answer_raises_the_amount_management_changes_it_quality_control_sees_it(run, dbsession):
    h = run(customer_tier="vip", order_value=3000)
    returned_offer(h)
    # The reviser raises the amount above the threshold: management decides it before quality control.
    h.complete("Task_Revise_Answer", {"answer": "现金补偿 ¥800.00", "compensation_kind": "cash", "compensation_amount": 800,
                                      "revision_note": "按质检意见提高补偿"})
    assert h.ready_user_tasks() == [("Task_Approve_Revised_Compensation", "management", "approve_compensation.json")]
    assert h.data["status"] == "awaiting_approval" and not notifications(dbsession, "response")
    assert (h.data["budget_spent"], h.data["over_budget"]) == (0.0, False)  # its own 400 is being replaced
    h.complete("Task_Approve_Revised_Compensation", {"approval_decision": "change_amount", "approved_amount": 700})
    # The letter says 800: the reviser rewrites it with the approved 700, which needs no second approval.
    assert h.ready_ids() == ["Task_Revise_Answer"] and h.data["compensation_amount"] == 700
    h.complete("Task_Revise_Answer", {"answer": "现金补偿 ¥700.00", "compensation_kind": "cash",
                                      "compensation_amount": 700})
    assert h.ready_ids() == ["Task_Quality_Check"] and h.data["compensation_amount"] == 700
    entry = ledger_entry(dbsession)
    assert (entry.kind, entry.amount, entry.approved_by_management) == ("cash", Decimal("700.00"), True)
    quality_check(h)
    sent = notifications(dbsession, "response")[-1]
    assert sent.body == "现金补偿 ¥700.00" and sent.payload["compensation_amount"] == 700
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)
    assert "management" in h.lanes_visited


def test_a_returned_answer_changes_the_remedy_a_refused_raise_keeps_the_decided_amount(run, dbsession):
    h = run(customer_tier="vip", order_value=3000)
    returned_offer(h)
    h.complete("Task_Revise_Answer", {"answer": "现金补偿 ¥1,200.00", "compensation_kind": "cash",
                                      "compensation_amount": 1200})
    h.complete("Task_Approve_Revised_Compensation", {"approval_decision": "refuse", "refusal_reason": "超出权限"})
    assert h.ready_ids() == ["Task_Revise_Answer"] and h.data["compensation_amount"] == 400  # the decided one
    # Instead of money the reviser offers a replacement: no approval, quality control again, no money booked.
    h.complete("Task_Revise_Answer", {"answer": "为您换新一台。", "remedy": "replace", "compensation_amount": 0})
    assert h.ready_ids() == ["Task_Quality_Check"]
    assert ledger_entry(dbsession).amount == Decimal("0.00")
    quality_check(h)
    sent = notifications(dbsession, "response")[-1]
    assert sent.body == "为您换新一台。" and sent.payload["remedy"] == "replace"
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)


def test_over_budget_compensation_needs_management_approval(run, dbsession):
    dbsession.add(DepartmentBudget(department="product", month="2025-03", amount=Decimal(1000)))
    dbsession.add(
        CompensationEntry(
            business_key="C-OLD", department="product", month="2025-03", kind="cash", amount=Decimal(980)
        )
    )
    dbsession.flush()
    h = run()
    classify(h, "product_quality", "medium")
    investigate(h, "product", "company")
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("coupon", 50))
    # 50 is well below the approval threshold, but only 20 are left in the month's budget.
    assert h.data["compensation_amount"] == 50 and h.data["over_budget"] is True
    assert h.data["budget_remaining"] == 20.0
    h.complete("Task_Approve_Compensation", {"approval_decision": "change_amount", "approved_amount": 20})
    entry = dbsession.scalars(select(CompensationEntry).where(CompensationEntry.business_key == REF)).one()
    assert entry.amount == Decimal("20.00") and entry.approved_by_management
    write_offer(h)
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)


def test_mediation_agreed_in_round_two(run, dbsession):
    h = run()
    classify(h, "sales_misrepresentation", "medium")
    investigate(h, "sales", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    proposal = {
        "company_position": "销售按话术介绍",
        "customer_position": "被告知可随时退款",
        "proposal": "退还50%服务费",
        "proposal_amount": 150,
    }
    h.complete("Task_Mediate", proposal)
    assert h.data["mediation_round"] == 1 and h.data["status"] == "awaiting_customer"
    assert notifications(dbsession, "mediation_proposal")[0].payload["round"] == 1
    answer(h, "counter", counter_proposal="退还80%")
    assert h.ready_user_tasks() == [("Task_Mediate", "customer_service", "mediation_proposal.json")]
    assert h.data["counter_proposal"] == "退还80%"
    h.complete("Task_Mediate", {**proposal, "proposal": "退还65%服务费", "proposal_amount": 195})
    answer(h, "accept")
    # Agreed with the customer already: no separate response, straight to follow-up.
    assert h.data["mediation_agreed"] is True and h.data["mediation_round"] == 2
    assert h.data["remedy"] == "settlement" and h.data["compensation_amount"] == 195
    assert "Task_Send_Response" not in h.completed_ids
    # The settlement is booked once, when the customer accepted it; within the threshold: no approval.
    entry = ledger_entry(dbsession)
    assert (entry.department, entry.kind, entry.amount, entry.approved_by_management) == (
        "sales", "cash", Decimal("195.00"), False)
    assert booked_count(dbsession) == 1
    survey(h)
    assert_closed(h, dbsession)
    assert h.lanes_visited == {"customer_service", "sales"}


def test_a_proposal_whose_amount_is_left_empty_offers_no_money(run, dbsession):
    """Round two drops the refund: the mediator empties the amount field (an API client sends null), so
    last round's 300 is neither proposed to the customer nor booked when the customer agrees."""
    h = run()
    classify(h, "sales_misrepresentation", "medium")
    investigate(h, "sales", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    h.complete("Task_Mediate", {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款",
                                "proposal": "退还服务费 ¥300.00", "proposal_amount": 300})
    answer(h, "reject")
    h.complete("Task_Mediate", {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款",
                                "proposal": "为您换新,不退款", "proposal_amount": None})
    sent = notifications(dbsession, "mediation_proposal")
    assert [n.payload["proposal_amount"] for n in sent] == [300, None]
    answer(h, "accept")
    assert h.data["mediation_agreed"] is True and not h.data.get("compensation_amount")
    assert booked_count(dbsession) == 0


def booked_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.business_key == REF, AuditEntry.action == "compensation_booked"))


def test_a_settlement_above_the_threshold_is_approved_by_management_before_it_is_proposed(run, dbsession):
    h = run()
    classify(h, "sales_misrepresentation", "medium")
    investigate(h, "sales", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    proposal = {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款",
                "proposal": "退还全部服务费 ¥800.00", "proposal_amount": 800}
    h.complete("Task_Mediate", proposal)
    # Above the threshold (500): management sees the amount before the customer does.
    assert h.ready_user_tasks() == [("Task_Approve_Settlement", "management", "approve_compensation.json")]
    assert notifications(dbsession, "mediation_proposal") == []
    h.complete("Task_Approve_Settlement", {"approval_decision": "change_amount", "approved_amount": 600})
    # Changed: the mediator rewrites the same round's proposal with the amount management allows.
    assert h.ready_user_tasks() == [("Task_Mediate", "customer_service", "mediation_proposal.json")]
    assert (h.data["mediation_round"], h.data["proposal_amount"]) == (0, 600)
    h.complete("Task_Mediate", {**proposal, "proposal": "退还服务费 ¥600.00", "proposal_amount": 600})
    sent = notifications(dbsession, "mediation_proposal")
    assert [(n.payload["round"], n.payload["proposal_amount"]) for n in sent] == [(1, 600)]  # approved: no second check
    assert booked_count(dbsession) == 0  # offered, not yet agreed
    answer(h, "accept")
    entry = ledger_entry(dbsession)
    assert (entry.kind, entry.amount, entry.approved_by_management) == ("cash", Decimal("600.00"), True)
    assert booked_count(dbsession) == 1
    survey(h)
    assert_closed(h, dbsession)
    assert booked_count(dbsession) == 1  # and never again after
    from processes.complaints.analytics_models import ComplaintFact

    assert dbsession.get(ComplaintFact, REF).paid_amount == Decimal("600.00")  # analytics' compensation paid
    assert h.lanes_visited == {"customer_service", "sales", "management"}


def test_mediation_failing_into_a_management_decision(run, dbsession):
    h = run(settings={"max_mediation_rounds": 2})
    classify(h, "technical_fault", "medium")
    assert h.data["sla_class"] == "high"  # system faults are handled one level up
    investigate(h, "technical", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    for round_no in (1, 2):
        h.complete(
            "Task_Mediate",
            {
                "company_position": "系统日志正常",
                "customer_position": "数据丢失",
                "proposal": f"方案{round_no}",
            },
        )
        answer(h, "reject")
    assert h.ready_user_tasks() == [
        ("Task_Management_Mediation_Decision", "management", "management_decision.json")
    ]
    assert h.data["status"] == "escalated"
    h.complete(
        "Task_Management_Mediation_Decision",
        {
            "decision_reason": "两轮未果,按公平原则裁决",
            "answer": "赠送一年服务",
            "remedy": "compensation",
            "compensation_kind": "points",
            "compensation_amount": 100,
        },
    )
    assert h.data["mediation_agreed"] is False
    assert notifications(dbsession, "response")[-1].body == "赠送一年服务"
    answer(h, "accept")
    # The case summary shows management's decision as the offer and as its own approval.
    complaint = dbsession.scalar(select(Complaint).where(Complaint.reference == REF))
    summary = case_summary.summarize(dbsession, complaint, Actor("boss", "management", "manager"))
    assert summary.compensation_proposed == {"kind": "points", "amount": 100}
    assert [step.task for step in summary.approvals] == ["Task_Management_Mediation_Decision"]
    survey(h)
    assert_closed(h, dbsession)
    assert h.lanes_visited == {"customer_service", "technical", "management"}


def test_mediation_without_an_answer_goes_to_management(run):
    h = run()
    classify(h, "other", "low")
    investigate(h, "customer_service", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    h.complete("Task_Mediate", {"company_position": "a", "customer_position": "b", "proposal": "c"})
    h.advance_time(timedelta(days=5, minutes=1))
    assert h.ready_ids() == ["Task_Management_Mediation_Decision"]


def rejected_rule_answer(h, severity="medium", comment=""):
    """The customer is at fault and is offered a repair under the rules; they reject it (level 2 next)."""
    classify(h, "product_quality", severity)
    investigate(h, "product", "customer")
    confirm_strategy(h, "rule_based")
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "免费维修"})
    answer(h, "reject", comment=comment)


def test_full_escalation_ladder_to_level_four(run, dbsession):
    h = run()
    rejected_rule_answer(h, "high", comment="我要换货")
    # Level 2: a senior specialist in customer service re-handles.
    assert h.ready_user_tasks() == [("Task_Senior_Rehandle", "customer_service", "senior_rehandle.json")]
    assert h.task_properties("Task_Senior_Rehandle")["candidateGroup"] == "senior"
    assert (h.data["escalation_level"], h.data["status"]) == (2, "escalated")
    h.complete(
        "Task_Senior_Rehandle", {"review_note": "维修合规", "answer": "维修并延保", "remedy": "repair"}
    )
    answer(h, "reject")
    # Level 3: product proposes options, sales makes the differentiated plan.
    assert h.ready_user_tasks() == [("Task_Product_Options", "product", "product_options.json")]
    h.complete("Task_Product_Options", {"product_options": "升级到新款", "can_replace": True})
    assert h.ready_user_tasks() == [("Task_Cross_Department_Plan", "sales", "differentiated_plan.json")]
    h.complete(
        "Task_Cross_Department_Plan", {"plan": "补差价换新款", "answer": "补差价换新款", "remedy": "replace"}
    )
    answer(h, "reject")
    # Level 4: management's final decision.
    assert h.ready_user_tasks() == [("Task_Management_Decision", "management", "management_decision.json")]
    h.complete(
        "Task_Management_Decision", {"decision_reason": "特事特办", "answer": "免费换新", "remedy": "replace"}
    )
    answer(h, "reject")
    # Management's decision is final: the complaint goes to follow-up even though rejected.
    assert h.data["escalation_level"] == 4 and h.data["status"] == "follow_up"
    survey(h, 1, False)  # still unhappy, but there is no level 5
    assert_closed(h, dbsession)
    levels = [
        (e.level, e.reason) for e in dbsession.scalars(select(EscalationRecord).order_by(EscalationRecord.id))
    ]
    assert levels == [(2, "rejected"), (3, "rejected"), (4, "rejected")]
    assert h.lanes_visited == {"customer_service", "product", "sales", "management"}


def ledger_steps(session) -> list[tuple[str, str]]:
    """(action, amount) of the ledger's audit entries for the complaint, in order."""
    from processes.engine.models import AuditEntry

    session.commit()
    return [(e.action, e.detail["amount"]) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.business_key == REF, AuditEntry.action.like("compensation_%"))
        .order_by(AuditEntry.id))]


def ladder_with_compensation(h, session, check_before_sending=None):
    """Cash 300 from the strategy, refused; the senior specialist offers 450, refused; the
    cross-department plan a replacement without money, refused; management decides cash 1,200, which
    quality control checks (`check_before_sending(h)` runs at that task), and the customer accepts.
    The product department's budget is 2,000 this month, 500 of it spent on another complaint."""
    session.add(DepartmentBudget(department="product", month="2025-03", amount=Decimal(2000)))
    session.add(CompensationEntry(business_key="C-OTHER", department="product", month="2025-03", kind="cash",
                                  amount=Decimal(500)))
    session.commit()
    classify(h, "product_quality", "high")
    investigate(h, "product", "company")
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("cash", 900), amount=300)
    write_offer(h, "现金补偿 ¥300.00")
    answer(h, "reject", comment="太少")
    # Level 2: the senior specialist raises it to 450: the complaint's entry follows, none is added.
    h.complete("Task_Senior_Rehandle", {"review_note": "补偿偏低", "answer": "现金补偿 ¥450.00", "remedy": "compensation",
                                        "compensation_kind": "cash", "compensation_amount": 450})
    assert (h.data["budget_spent"], h.data["over_budget"]) == (500.0, False)  # its own entry is being replaced
    assert ledger_entry(session).amount == Decimal("450.00")
    answer(h, "reject", comment="还是太少")
    # Level 3: a replacement and no money: the entry goes to 0.
    h.complete("Task_Product_Options", {"product_options": "升级到新款", "can_replace": True})
    h.complete("Task_Cross_Department_Plan", {"plan": "换新款", "answer": "为您换新款。", "remedy": "replace",
                                              "compensation_amount": 0})
    assert ledger_entry(session).amount == Decimal("0.00")
    answer(h, "reject", comment="我要现金")
    # Level 4: management decides 1,200, above the threshold: quality control sees it before it is sent.
    h.complete("Task_Management_Decision", {"decision_reason": "长期客户,特事特办", "answer": "现金补偿 ¥1,200.00",
                                            "remedy": "compensation", "compensation_kind": "cash",
                                            "compensation_amount": 1200})
    assert h.ready_ids() == ["Task_Quality_Check"] and ledger_entry(session).amount == Decimal("0.00")
    assert (h.data["budget_spent"], h.data["budget_limit"]) == (500.0, 2000.0)
    if check_before_sending:
        check_before_sending(h)
    quality_check(h)
    entry = ledger_entry(session)
    assert (entry.department, entry.month, entry.kind, entry.amount, entry.approved_by_management) == (
        "product", "2025-03", "cash", Decimal("1200.00"), True)
    assert notifications(session, "response")[-1].payload["compensation_amount"] == 1200
    answer(h, "accept")


def test_compensation_on_the_escalation_ladder_is_booked_once_and_follows_each_answer(run, dbsession):
    h = run(customer_tier="vip", order_value=3000)
    ladder_with_compensation(h, dbsession)
    # One entry for the complaint, booked once and corrected at each answer, each step in the audit log.
    assert ledger_steps(dbsession) == [("compensation_booked", "300.00"), ("compensation_corrected", "450.00"),
                                       ("compensation_corrected", "0.00"), ("compensation_corrected", "1200.00")]
    assert dbsession.scalar(select(func.sum(CompensationEntry.amount)).where(
        CompensationEntry.department == "product", CompensationEntry.month == "2025-03")) == Decimal("1700.00")
    survey(h, 4)
    assert_closed(h, dbsession)
    from processes.complaints.analytics_models import ComplaintFact

    assert dbsession.get(ComplaintFact, REF).paid_amount == Decimal("1200.00")  # accepted: paid


def test_the_ladders_compensation_is_booked_without_a_strategy_entry(run, dbsession):
    """A rule-based answer has no entry; the senior specialist's coupon is the complaint's first booking."""
    h = run()
    rejected_rule_answer(h, comment="修了三次了")
    assert not dbsession.scalars(select(CompensationEntry)).all()
    h.complete("Task_Senior_Rehandle", {"review_note": "致歉", "answer": "维修并补偿优惠券 ¥80.00", "remedy": "repair",
                                        "compensation_kind": "coupon", "compensation_amount": 80})
    entry = ledger_entry(dbsession)
    assert (entry.kind, entry.amount, entry.approved_by_management) == ("coupon", Decimal("80.00"), False)
    assert "level 2" in entry.note and h.data["compensation_issued"] is True
    assert ledger_steps(dbsession) == [("compensation_booked", "80.00")]
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)
    from processes.complaints.analytics_models import ComplaintFact

    assert dbsession.get(ComplaintFact, REF).paid_amount == Decimal("80.00")  # money given with a repair is paid


def test_an_escalated_answer_over_budget_is_checked_before_it_is_sent(run, dbsession):
    dbsession.add(DepartmentBudget(department="product", month="2025-03", amount=Decimal(100)))
    dbsession.commit()
    h = run()
    rejected_rule_answer(h)
    # 150 is below the approval threshold but over the 100 left: a second person checks it first.
    h.complete("Task_Senior_Rehandle", {"review_note": "补偿", "answer": "补偿 ¥150.00", "remedy": "compensation",
                                        "compensation_kind": "cash", "compensation_amount": 150})
    assert h.data["over_budget"] is True and h.ready_ids() == ["Task_Quality_Check"]
    assert not dbsession.scalars(select(CompensationEntry)).all()
    assert len(notifications(dbsession, "response")) == 1  # the first answer only
    quality_check(h)
    assert ledger_entry(dbsession).amount == Decimal("150.00")


def test_sla_breach_fired_by_the_worker(run, dbsession):
    h = run()
    classify(h, "product_quality", "medium")
    assert h.waiting_timers() == ["调查时限已到"]
    h.advance_time(timedelta(days=8))  # past the 5 working days to respond
    breach = dbsession.scalars(select(EscalationRecord)).one()
    assert (breach.reason, breach.level, breach.task) == ("sla_breach", 1, "Task_Record_SLA_Breach")
    alert = notifications(dbsession, "sla_breach")
    assert [(n.recipient_type, n.recipient) for n in alert] == [("department", "management")]
    assert ("Task_Record_SLA_Breach", "management") in h.completed
    # The overdue work stays completable and the complaint carries on.
    assert h.ready_ids() == ["Task_Investigate_Product"]
    investigate(h, "product", "customer")
    confirm_strategy(h, "rule_based")
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "维修"})
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)


def test_sla_breach_before_classification(run, dbsession):
    h = run()
    h.advance_time(timedelta(days=6))  # 3 working days to accept
    assert dbsession.scalars(select(EscalationRecord)).one().reason == "sla_breach"
    assert h.ready_ids() == ["Task_Classify"]


def test_dissatisfied_survey_reopens_into_the_escalation_ladder(run, dbsession):
    h = run()
    classify(h, "after_sales_repair", "low")
    investigate(h, "after_sales", "customer", warranty="in_warranty")
    confirm_strategy(h, "rule_based")
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "上门维修"})
    answer(h, "accept")
    survey(h, 2, True)
    assert (h.data["escalation_level"], h.data["status"]) == (2, "escalated")
    assert h.ready_ids() == ["Task_Senior_Rehandle"]
    h.complete(
        "Task_Senior_Rehandle", {"review_note": "维修不彻底", "answer": "更换主板", "remedy": "repair"}
    )
    answer(h, "accept")
    survey(h, 5, True)
    assert_closed(h, dbsession)
    assert [e.reason for e in dbsession.scalars(select(EscalationRecord))] == ["survey_dissatisfied"]


def test_unjustified_complaint_gets_an_explanation_without_investigation(run, dbsession):
    h = run()
    classify(h, "price_billing", "low", legitimacy="unjustified")
    assert h.ready_user_tasks() == [("Task_Draft_Explanation", "customer_service", "explanation.json")]
    h.complete(
        "Task_Draft_Explanation", {"answer": "价格按活动规则计算,详见条款", "policy_reference": "活动规则"}
    )
    assert h.data["remedy"] == "explanation"
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)
    assert h.lanes_visited == {"customer_service"}
    assert not [i for i in h.completed_ids if i.startswith(("Task_Investigate", "Call_"))]


def test_incomplete_complaint_completed_by_the_customer(run, dbsession):
    h = run(description=None, remedy_sought="")
    assert h.data["status"] == "awaiting_details"
    assert h.data["missing_fields"] == ["description", "remedy_sought"]
    assert h.waiting_messages() == ["customer_details"]
    request = notifications(dbsession, "request_details")[0]
    assert request.payload["missing_fields"] == ["description", "remedy_sought"]
    assert not notifications(dbsession, "acknowledgement")
    h.send_message("customer_details", {"description": "烧水时跳闸", "remedy_sought": "退货"})
    assert h.data["description"] == "烧水时跳闸" and h.data["status"] == "acknowledged"
    assert h.ready_ids() == ["Task_Classify"]


def test_incomplete_complaint_closed_as_incomplete(run, dbsession):
    h = run(customer_phone=None, customer_email=None)
    assert h.data["missing_fields"] == ["contact"]
    h.advance_time(timedelta(days=7, minutes=1))
    assert_closed(h, dbsession, "closed_incomplete")
    assert h.completed_ids[-1] == "EndEvent_Closed_Incomplete"


def test_phone_complaint_is_registered_by_an_agent(run):
    h = run(channel="phone", subject="", description="", remedy_sought=None)
    assert h.ready_user_tasks() == [("Task_Register", "customer_service", "register.json")]
    h.complete(
        "Task_Register",
        {
            "customer_name": "李雷",
            "customer_phone": "13900139000",
            "subject": "空调不制冷",
            "description": "安装后第二天不制冷",
            "remedy_sought": "上门维修",
        },
    )
    assert h.data["complete"] is True and h.ready_ids() == ["Task_Classify"]


def test_critical_safety_complaint(run, dbsession):
    h = run()
    classify(h, "product_quality", "low", safety=True)
    assert (h.data["severity"], h.data["priority"]) == ("critical", "P1")
    alert = notifications(dbsession, "critical_complaint")
    assert [(n.recipient_type, n.recipient) for n in alert] == [("department", "management")]
    assert ("Task_Notify_Critical", "management") in h.completed
    assert h.data["respond_due"] == "2025-03-04T09:00:00+00:00"  # 1 working day
    investigate(h, "product", "company", is_defect=True)
    confirm_strategy(h, "compensation")
    choose_compensation(h, ("cash", 300))
    write_offer(h)  # 300 is within the threshold and the budget: no approval, no quality check
    assert h.ready_ids() == []
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)


def test_defect_starts_an_improvement_action_without_holding_the_complaint(run, dbsession):
    h = run()
    classify(h, "product_quality", "medium")
    investigate(h, "product", "customer", is_defect=True, root_cause="温控器批次缺陷")
    confirm_strategy(h, "rule_based")
    h.complete("Task_Draft_Rule_Answer", {"remedy": "replace", "answer": "换货"})
    answer(h, "accept")
    survey(h)
    assert_closed(h, dbsession)
    action = dbsession.scalars(select(ImprovementAction)).one()
    assert (action.department, action.root_cause, action.status) == ("product", "温控器批次缺陷", "open")
    child = dbsession.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "improvement_action")).one()
    assert (child.business_key, child.parent_instance_id) == (REF, h.instance_id)

    # The improvement action runs as its own process in the owner's lane.
    with FacadeHarness.attach(h.runtime, dbsession, REF, "improvement_action", h._clock) as ia:
        assert ia.ready_user_tasks() == [("Task_Improve_Product", "product", "improvement_action.json")]
        ia.advance_time(timedelta(days=31))
        assert [n.recipient for n in notifications(dbsession, "improvement_overdue")] == ["management"]
        ia.complete("Task_Improve_Product", {"action_taken": "更换温控器供应商", "verified": True})
        assert ia.is_completed
    dbsession.refresh(action)
    assert action.status == "done" and action.action_taken == "更换温控器供应商"


def test_duplicate_flagged_and_closed(run, dbsession):
    dbsession.add(
        Complaint(
            reference="C-2025-0000",
            channel="phone",
            customer_phone="13800138000",
            subject="电水壶底座漏水",
            order_number="SO-88001",
            received_at=DEFAULT_START - timedelta(days=5),
        )
    )
    dbsession.add(
        Complaint(reference=REF, channel="web", customer_phone="13800138000", subject="电水壶底座漏电")
    )
    dbsession.flush()
    h = run()
    classify(h, "product_quality", "medium")
    assert h.data["duplicate_of"] == "C-2025-0000"
    own = dbsession.scalars(select(Complaint).where(Complaint.reference == REF)).one()
    assert own.duplicate_of == "C-2025-0000"
    assert h.ready_user_tasks() == [("Task_Review_Duplicate", "customer_service", "review_duplicate.json")]
    h.complete("Task_Review_Duplicate", {"is_duplicate": True, "duplicate_note": "同一订单重复来电"})
    assert_closed(h, dbsession, "closed_duplicate")
    assert own.closed_at is not None
    # Confirmed: linked to the original, and the customer is told the original's reference (issue 12).
    dbsession.refresh(own)
    assert own.duplicate_of == "C-2025-0000" and own.duplicate_confirmed_by
    [told] = notifications(dbsession, "duplicate_closed")
    assert told.recipient_type == "customer" and told.payload["original"] == "C-2025-0000"


def test_duplicate_suspected_but_not_confirmed_carries_on(run, dbsession):
    dbsession.add(
        Complaint(
            reference="C-2025-0000",
            channel="phone",
            customer_phone="13800138000",
            subject="其他问题",
            product="电水壶 K-200",
            received_at=DEFAULT_START - timedelta(days=2),
        )
    )
    dbsession.flush()
    h = run()
    classify(h)
    h.complete("Task_Review_Duplicate", {"is_duplicate": False})
    assert h.ready_ids() == ["Task_Investigate_Product"]


def test_a_failing_handler_leaves_the_instance_at_its_service_task(run, dbsession, monkeypatch):
    from processes.engine import handlers as registry

    h = run()
    classify(h, "product_quality", "medium")
    investigate(h, "product", "customer")
    confirm_strategy(h, "rule_based")
    real_notify = registry.get_handler("notify")

    def mail_server_down(ctx):
        raise HandlerError("the notification service did not answer")

    monkeypatch.setitem(registry._HANDLERS, "notify", mail_server_down)
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "维修"})
    assert h.errors == ["Task_Send_Response"]
    instance = dbsession.get(ProcessInstance, h.instance_id)
    assert instance.status == "error" and "did not answer" in instance.error
    assert h.data.get("status") != "awaiting_customer"
    # Once the service is back, a retry carries on from the failed step.
    monkeypatch.setitem(registry._HANDLERS, "notify", real_notify)
    assert h.runtime.retry(h.instance_id) == "running"
    dbsession.commit()
    assert h.errors == [] and h.data["status"] == "awaiting_customer"


def test_start_data_contract():
    data = complaint_start_data()
    assert {"reference", "channel", "received_at", "settings"} <= set(data)
    assert datetime.fromisoformat(data["received_at"]).tzinfo == UTC


# ------------------------------------------------------------------ breach timers to the minute
# Each breach timer fires at its deadline and not a minute before (test clock).

MINUTE = timedelta(minutes=1)


def sla_breaches(session) -> int:
    return session.scalar(select(func.count()).select_from(EscalationRecord)
                          .where(EscalationRecord.reason == "sla_breach"))


def step_to(h, moment: datetime) -> None:
    h.advance_time(moment - datetime.now(UTC))


def fires_exactly_at(h, session, deadline: datetime) -> None:
    """Not fired a second before the deadline (so neither a minute before: a timer due then fires at the
    first step past it), fired a second after."""
    before = sla_breaches(session)
    step_to(h, deadline - timedelta(seconds=1))
    assert sla_breaches(session) == before, f"fired before {deadline.isoformat()}"
    step_to(h, deadline + timedelta(seconds=1))
    assert sla_breaches(session) == before + 1, f"did not fire at {deadline.isoformat()}"


# Each profile's deadlines for a medium complaint received Monday 3 March 2025 09:00 UTC, counted by hand
# (test_sla_pinned.py pins the limits themselves). FCA counts in London and CFPB in New York, in local wall
# time: both cross their change to summer time. SAMR's 45 working days run over China's 2025 Labour Day
# (1-5 May off, Sunday 27 April worked).
BREACH_DUE = {
    #           accept             respond            resolve            mediation
    "default": ("2025-03-06T09:00", "2025-03-10T09:00", "2025-03-13T09:00", "2025-04-15T09:00"),
    "SAMR": ("2025-03-12T09:00", "2025-03-10T09:00", "2025-03-13T09:00", "2025-05-08T09:00"),
    "CBIRC": ("2025-03-06T09:00", "2025-03-10T09:00", "2025-03-18T09:00", "2025-04-15T09:00"),
    "FCA": ("2025-03-06T09:00", "2025-03-06T09:00", "2025-04-28T08:00", "2025-04-14T08:00"),
    "CFPB": ("2025-03-06T09:00", "2025-03-18T08:00", "2025-05-02T08:00", "2025-04-14T08:00"),
}


def due(profile: str, stage: str) -> datetime:
    index = ("accept", "respond", "resolve", "mediation").index(stage)
    return datetime.fromisoformat(BREACH_DUE[profile][index]).replace(tzinfo=UTC)


@pytest.fixture(params=list(BREACH_DUE))
def sla_profile(request):
    """Each breach timer runs under every SLA profile, the complaint's own (from its settings)."""
    return request.param


def test_the_acceptance_breach_fires_at_its_deadline_and_not_before(run, dbsession, sla_profile):
    h = run(settings={"sla_profile": sla_profile})  # not yet classified: medium
    fires_exactly_at(h, dbsession, due(sla_profile, "accept"))


def test_the_investigation_breach_fires_at_the_respond_deadline_and_not_before(run, dbsession, sla_profile):
    h = run(settings={"sla_profile": sla_profile})
    classify(h, "product_quality", "medium")
    assert datetime.fromisoformat(h.data["respond_due"]) == due(sla_profile, "respond")
    fires_exactly_at(h, dbsession, due(sla_profile, "respond"))


def test_the_resolve_breach_fires_at_the_resolve_deadline_and_not_before(run, dbsession, sla_profile):
    h = run(settings={"sla_profile": sla_profile})
    classify(h, "product_quality", "medium")
    assert datetime.fromisoformat(h.data["resolve_due"]) == due(sla_profile, "resolve")  # not mediation's limit
    investigate(h, "product", "customer", warranty="out_of_warranty")
    confirm_strategy(h, "rule_based")
    fires_exactly_at(h, dbsession, due(sla_profile, "resolve"))


def test_the_mediation_limit_breach_fires_at_its_deadline_and_not_before(run, dbsession, sla_profile):
    h = run(settings={"sla_profile": sla_profile})
    classify(h, "sales_misrepresentation", "medium")
    assert datetime.fromisoformat(h.data["mediation_due"]) == due(sla_profile, "mediation")
    investigate(h, "sales", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    fires_exactly_at(h, dbsession, due(sla_profile, "mediation"))


# ------------------------------------------------------------------ waits to the minute
# Each wait the process sets (settings durations and the mediation limit) is due exactly when the settings
# say, does not fire a minute before, and fires at it.


def waiting_timer(h, session, bpmn_id: str) -> Timer:
    rows = session.scalars(select(Timer).where(Timer.instance_id == h.instance_id, Timer.status == "waiting")).all()
    found = [t for t in rows if t.bpmn_id == bpmn_id]
    assert found, f"no waiting timer {bpmn_id}; waiting: {sorted(t.bpmn_id for t in rows)}"
    return found[0]


def waits_exactly(h, session, bpmn_id: str, wait: timedelta) -> None:
    start = datetime.now(UTC)  # the test clock: the wait began at this step
    timer = waiting_timer(h, session, bpmn_id)
    assert timer.due_at == start + wait
    step_to(h, start + wait - MINUTE)
    assert session.get(Timer, timer.id).status == "waiting", f"{bpmn_id} fired a minute early"
    step_to(h, start + wait + timedelta(seconds=1))
    assert session.get(Timer, timer.id).status == "fired", f"{bpmn_id} did not fire at its time"


def test_the_missing_details_wait_is_seven_days_to_the_minute(run, dbsession):
    h = run(customer_phone=None, customer_email=None)
    waits_exactly(h, dbsession, "Gateway_Await_Details", timedelta(days=7))
    assert h.data["status"] == "closed_incomplete"


def test_the_response_wait_then_the_follow_up_wait_then_the_survey_wait_to_the_minute(run, dbsession):
    h = run()
    classify(h, "product_quality", "medium")
    investigate(h, "product", "customer", warranty="out_of_warranty")
    confirm_strategy(h, "rule_based")
    h.complete("Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "已过保修期,可提供付费维修。"})
    waits_exactly(h, dbsession, "Gateway_Await_Response", timedelta(days=7))  # deemed accepted
    waits_exactly(h, dbsession, "Event_Follow_Up_Wait", timedelta(days=3))
    waits_exactly(h, dbsession, "Gateway_Await_Survey", timedelta(days=5))
    assert h.ready_ids() == ["Task_Survey_Call"]


def test_the_mediation_answer_wait_and_the_mediation_limit_to_the_minute(run, dbsession):
    h = run()
    classify(h, "sales_misrepresentation", "medium")
    # 30 working days after Monday 3 March 2025, counted by hand: Qingming (4 April) is a holiday.
    assert h.data["mediation_due"] == "2025-04-15T09:00:00+00:00"
    investigate(h, "sales", "unclear", warranty="not_applicable")
    confirm_strategy(h, "fuzzy_mediation")
    h.complete("Task_Mediate", {"company_position": "a", "customer_position": "b", "proposal": "c"})
    waits_exactly(h, dbsession, "Gateway_Await_Mediation", timedelta(days=5))
    assert h.ready_ids() == ["Task_Management_Mediation_Decision"]
    fires_exactly_at(h, dbsession, datetime.fromisoformat(h.data["mediation_due"]))
