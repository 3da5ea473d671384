"""Service-task handlers of the complaint process (bpmn/complaint.bpmn and its strategies).

Each handler is `fn(ctx) -> dict`: it reads `ctx.data` (the task data) and
`ctx.params` (the evaluated serviceTaskOperator parameters), writes through
`ctx.session` when it needs the database, and returns the process variables it
sets. A handler that cannot do its job raises HandlerError; the runtime then
leaves the instance at the service task, visible and retryable, and the
transaction's writes are rolled back.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import func, select

from processes.complaints import duplicates, ledger
from processes.complaints.records import (
    RECIPIENT_TYPES,
    ArchiveRecord,
    CompensationEntry,
    Complaint,
    DepartmentBudget,
    EscalationRecord,
    ImprovementAction,
    Notification,
    complaint_by_reference,
)
from processes.engine import audit
from processes.engine.handlers import HandlerError, handler
from processes.engine.models import AuditEntry

# Fields of the complaint record a customer may supply later (customer_details message).
COMPLAINT_FIELDS = (
    "customer_name",
    "customer_phone",
    "customer_email",
    "customer_address",
    "customer_tier",
    "subject",
    "description",
    "remedy_sought",
    "product",
    "order_number",
    "order_value",
    "occurred_at",
    "occurred_where",
    "attachments",
)
DEFAULT_REQUIRED = ("customer_name", "contact", "subject", "description", "remedy_sought")
COMPENSATION_KINDS = ledger.KINDS
MAX_ESCALATION_LEVEL = 4
ARCHIVE_OUTCOMES = ("closed", "closed_incomplete", "closed_duplicate")
# Variables that are configuration or plumbing, not part of the complaint's file.
_NOT_ARCHIVED = ("settings",)


def _now() -> datetime:
    return datetime.now(UTC)


def _session(ctx):
    if ctx.session is None:
        raise HandlerError("this handler needs a database session")
    return ctx.session


def _param(ctx, name: str, default: Any = None) -> Any:
    value = ctx.params.get(name)
    return default if value is None else value


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise HandlerError(f"{what} must be a number, not {value!r}") from None
    if amount < 0:
        raise HandlerError(f"{what} must not be negative")
    return amount


def _complaint(ctx) -> Complaint | None:
    if ctx.session is None or not ctx.business_key:
        return None
    return complaint_by_reference(ctx.session, ctx.business_key)


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


@handler("check_completeness")
def check_completeness(ctx) -> dict:
    """Absorb the customer's `customer_details` (if any) into the complaint fields and list what is missing.

    params: `required` (list of field names; "contact" means phone or email).
    returns: the absorbed fields (and None for complaint fields not given at all), `missing_fields` (list),
    `complete` (bool), `status` (registered|awaiting_details), `customer_details` (None), and
    `received_at` (now) when the start data had none.
    """
    out: dict[str, Any] = {}
    details = ctx.data.get("customer_details")
    if details is not None:
        if not isinstance(details, dict):
            raise HandlerError("customer_details must be an object of complaint fields")
        out.update({k: v for k, v in details.items() if k in COMPLAINT_FIELDS and _filled(v)})
        out["customer_details"] = None
    merged = {**ctx.data, **out}
    required = _param(ctx, "required", DEFAULT_REQUIRED)
    missing = []
    for name in required:
        if name == "contact":
            if not (_filled(merged.get("customer_phone")) or _filled(merged.get("customer_email"))):
                missing.append("contact")
        elif not _filled(merged.get(name)):
            missing.append(name)
    out["missing_fields"] = missing
    out["complete"] = not missing
    out["status"] = "registered" if not missing else "awaiting_details"
    # Every field exists afterwards, so scripts and gateways can test it without a NameError.
    for name in (*COMPLAINT_FIELDS, "category", "severity"):
        if name not in ctx.data and name not in out:
            out[name] = None
    if "safety_issue" not in ctx.data:
        out["safety_issue"] = False
    if not ctx.data.get("received_at"):
        out["received_at"] = _now().isoformat()  # SLA clocks start at receipt
    return out


def _notify(
    ctx,
    recipient_type: str,
    recipient: str,
    template: str,
    subject: str = "",
    body: str = "",
    payload: dict | None = None,
) -> Notification:
    if recipient_type not in RECIPIENT_TYPES:
        raise HandlerError(
            f"recipient_type must be one of {', '.join(RECIPIENT_TYPES)}, not {recipient_type!r}"
        )
    if not recipient:
        raise HandlerError(f"no recipient for the {template} notification")
    note = Notification(
        recipient_type=recipient_type,
        recipient=str(recipient),
        business_key=ctx.business_key,
        template=template,
        subject=subject or "",
        body=body or "",
        payload=payload or {},
        sent_at=_now() if recipient_type == "customer" else None,
    )
    session = _session(ctx)
    session.add(note)
    session.flush()
    return note


def _customer_address(data: dict) -> str:
    # Without email or phone the customer reads it in the portal, under the complaint's reference.
    return data.get("customer_email") or data.get("customer_phone") or "portal"


@handler("acknowledge")
def acknowledge(ctx) -> dict:
    """Acknowledge receipt to the customer with the reference number (ISO 10002).

    returns: `status` "acknowledged", `acknowledged_at` (ISO datetime), `acknowledgement_id`.
    """
    reference = ctx.business_key or ctx.data.get("reference")
    if not reference:
        raise HandlerError("a complaint needs its reference number before it is acknowledged")
    recipient = _customer_address(ctx.data)
    note = _notify(
        ctx,
        "customer",
        recipient,
        "acknowledgement",
        subject=f"投诉已受理 Complaint received: {reference}",
        body=f"我们已收到您的投诉,编号 {reference}。We have received your complaint, reference {reference}.",
        payload={"reference": reference, "channel": ctx.data.get("channel")},
    )
    return {
        "status": "acknowledged",
        "acknowledged_at": note.created_at.isoformat(),
        "acknowledgement_id": note.id,
    }


@handler("notify")
def notify(ctx) -> dict:
    """Write a notification for a department, user, role or the customer.

    params: `recipient_type` (department|user|role|customer), `recipient` (id, username, role;
    for the customer defaults to the customer's email or phone, else "portal"), `template`, `subject`,
    `body`, `payload` (dict merged into the notification's payload).
    returns: `last_notification_id`.
    """
    recipient_type = _param(ctx, "recipient_type", "department")
    recipient = _param(ctx, "recipient")
    if recipient is None and recipient_type == "customer":
        recipient = _customer_address(ctx.data)
    template = _param(ctx, "template", "notice")
    payload = {
        k: ctx.data.get(k)
        for k in ("reference", "category", "severity", "department", "escalation_level", "status")
        if k in ctx.data
    }
    extra = _param(ctx, "payload")
    if isinstance(extra, dict):
        payload.update(extra)
    note = _notify(
        ctx, recipient_type, recipient, template, _param(ctx, "subject", ""), _param(ctx, "body", ""), payload
    )
    return {"last_notification_id": note.id}


def _similar(a: str | None, b: str | None, threshold: float) -> bool:
    if not a or not b:
        return False
    a, b = a.strip().lower(), b.strip().lower()
    return a == b or SequenceMatcher(None, a, b).ratio() >= threshold


@handler("check_duplicates")
def check_duplicates(ctx) -> dict:
    """Find an earlier complaint of the same customer (phone) about the same matter within N days.

    The same matter: the same order number, the same product, or a similar subject.
    params: `window_days` (default 30), `similarity` (subject ratio, default 0.6).
    returns: `duplicate_of` (reference or None), `duplicate_candidates` (references);
    also sets `duplicate_of` on this complaint's row when it exists.
    """
    session = _session(ctx)
    phone = ctx.data.get("customer_phone")
    own = ctx.business_key or ctx.data.get("reference")
    if not phone:
        return {"duplicate_of": None, "duplicate_candidates": []}
    window = int(_param(ctx, "window_days", 30))
    threshold = float(_param(ctx, "similarity", 0.6))
    since = _now() - timedelta(days=window)
    rows = session.scalars(
        select(Complaint)
        .where(Complaint.customer_phone == phone, Complaint.received_at >= since, Complaint.reference != own)
        .order_by(Complaint.received_at.desc())
        .limit(50)
    ).all()
    order, product, subject = ctx.data.get("order_number"), ctx.data.get("product"), ctx.data.get("subject")
    candidates = [
        row.reference
        for row in rows
        if (order and row.order_number == order)
        or (product and row.product and row.product.strip().lower() == str(product).strip().lower())
        or _similar(row.subject, subject, threshold)
    ]
    duplicate_of = candidates[0] if candidates else None
    if duplicate_of:
        mine = _complaint(ctx)
        if mine is not None:
            mine.duplicate_of = duplicate_of
    return {"duplicate_of": duplicate_of, "duplicate_candidates": candidates}


@handler("link_duplicate")
def link_duplicate(ctx) -> dict:
    """A person confirmed this complaint is a duplicate: link it to its original (both files show the
    link) and tell the customer the original's reference, under which the matter is handled.

    returns: `duplicate_of` (the original's reference).
    """
    original = ctx.data.get("duplicate_of")
    if not original:
        raise HandlerError("a confirmed duplicate needs the reference of its original (duplicate_of)")
    session = _session(ctx)
    if session.scalar(select(Complaint.id).where(Complaint.reference == original)) is None:
        raise HandlerError(f"the original complaint {original} does not exist")
    by = getattr(ctx.services, "actor_name", None) or "system"
    mine = _complaint(ctx)
    if mine is not None:
        duplicates.confirm(session, mine, original, by)
    audit.append(session, by, "duplicate_linked", business_key=ctx.business_key, instance_id=ctx.instance_id,
                 detail={"original": original})
    audit.append(session, by, "duplicate_linked", business_key=original, detail={"duplicate": ctx.business_key})
    _notify(ctx, "customer", _customer_address(ctx.data), "duplicate_closed",
            subject=f"{ctx.business_key} → {original}", payload={"reference": ctx.business_key, "original": original})
    return {"duplicate_of": original}


def _spent(session, department: str, month: str, except_for: str | None = None) -> Decimal:
    query = select(func.coalesce(func.sum(CompensationEntry.amount), 0)).where(
        CompensationEntry.department == department, CompensationEntry.month == month
    )
    if except_for:
        query = query.where(CompensationEntry.business_key != except_for)
    total = session.scalar(query)
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


@handler("check_budget")
def check_budget(ctx) -> dict:
    """Would this compensation exceed the department's compensation budget for the month?

    params: `department`, `amount`, `default_budget` (used when the month has no budget row;
    None means no limit), `replacing_own` (the amount replaces what this complaint already has in
    the ledger, as when an answer's amount is revised: its own entries are not counted as spent).
    returns: `over_budget`, `budget_month`, `budget_limit`, `budget_spent`, `budget_remaining`.
    """
    session = _session(ctx)
    department = _param(ctx, "department") or ctx.data.get("department")
    if not department:
        raise HandlerError("check_budget needs the department whose budget pays")
    amount = _money(_param(ctx, "amount", ctx.data.get("compensation_amount")), "compensation amount")
    month = ledger.current_month()
    row = session.scalar(
        select(DepartmentBudget).where(
            DepartmentBudget.department == department, DepartmentBudget.month == month
        )
    )
    default = _param(ctx, "default_budget")
    limit = (
        row.amount if row is not None else (None if default is None else _money(default, "default budget"))
    )
    spent = _spent(session, department, month, ctx.business_key if _param(ctx, "replacing_own") else None)
    over = limit is not None and spent + amount > limit
    return {
        "over_budget": bool(over),
        "budget_month": month,
        "budget_limit": None if limit is None else float(limit),
        "budget_spent": float(spent),
        "budget_remaining": None if limit is None else float(limit - spent),
    }


@handler("issue_compensation")
def issue_compensation(ctx) -> dict:
    """Record a granted compensation in the ledger, charged to the department's current month.

    params: `department`, `kind` (points|coupon|refund|cash), `amount`, `approved` (by management).
    returns: `compensation_issued` True, `ledger_entry_id`.
    """
    session = _session(ctx)
    department = _param(ctx, "department") or ctx.data.get("department")
    kind = _param(ctx, "kind", ctx.data.get("compensation_kind"))
    if kind not in COMPENSATION_KINDS:
        raise HandlerError(f"compensation kind must be one of {', '.join(COMPENSATION_KINDS)}, not {kind!r}")
    amount = _money(_param(ctx, "amount", ctx.data.get("compensation_amount")), "compensation amount")
    if not department or not ctx.business_key:
        raise HandlerError("a ledger entry needs the department and the complaint reference")
    entry = ledger.book(session, _by(ctx), ctx.business_key, department, kind, amount,
                        bool(_param(ctx, "approved", False)), str(_param(ctx, "note", "") or ""), ctx.instance_id)
    return {"compensation_issued": True, "ledger_entry_id": entry.id}


def _by(ctx) -> str:
    return getattr(ctx.services, "actor_name", None) or "system"


def _recorded_entry(ctx):
    recorded = ctx.data.get("ledger")
    entry_id = recorded.get("ledger_entry_id") if isinstance(recorded, dict) else None
    return ledger.entry_of(_session(ctx), ctx.business_key, entry_id) if ctx.business_key else None


@handler("correct_compensation")
def correct_compensation(ctx) -> dict:
    """After a revised answer: the complaint's ledger entry takes the compensation the answer now
    offers (an answer without compensation leaves it at 0). Nothing to do without an entry (the
    answer is booked when it is sent, `book_compensation`).

    params: `kind`, `amount`, `approved` (management approved the revised amount).
    returns: `ledger_corrected` (True when the entry changed).
    """
    entry = _recorded_entry(ctx)
    if entry is None:
        return {"ledger_corrected": False}
    amount = _money(_param(ctx, "amount", 0) or 0, "compensation amount")
    kind = _param(ctx, "kind") if amount else entry.kind  # no compensation left: the kind stays on record
    if kind not in COMPENSATION_KINDS:
        raise HandlerError(f"compensation kind must be one of {', '.join(COMPENSATION_KINDS)}, not {kind!r}")
    changed = ledger.correct(_session(ctx), _by(ctx), entry, kind, amount, bool(_param(ctx, "approved", False)),
                             "revised", ctx.instance_id)
    return {"ledger_corrected": changed}


@handler("book_compensation")
def book_compensation(ctx) -> dict:
    """An answer is about to be sent: the ledger holds exactly the money it offers (the amount the
    customer is told). The escalation ladder's answers (senior specialist, cross-department plan,
    management) are booked here; the strategy's entry is corrected, never booked twice. A mediation's
    settlement is booked the same way once the customer accepted it (`Task_Book_Settlement`).

    params: `department`, `remedy`, `kind`, `amount`, `approved` (management decided the amount),
    `level` (the escalation level, for the entry's note), `note` (the entry's note instead).
    returns: `compensation_issued` (the complaint has a non-zero entry), `ledger_entry_id`.
    """
    if not ctx.business_key:
        raise HandlerError("a ledger entry needs the complaint reference")
    amount = _money(_param(ctx, "amount", 0) or 0, "compensation amount")
    entry = _recorded_entry(ctx)
    kind = _param(ctx, "kind")
    if kind not in COMPENSATION_KINDS:
        # A refund offered as the remedy is booked as one; money without a kind, as cash.
        remedy = _param(ctx, "remedy")
        kind = remedy if remedy in COMPENSATION_KINDS else (entry.kind if entry is not None and not amount else "cash")
    approved = bool(_param(ctx, "approved", False))
    why = str(_param(ctx, "note", "") or "") or f"answer at level {int(_param(ctx, 'level', 1) or 1)}"
    if entry is not None:
        ledger.correct(_session(ctx), _by(ctx), entry, kind, amount, approved, why, ctx.instance_id)
    elif amount:
        department = _param(ctx, "department") or ctx.data.get("department")
        if not department:
            raise HandlerError("a ledger entry needs the department whose budget pays")
        entry = ledger.book(_session(ctx), _by(ctx), ctx.business_key, department, kind, amount, approved, why,
                            ctx.instance_id)
    return {"compensation_issued": bool(entry is not None and entry.amount),
            "ledger_entry_id": entry.id if entry is not None else None}


@handler("record_escalation")
def record_escalation(ctx) -> dict:
    """Record an escalation step on the complaint.

    params: `reason` (rejected|survey_dissatisfied|sla_breach|critical), `raise_level` (bool: climb one
    rung of the ladder, at most 4), `note`.
    returns: `escalation_level`, and `status` "escalated" when the level rose, or `sla_breached` True.
    """
    session = _session(ctx)
    reason = _param(ctx, "reason", "rejected")
    level = int(ctx.data.get("escalation_level") or 1)
    raise_level = bool(_param(ctx, "raise_level", False))
    if raise_level:
        if level >= MAX_ESCALATION_LEVEL:
            raise HandlerError("the complaint is already at management's final decision (level 4)")
        level += 1
    if not ctx.business_key:
        raise HandlerError("an escalation record needs the complaint reference")
    session.add(
        EscalationRecord(
            business_key=ctx.business_key,
            level=level,
            reason=reason,
            task=ctx.task_name,
            note=str(_param(ctx, "note", "") or ""),
        )
    )
    complaint = _complaint(ctx)
    if complaint is not None and raise_level:
        complaint.escalation_level = level
    session.flush()
    out: dict[str, Any] = {"escalation_level": level}
    if raise_level:
        out["status"] = "escalated"
    if reason == "sla_breach":
        out["sla_breached"] = True
    return out


def _history(ctx) -> dict:
    session = _session(ctx)
    key = ctx.business_key

    def rows(model, order):
        return session.scalars(select(model).where(model.business_key == key).order_by(order)).all()

    return {
        "audit": [
            {"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "detail": a.detail}
            for a in rows(AuditEntry, AuditEntry.id)
        ],
        "escalations": [
            {"at": e.at.isoformat(), "level": e.level, "reason": e.reason, "task": e.task, "note": e.note}
            for e in rows(EscalationRecord, EscalationRecord.id)
        ],
        "compensation": [
            {
                "at": c.created_at.isoformat(),
                "kind": c.kind,
                "amount": str(c.amount),
                "department": c.department,
                "approved_by_management": c.approved_by_management,
            }
            for c in rows(CompensationEntry, CompensationEntry.id)
        ],
        "notifications": [
            {
                "at": n.created_at.isoformat(),
                "to": f"{n.recipient_type}:{n.recipient}",
                "template": n.template,
            }
            for n in rows(Notification, Notification.id)
        ],
    }


@handler("archive")
def archive(ctx) -> dict:
    """Write the immutable archive file of the complaint: its variables and its whole handling history.

    The history comes from the audit log, escalation records, the ledger and the notifications;
    when the runtime offers `ctx.services.handling_history(business_key)` (completed tasks with
    who/when) it is included as `tasks`.
    params: `outcome` (closed|closed_incomplete|closed_duplicate).
    returns: `status` (the outcome), `closed_at`, `archive_id`, `archive_sha256`.
    """
    if not ctx.business_key:
        raise HandlerError("an archive record needs the complaint reference")
    outcome = str(_param(ctx, "outcome", "closed"))
    if outcome not in ARCHIVE_OUTCOMES:
        raise HandlerError(f"archive outcome must be one of {', '.join(ARCHIVE_OUTCOMES)}, not {outcome!r}")
    variables = {k: v for k, v in ctx.data.items() if k not in _NOT_ARCHIVED}
    variables["status"] = outcome
    history = _history(ctx)
    task_history = getattr(ctx.services, "handling_history", None)
    if callable(task_history):
        history["tasks"] = task_history(ctx.business_key)
    snapshot = json.loads(json.dumps({"variables": variables, "history": history}, default=str))
    digest = hashlib.sha256(
        json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    record = ArchiveRecord(
        business_key=ctx.business_key,
        archived_at=_now(),
        outcome=outcome,
        snapshot=snapshot,
        sha256=digest,
    )
    session = _session(ctx)
    session.add(record)
    complaint = _complaint(ctx)
    if complaint is not None and complaint.closed_at is None:
        complaint.closed_at = _now()
    session.flush()
    return {
        "status": record.outcome,
        "closed_at": record.archived_at.isoformat(),
        "archive_id": record.id,
        "archive_sha256": digest,
    }


@handler("start_improvement_action")
def start_improvement_action(ctx) -> dict:
    """Open an improvement action (整改) for the responsible department and start its own process.

    params: `department` (owner), `due_days` (default 30), `root_cause`.
    Needs `ctx.services.start_process(process_key, business_key, data)`.
    returns: `improvement_action_id`, `improvement_due_date`.
    """
    session = _session(ctx)
    department = _param(ctx, "department") or ctx.data.get("department")
    if not department:
        raise HandlerError("an improvement action needs an owner department")
    start_process = getattr(ctx.services, "start_process", None)
    if not callable(start_process):
        raise HandlerError("the runtime offers no start_process service to start the improvement action")
    due = (_now() + timedelta(days=int(_param(ctx, "due_days", 30)))).date()
    action = ImprovementAction(
        business_key=ctx.business_key or ctx.data.get("reference") or "",
        department=department,
        root_cause=str(_param(ctx, "root_cause", ctx.data.get("root_cause")) or ""),
        product=ctx.data.get("product"),
        due_date=due,
    )
    session.add(action)
    session.flush()
    instance_id = start_process(
        "improvement_action",
        action.business_key,
        {
            "reference": action.business_key,
            "improvement_action_id": action.id,
            "department": department,
            "root_cause": action.root_cause,
            "product": action.product,
            "due_date": due.isoformat(),
            "settings": ctx.data.get("settings") or {},
        },
    )
    if isinstance(instance_id, int):
        action.instance_id = instance_id
    return {"improvement_action_id": action.id, "improvement_due_date": due.isoformat()}


@handler("complete_improvement_action")
def complete_improvement_action(ctx) -> dict:
    """Mark an improvement action done with what was done.

    params: `improvement_action_id`, `action_taken`.
    returns: `improvement_status` "done".
    """
    session = _session(ctx)
    action_id = _param(ctx, "improvement_action_id", ctx.data.get("improvement_action_id"))
    action = session.get(ImprovementAction, action_id) if action_id is not None else None
    if action is None:
        raise HandlerError(f"no improvement action {action_id!r}")
    action.status = "done"
    action.action_taken = str(_param(ctx, "action_taken", ctx.data.get("action_taken")) or "")
    action.completed_at = _now()
    session.flush()
    return {"improvement_status": "done"}
