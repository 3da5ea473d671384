"""The task page's part for answers to the customer and for the approvals of them.

An answering task opens with its draft from the template library, previews the letter as the
customer will get it, and completes with the filled text (processes/channels/answers.py). An
approval (compensation, quality control) shows what is being approved: the proposal and the
amount, the department's budget this month, the findings and what the customer asked for.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from processes.channels.answers import AnswerDesk, answer_fields
from processes.engine.models import HumanTask
from web.context import database, runtime

# Tasks that approve something, and what they approve.
APPROVALS = {"Task_Approve_Compensation": "compensation", "Task_Approve_Revised_Compensation": "compensation",
             "Task_Approve_Settlement": "settlement", "Task_Quality_Check": "answer"}
NOT_BY_ERROR = "_not_by"


def _desk(session, row: HumanTask) -> AnswerDesk:
    return AnswerDesk(session, row.business_key, runtime().task_data(row.id))


def with_drafts(row: HumanTask, schema: dict | None, values: dict) -> dict:
    """The values the process knows, with each answer that starts from a template started from it:
    a new answer is not the last one (which the customer may just have rejected)."""
    if row.status != "open" or not answer_fields(schema):
        return values
    with database().session() as s:
        drafts = _desk(s, row).drafts(schema)
    return {**values, **drafts}


def fill(row: HumanTask, schema: dict | None, data: dict, final: bool = True) -> tuple[dict, dict[str, str]]:
    """The data with the answers' placeholders filled, and errors (translated) beside the fields;
    `final` when it is to be sent (a preview may still hold the template's instructions)."""
    fields = answer_fields(schema)
    if not fields:
        return data, {}
    errors = {name: _("Write the answer to the customer; an empty answer is never sent.")
              for name in fields if name in (schema.get("required") or []) and not str(data.get(name) or "").strip()}
    with database().session() as s:
        filled, problems = _desk(s, row).fill(schema, data, final)
    errors.update({name: _(template, **params) for name, (template, params) in problems.items()})
    return filled, errors


def panel(row: HumanTask, schema: dict | None, values: dict, preview: bool) -> dict:
    """What the page shows beside the form: the preview of the answer and the approval's facts."""
    out: dict = {"answer_fields": bool(answer_fields(schema)), "preview": None, "approval": None, "reply": None,
                 "returned": None}
    kind = APPROVALS.get(row.bpmn_id)
    if row.status != "open" or (not out["answer_fields"] and kind is None):
        return out
    data = runtime().task_data(row.id)
    if out["answer_fields"] and (data.get("customer_comment") or data.get("counter_proposal")):
        # The next answer is written with the customer's last reply in view.
        out["reply"] = {"decision": data.get("customer_decision"), "comment": data.get("customer_comment"),
                        "counter": data.get("counter_proposal")}
    if out["answer_fields"] and data.get("qc_decision") == "return":
        # A revision is written with what quality control asked for in view.
        out["returned"] = {"note": data.get("qc_note"), "by": data.get("quality_checker")}
    if not preview and kind is None:
        return out
    with database().session() as s:
        desk = AnswerDesk(s, row.business_key, data)
        if out["answer_fields"] and preview:
            filled, problems = desk.fill(schema, values, final=False)
            name, ui = next(iter(answer_fields(schema).items()))
            if name not in problems and str(filled.get(name) or "").strip():
                out["preview"] = desk.preview(filled[name], values, ui)
        if kind is not None:
            out["approval"] = _approval(kind, data, desk)
    return out


def _approval(kind: str, data: dict, desk: AnswerDesk) -> dict:
    """The facts an approver decides on, from the process data the earlier steps wrote."""
    settlement = kind == "settlement"  # a mediation proposal's amount, before it is sent
    amount = data.get("proposal_amount") if settlement else data.get("compensation_amount")
    limit, spent = data.get("budget_limit"), data.get("budget_spent")
    left_after = None
    if limit is not None and amount is not None:
        left_after = Decimal(str(limit)) - Decimal(str(spent or 0)) - Decimal(str(amount))
    complaint = desk.complaint
    facts = {
        "kind": kind,
        "compensation_kind": "cash" if settlement else data.get("compensation_kind"),
        "amount": amount,
        "suggested_kind": data.get("suggested_compensation_kind"),
        "suggested_amount": data.get("suggested_compensation_amount"),
        "choice_note": data.get("choice_note") or data.get("revision_note"),
        "department": data.get("department"),
        "budget_month": data.get("budget_month"),
        "budget_limit": limit,
        "budget_spent": spent,
        "budget_left_after": left_after,
        "over_budget": data.get("over_budget"),
        "findings": data.get("findings"),
        "root_cause": data.get("root_cause"),
        "responsibility": data.get("responsibility"),
        "warranty_status": data.get("warranty_status"),
        "demand": complaint.remedy_sought if complaint else data.get("remedy_sought"),
        "customer_comment": data.get("customer_comment"),
        "counter_proposal": data.get("counter_proposal"),
        "regulatory_impact": data.get("regulatory_impact"),
        "author": data.get("answer_author"),
        "answer": None,
        "proposal": data.get("proposal") if settlement else None,
    }
    if kind == "answer" and data.get("answer"):
        facts["answer"] = desk.preview(data["answer"], {})
    return facts
