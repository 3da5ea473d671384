"""The case summary: what a person needs to know about a complaint before deciding anything.

Built from what is already recorded, without loading the workflow: the complaint record, the
audit log (every task completed with its data and who did it, every customer message), the
customer notifications (proposals and answers as sent), the escalation records, the ledger and
the open tasks' deadlines. Personal fields in recorded data are masked for those who may not
see them (`privacy.mask_data`). The web layer shows it as one partial on every task page and on
the complaint file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.privacy import mask_data
from processes.complaints.records import CompensationEntry, Complaint, EscalationRecord, Notification
from processes.engine.actors import Actor
from processes.engine.models import AuditEntry, HumanTask

INVESTIGATIONS = {
    "Task_Investigate_Customer_Service": "customer_service", "Task_Investigate_Sales": "sales",
    "Task_Investigate_Product": "product", "Task_Investigate_Technical": "technical",
    "Task_Investigate_After_Sales": "after_sales",
}
PROPOSAL_TEMPLATES = ("mediation_proposal", "response")
# Tasks whose form proposes a remedy or an amount (the strategies' and the ladder's).
PROPOSING_TASKS = ("Task_Draft_Rule_Answer", "Task_Draft_Explanation", "Task_Mediate", "Task_Revise_Answer",
                   "Task_Senior_Rehandle", "Task_Cross_Department_Plan", "Task_Management_Decision",
                   "Task_Management_Mediation_Decision", "Task_Revise_Offer")
# Management deciding the remedy itself: its amount needs no further approval.
MANAGEMENT_DECISIONS = ("Task_Management_Decision", "Task_Management_Mediation_Decision")
# Tasks where a person decides an amount of compensation (the proposed figure falls back on the latest).
AMOUNT_TASKS = (*PROPOSING_TASKS, "Task_Choose_Compensation")
APPROVING_TASKS = ("Task_Approve_Compensation", "Task_Approve_Revised_Compensation", "Task_Approve_Settlement")
# The customer did not answer in time: the answer sent counts as accepted. The audit log names the
# timer of an event-based gateway by the gateway.
DEEMED_ACCEPTED_TIMERS = ("Gateway_Await_Response", "Event_Response_Timeout")


@dataclass
class Step:
    """One thing a person did, with what they entered."""

    task: str
    by: str
    at: datetime
    data: dict


@dataclass
class Proposal:
    at: datetime
    kind: str  # mediation_proposal | response
    text: str
    amount: Any
    round: Any
    answer: dict | None = None  # the customer's decision, comment, counter-proposal
    answered_at: datetime | None = None


@dataclass
class Clock:
    task_id: str
    bpmn_id: str
    name: str
    due_at: datetime
    created_at: datetime


@dataclass
class CaseSummary:
    classification: Step | None = None
    findings: list[tuple[str, Step]] = field(default_factory=list)  # (department, step)
    strategy: str | None = None
    strategy_review: Step | None = None
    proposals: list[Proposal] = field(default_factory=list)
    decisions: list[Step] = field(default_factory=list)  # remedies and amounts people proposed or decided
    approvals: list[Step] = field(default_factory=list)
    escalations: list[EscalationRecord] = field(default_factory=list)
    compensation_proposed: dict | None = None  # {"kind", "amount"} from the process's data, when known
    booked: list[CompensationEntry] = field(default_factory=list)  # the ledger: what the budget counts
    accepted: bool = False  # the customer accepted (or is deemed to accept) the last answer sent
    clocks: list[Clock] = field(default_factory=list)
    resolve_due: datetime | None = None
    survey: dict | None = None

    @property
    def booked_total(self) -> Decimal:
        return sum((Decimal(e.amount) for e in self.booked), Decimal(0))

    @property
    def paid_total(self) -> Decimal | None:
        """Booked compensation counts as paid once the customer accepted the answer that carried it,
        as in the analytics; None while nothing is booked or the customer has not accepted."""
        return self.booked_total if self.accepted and self.booked_total else None


def summarize(session: Session, complaint: Complaint, who: Actor, history: list[AuditEntry] | None = None,
              facts: dict | None = None, resolve_due: datetime | None = None) -> CaseSummary:
    """The summary of `complaint` as `who` may see it. `history`: its audit entries if already read;
    `facts`: the process data of an open task, if the caller has it (for amounts the policy proposed)."""
    reference = complaint.reference
    if history is None:
        history = list(session.scalars(select(AuditEntry).where(AuditEntry.business_key == reference)
                                       .order_by(AuditEntry.id)))
    summary = CaseSummary(strategy=complaint.strategy, resolve_due=resolve_due)
    answers: list[tuple[datetime, dict]] = []
    amounts: list[Step] = []  # steps where a person set an amount
    deemed_at: datetime | None = None
    for entry in history:
        detail = entry.detail or {}
        data = mask_data(detail.get("data") or {}, who)
        if entry.action == "task_completed":
            step = Step(str(detail.get("task") or ""), entry.actor, entry.at, data)
            if step.task == "Task_Classify":
                summary.classification = step
            elif step.task in INVESTIGATIONS:
                summary.findings.append((INVESTIGATIONS[step.task], step))
            elif step.task == "Task_Review_Strategy":
                summary.strategy_review = step
            elif step.task in APPROVING_TASKS:
                summary.approvals.append(step)
            elif step.task in PROPOSING_TASKS:
                summary.decisions.append(step)
            elif step.task == "Task_Survey_Call" and data.get("satisfaction_score") is not None:
                summary.survey = {**data, "at": entry.at, "by": entry.actor}
            if step.task in AMOUNT_TASKS and "compensation_amount" in data:
                amounts.append(step)
            if (step.task == "Task_Quality_Check" and data.get("qc_decision") == "approve") or (
                    step.task in MANAGEMENT_DECISIONS and data.get("compensation_amount")):
                summary.approvals.append(step)  # a second person's check, or management deciding itself
        elif entry.action == "message_received":
            if detail.get("message") == "customer_response":
                answers.append((entry.at, data))
            elif detail.get("message") == "survey_answer":
                summary.survey = {**data, "at": entry.at, "by": "customer"}
        elif entry.action == "timer_fired" and detail.get("timer") in DEEMED_ACCEPTED_TIMERS:
            deemed_at = entry.at
    notes = session.scalars(select(Notification).where(
        Notification.business_key == reference, Notification.recipient_type == "customer",
        Notification.template.in_(PROPOSAL_TEMPLATES)).order_by(Notification.id))
    for note in notes:
        payload = note.payload or {}
        summary.proposals.append(Proposal(
            at=note.created_at, kind=note.template, text=note.body or payload.get("proposal") or "",
            amount=payload.get("proposal_amount") or payload.get("compensation_amount"), round=payload.get("round")))
    _pair_answers(summary.proposals, answers)
    summary.escalations = list(session.scalars(select(EscalationRecord).where(
        EscalationRecord.business_key == reference).order_by(EscalationRecord.at)))
    summary.booked = list(session.scalars(select(CompensationEntry).where(
        CompensationEntry.business_key == reference).order_by(CompensationEntry.created_at)))
    summary.accepted = _last_answer_accepted(summary.proposals, deemed_at)
    latest = (facts if facts and "compensation_amount" in facts else amounts[-1].data if amounts else {})
    if latest.get("compensation_amount"):
        summary.compensation_proposed = {"kind": latest.get("compensation_kind"),
                                         "amount": latest.get("compensation_amount")}
    for task in session.scalars(select(HumanTask).where(HumanTask.business_key == reference,
                                                        HumanTask.status == "open",
                                                        HumanTask.due_at.is_not(None))
                                .order_by(HumanTask.due_at)):
        summary.clocks.append(Clock(task.id, task.bpmn_id, task.name, task.due_at, task.created_at))
    return summary


def accepted_references(session: Session, references: list[str]) -> set[str]:
    """The complaints among `references` whose customer accepted (or is deemed to accept) the last
    answer sent, decided as the summary decides it; three queries for the whole list."""
    proposals: dict[str, list[Proposal]] = {r: [] for r in references}
    answers: dict[str, list[tuple[datetime, dict]]] = {r: [] for r in references}
    deemed: dict[str, datetime] = {}
    for note in session.scalars(select(Notification).where(
            Notification.business_key.in_(references), Notification.recipient_type == "customer",
            Notification.template.in_(PROPOSAL_TEMPLATES)).order_by(Notification.id)):
        proposals[note.business_key].append(Proposal(note.created_at, note.template, "", None, None))
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.business_key.in_(references),
            AuditEntry.action.in_(("message_received", "timer_fired"))).order_by(AuditEntry.id)):
        detail = entry.detail or {}
        if entry.action == "message_received" and detail.get("message") == "customer_response":
            answers[entry.business_key].append((entry.at, detail.get("data") or {}))
        elif entry.action == "timer_fired" and detail.get("timer") in DEEMED_ACCEPTED_TIMERS:
            deemed[entry.business_key] = entry.at
    accepted = set()
    for reference in references:
        _pair_answers(proposals[reference], answers[reference])
        if _last_answer_accepted(proposals[reference], deemed.get(reference)):
            accepted.add(reference)
    return accepted


def _last_answer_accepted(proposals: list[Proposal], deemed_at: datetime | None) -> bool:
    """The last answer or mediation proposal sent was accepted (a settlement is accepted so); only
    an answer is deemed accepted when the customer does not reply in time."""
    if not proposals:
        return False
    last = proposals[-1]
    if last.answer is not None:
        return last.answer.get("customer_decision") == "accept"
    return last.kind == "response" and deemed_at is not None and deemed_at >= last.at


def _pair_answers(proposals: list[Proposal], answers: list[tuple[datetime, dict]]) -> None:
    """Each customer answer belongs to the latest proposal sent before it, never to one older than the
    proposal the previous answer belonged to. Proposals sent at the same instant (a clock that stands
    still, as in the tests) are answered in the order they were sent."""
    last = -1
    for at, data in answers:
        candidates = [i for i, p in enumerate(proposals) if i > last and p.at <= at]
        if candidates:
            last = max(candidates, key=lambda i: (proposals[i].at, -i))
            proposals[last].answer, proposals[last].answered_at = data, at
