"""Registering complaints and keeping the complaint record in step with its process."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy.orm import Session

from processes.complaints import customers
from processes.complaints.records import Complaint, complaint_by_reference
from processes.engine import inputsafe
from processes.engine.actors import SYSTEM, Actor
from processes.engine.models import ProcessInstance, utcnow

PROCESS_KEY = "complaint_handling"
CHANNELS = ("phone", "email", "web", "social_media", "walk_in", "letter", "api")
CATEGORIES = ("product_quality", "service_attitude", "logistics_delivery", "sales_misrepresentation",
              "price_billing", "technical_fault", "after_sales_repair", "other")
SEVERITIES = ("low", "medium", "high", "critical")
TIERS = ("standard", "silver", "gold", "vip")
# How a complaint ends; a duplicate keeps saying it closed as one.
CLOSED_STATUSES = ("closed", "closed_incomplete", "closed_duplicate")
# Process variables mirrored onto the complaint record after each step.
PROJECTED = ("status", "category", "severity", "department", "strategy", "escalation_level",
             "duplicate_of", "safety_issue",
             # details a customer supplies later (customer_details) reach the record too
             "customer_name", "customer_phone", "customer_email", "customer_address", "subject",
             "description", "remedy_sought", "product", "order_number")

_TEXT = {"type": "string", "maxLength": 200}
INTAKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["channel", "customer", "subject", "description"],
    "additionalProperties": False,
    "properties": {
        "channel": {"enum": list(CHANNELS)},
        "customer": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "phone": {"type": ["string", "null"], "pattern": r"^\+?[0-9 ()-]{5,20}$"},
                "email": {"type": ["string", "null"], "format": "email", "maxLength": 200},
                "address": {"type": ["string", "null"], "maxLength": 500},
                "tier": {"type": ["string", "null"], "enum": [*TIERS, None]},
            },
        },
        "subject": {"type": "string", "minLength": 1, "maxLength": 300},
        "description": {"type": "string", "minLength": 1, "maxLength": 20000},
        "remedy_sought": {"type": ["string", "null"], "maxLength": 5000},
        "product": {"type": ["string", "null"], "maxLength": 200},
        "order_number": {"type": ["string", "null"], "maxLength": 100},
        "order_value": {"type": ["number", "null"], "minimum": 0, "maximum": 100000000},
        "occurred_at": {"type": ["string", "null"], "format": "date-time"},
        "occurred_where": {"type": ["string", "null"], "maxLength": 300},
        "category": {"type": ["string", "null"], "enum": [*CATEGORIES, None]},
        "severity": {"type": ["string", "null"], "enum": [*SEVERITIES, None]},
        "safety_issue": {"type": "boolean"},
        "attachments": {"type": "array", "items": _TEXT, "maxItems": 20},
    },
}


def intake_errors(payload: Any) -> dict[str, str]:
    """Field errors of an intake payload (dotted paths for nested fields); empty when valid."""
    if not isinstance(payload, dict):
        return {"__all__": "The complaint must be a JSON object."}
    # NUL, lone surrogates, absurd nesting and numbers first: the schema would pass some of them.
    errors: dict[str, str] = dict(inputsafe.value_problems(payload))
    if errors:
        return errors
    validator = Draft202012Validator(INTAKE_SCHEMA, format_checker=FormatChecker())
    for error in validator.iter_errors(payload):
        path = ".".join(str(p) for p in error.path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            path = f"{path}.{missing}" if path else missing
            message = "This field is required."
        elif error.validator == "additionalProperties":
            message = "Unknown field(s): " + error.message.split("(")[-1].rstrip(")")
        else:
            message = error.message
        errors.setdefault(path or "__all__", message)
    occurred_at = payload.get("occurred_at")
    if isinstance(occurred_at, str) and "occurred_at" not in errors:
        try:
            problem = inputsafe.date_problem(_parse(occurred_at), not_future=True)
        except ValueError:
            problem = "Enter a date and time such as 2026-11-20T14:30:00+08:00."
        if problem:
            errors["occurred_at"] = problem
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    if customer and not (customer.get("phone") or customer.get("email") or customer.get("address")):
        errors.setdefault("customer.phone", "Give at least one way to reach the customer: phone, e-mail or address.")
    return errors


def new_reference(now: datetime | None = None) -> str:
    """A reference a customer can read out on the phone: TS-20261122-7K3QX."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
    suffix = "".join(secrets.choice(alphabet) for _ in range(5))
    return f"TS-{(now or utcnow()):%Y%m%d}-{suffix}"


def start_data(payload: dict, reference: str, in_form: bool = False) -> dict:
    customer = payload.get("customer") or {}
    data = {
        # An agent typed it all into the intake form: no second registration task.
        "registered_in_form": in_form,
        "reference": reference,
        "channel": payload["channel"],
        "received_at": utcnow().isoformat(),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_email": customer.get("email"),
        "customer_address": customer.get("address"),
        "customer_tier": customer.get("tier") or "standard",
        "safety_issue": bool(payload.get("safety_issue", False)),
    }
    for key in ("subject", "description", "remedy_sought", "product", "order_number", "order_value",
                "occurred_at", "occurred_where", "category", "severity", "attachments"):
        data[key] = payload.get(key)
    if data["safety_issue"]:
        data["severity"] = "critical"  # a safety issue is always critical and goes first
    return data


def register(runtime, payload: dict, actor: Actor = SYSTEM, in_form: bool = False) -> str:
    """Record a complaint and start its process in one transaction; returns the reference.

    `in_form`: an agent registered it completely in the intake form (no Register complaint task).
    The caller validates first with `intake_errors`."""
    reference = new_reference()
    data = start_data(payload, reference, in_form)
    # A customer who complained before goes to a senior agent (task_urgency routes the tasks).
    with runtime.db.session() as session:
        days = int((runtime.settings or {}).get("repeat_window_days", customers.REPEAT_WINDOW_DAYS))
        earlier = customers.earlier_count(session, data["customer_phone"], data["customer_email"], days)
    data["earlier_complaints"] = earlier
    data["repeat_complainant"] = earlier > 0

    def record(session: Session, instance: ProcessInstance) -> None:
        session.add(new_record(data, instance.id, actor.username))
        session.flush()

    runtime.start(PROCESS_KEY, reference, data, actor, before_start=record)
    return reference


def new_record(data: dict, instance_id: int | None, created_by: str) -> Complaint:
    """The complaint's record, from its start data (`start_data`), as registration writes it."""
    return Complaint(
        reference=data["reference"], channel=data["channel"], customer_name=data["customer_name"] or "",
        customer_phone=data["customer_phone"], customer_email=data["customer_email"],
        customer_address=data["customer_address"], customer_tier=data["customer_tier"],
        subject=data["subject"] or "", description=data["description"] or "",
        remedy_sought=data["remedy_sought"], product=data["product"], order_number=data["order_number"],
        occurred_at=_parse(data["occurred_at"]), occurred_where=data["occurred_where"],
        category=data["category"], severity=data["severity"], safety_issue=data["safety_issue"],
        instance_id=instance_id, created_by=created_by, status="registered",
    )


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)


def project(session: Session, instance: ProcessInstance, facts: dict, uow) -> None:
    """Mirror the process's view of a complaint onto its record, so lists never load workflows."""
    if instance.process_key != PROCESS_KEY:
        return
    complaint = complaint_by_reference(session, instance.business_key)
    if complaint is None:
        return
    for key in PROJECTED:
        if key in facts and facts[key] is not None and getattr(complaint, key) != facts[key]:
            setattr(complaint, key, facts[key])
    if complaint.status in CLOSED_STATUSES and complaint.closed_at is None:
        complaint.closed_at = utcnow()
    if instance.status == "cancelled" and complaint.status != "cancelled":
        complaint.status = "cancelled"  # by an operator, with a reason (audited by the runtime)
        complaint.closed_at = complaint.closed_at or utcnow()
        return
    if instance.status == "completed" and complaint.status not in CLOSED_STATUSES:
        complaint.status = "closed"
        complaint.closed_at = complaint.closed_at or utcnow()


def install(runtime) -> None:
    if project not in runtime.observers:
        runtime.observers.append(project)
