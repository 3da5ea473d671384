"""Intake API for other systems (CRM, call-centre software) under /api/v1.

Register complaints, read where one stands, deliver a customer's answer recorded by an agent,
and hand in a raw e-mail. Bearer tokens, or the staff session with the CSRF header.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, url_for

from processes.channels.mail_intake import MAX_MESSAGE_BYTES, ingest
from processes.channels.outbound_mail import outbox
from processes.channels.portal_models import (
    MESSAGES,
    IntakeExtras,
    answer_errors,
    clean_answer,
    intake_extras,
)
from processes.complaints.privacy import mask_data
from processes.complaints.records import Complaint
from processes.complaints.registration import PROCESS_KEY, intake_errors, register
from processes.engine import audit
from processes.engine.actors import WORKER_ROLES
from processes.engine.errors import N_, Forbidden, NotFound, ValidationFailed
from processes.engine.inbox import task_summary
from web.auth import authenticate_api_request
from web.context import actor, database, runtime
from web.input_guard import json_body as read_json
from web.openapi import error_responses, json_body, ok, register_paths
from web.security import csrf

bp = Blueprint("intake", __name__)
url_prefix = "/api/v1"
csrf.exempt(bp)

READERS = WORKER_ROLES | {"compliance_reviewer"}
CUSTOMER_VOICE_ROLES = {"agent", "senior_agent", "supervisor", "admin"}


@bp.before_request
def authenticate():
    return authenticate_api_request()


def _require(roles: set[str]) -> None:
    if actor().role not in roles:
        raise Forbidden(N_("Your role may not use this endpoint."))


def _json_object() -> dict:
    return read_json()


def _language() -> str:
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else "zh-CN"


@bp.post("/complaints")
def create_complaint():
    _require(WORKER_ROLES)
    payload = _json_object()
    payload.setdefault("channel", "api")
    errors = intake_errors(payload)
    if errors:
        raise ValidationFailed(errors, N_("The complaint is incomplete or malformed; see errors per field."))
    with intake_extras(IntakeExtras(channel=payload["channel"], language=_language())):
        reference = register(runtime(), payload, actor())
    location = url_for("intake.complaint", reference=reference)
    return jsonify({"reference": reference, "url": location}), 201, {"Location": location}


def _complaint_or_404(session, reference: str) -> Complaint:
    complaint = session.query(Complaint).filter(Complaint.reference == reference[:40]).one_or_none()
    if complaint is None:
        raise NotFound(N_("No complaint %(reference)s."), reference=reference)
    return complaint


@bp.get("/complaints/<reference>")
def complaint(reference: str):
    _require(READERS)
    with database().session() as s:
        record = _complaint_or_404(s, reference)
        who = actor()
        history = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                    "detail": mask_data(e.detail, who)} for e in audit.history(s, record.reference)]
        body = {
            "reference": record.reference,
            "status": record.status,
            "channel": record.channel,
            "received_at": record.received_at.isoformat(),
            "category": record.category,
            "severity": record.severity,
            "department": record.department,
            "strategy": record.strategy,
            "escalation_level": record.escalation_level,
            "closed_at": record.closed_at.isoformat() if record.closed_at else None,
        }
    instance = runtime().instance_for(body["reference"], PROCESS_KEY)
    body["tasks"] = [task_summary(t) for t in runtime().open_tasks(body["reference"])]
    body["awaiting"] = list(instance.awaiting or []) if instance is not None else []
    body["history"] = history
    return jsonify(body)


@bp.post("/complaints/<reference>/messages/<name>")
def message(reference: str, name: str):
    # Answering for the customer is customer service's job (recording a phone answer).
    _require(CUSTOMER_VOICE_ROLES)
    if actor().department != "customer_service" and not actor().is_overseer:
        raise Forbidden(N_("Only customer service records the customer's answers."))
    if name not in MESSAGES:
        raise NotFound(N_("Customers send only these messages: %(messages)s."), messages=', '.join(MESSAGES))
    with database().session() as s:
        reference = _complaint_or_404(s, reference).reference
    body = _json_object()
    data = body.get("data")
    errors = answer_errors(name, data, "en")
    if errors:
        raise ValidationFailed({f"data.{k}" if k != "__all__" else "data": v for k, v in errors.items()})
    runtime().correlate(reference, name, clean_answer(name, data), actor())  # NotWaiting -> 409
    instance = runtime().instance_for(reference, PROCESS_KEY)
    return jsonify({"reference": reference, "message": name, "delivered": True,
                    "awaiting": list(instance.awaiting or []) if instance else []}), 202


@bp.post("/intake/email")
def intake_email():
    _require(WORKER_ROLES)
    raw = request.get_data(cache=False)
    if len(raw) > MAX_MESSAGE_BYTES:
        abort(413, "The message is too large.")
    if not raw.strip():
        raise ValidationFailed({"message": "Send the raw RFC 822 message as the request body."})
    result = ingest(runtime(), raw, actor())
    if result.outcome == "rejected":
        raise ValidationFailed(result.errors, N_("The e-mail cannot become a complaint."))
    status = 201 if result.outcome == "registered" else 200
    return jsonify({"reference": result.reference, "outcome": result.outcome,
                    "skipped_attachments": result.skipped_files}), status


@bp.get("/outbox")
def outbox_list():
    """Outbound customer e-mails, for administrators (the outbox when no SMTP server is set)."""
    _require({"admin"})
    status = request.args.get("status") or None
    with database().session() as s:
        rows = outbox(s, status)
        return jsonify({"messages": [
            {"id": m.id, "reference": m.reference, "template": m.template, "language": m.language,
             "to": m.to_address, "subject": m.subject, "body": m.body, "status": m.status,
             "attempts": m.attempts, "last_error": m.last_error, "created_at": m.created_at.isoformat(),
             "sent_at": m.sent_at.isoformat() if m.sent_at else None} for m in rows]})


# -- OpenAPI -----------------------------------------------------------------------------

_NULLABLE_TEXT = {"type": ["string", "null"]}
INTAKE = {
    "type": "object", "required": ["customer", "subject", "description"],
    "properties": {
        "channel": {"type": "string", "enum": ["phone", "email", "web", "social_media", "walk_in", "letter", "api"],
                    "default": "api"},
        "customer": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "phone": _NULLABLE_TEXT, "email": _NULLABLE_TEXT,
            "address": _NULLABLE_TEXT, "tier": {"type": ["string", "null"],
                                                "enum": ["standard", "silver", "gold", "vip", None]}}},
        "subject": {"type": "string"}, "description": {"type": "string"},
        "remedy_sought": _NULLABLE_TEXT, "product": _NULLABLE_TEXT, "order_number": _NULLABLE_TEXT,
        "occurred_at": {"type": ["string", "null"], "format": "date-time"},
        "category": _NULLABLE_TEXT, "severity": _NULLABLE_TEXT, "safety_issue": {"type": "boolean"},
    },
}
COMPLAINT = {
    "type": "object",
    "required": ["reference", "status", "category", "severity", "department", "strategy", "escalation_level",
                 "tasks", "awaiting", "history"],
    "properties": {
        "reference": {"type": "string"},
        "status": {"type": "string", "description": "registered, awaiting_details, acknowledged, classified, "
                   "investigating, reconciling, awaiting_approval, awaiting_customer, escalated, follow_up, "
                   "awaiting_survey, closed, closed_incomplete, closed_duplicate"},
        "category": _NULLABLE_TEXT, "severity": _NULLABLE_TEXT, "department": _NULLABLE_TEXT,
        "strategy": _NULLABLE_TEXT, "escalation_level": {"type": "integer"},
        "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
        "awaiting": {"type": "array", "items": {"type": "string"}},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
            "action": {"type": "string"}, "detail": {"type": "object"}}}},
    },
}
MESSAGE_DATA = {
    "customer_details": "any of customer_name, customer_phone, customer_email, customer_address, subject, "
                        "description, remedy_sought, product, order_number, occurred_at, occurred_where",
    "customer_response": "customer_decision (accept|reject|counter), comment, counter_proposal (for counter)",
    "survey_answer": "satisfaction_score (1-5), resolved (boolean), comment",
}
REFERENCE_PARAM = {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}

register_paths(
    {
        "/complaints": {"post": {
            "summary": "Register a complaint (channel defaults to api)",
            "requestBody": json_body({"$ref": "#/components/schemas/ComplaintIntake"}),
            "responses": {**ok("Registered", {"type": "object", "required": ["reference"], "properties": {
                "reference": {"type": "string"}, "url": {"type": "string"}}}, 201),
                **error_responses(400, 401, 403, 422)},
        }},
        "/complaints/{reference}": {"get": {
            "summary": "Where a complaint stands: status, classification, open tasks, awaited messages, history",
            "parameters": [REFERENCE_PARAM],
            "responses": {**ok("The complaint", {"$ref": "#/components/schemas/Complaint"}),
                          **error_responses(401, 403, 404)},
        }},
        "/complaints/{reference}/messages/{name}": {"post": {
            "summary": "Deliver a customer's answer on their behalf (e.g. recorded on the phone)",
            "description": "; ".join(f"{k}: {v}" for k, v in MESSAGE_DATA.items()),
            "parameters": [REFERENCE_PARAM, {"name": "name", "in": "path", "required": True,
                                             "schema": {"type": "string", "enum": list(MESSAGES)}}],
            "requestBody": json_body({"type": "object", "required": ["data"],
                                      "properties": {"data": {"type": "object"}}}),
            "responses": {**ok("Delivered to the waiting process", {"type": "object", "properties": {
                "reference": {"type": "string"}, "message": {"type": "string"},
                "awaiting": {"type": "array", "items": {"type": "string"}}}}, 202),
                **error_responses(400, 401, 403, 404, 409, 422)},
        }},
        "/intake/email": {"post": {
            "summary": "Hand in one raw e-mail (RFC 822); a reply carrying a reference is attached to it",
            "requestBody": {"required": True, "content": {"message/rfc822": {"schema": {"type": "string"}}}},
            "responses": {
                **ok("Registered as a new complaint", {"type": "object", "properties": {
                    "reference": {"type": "string"}, "outcome": {"const": "registered"}}}, 201),
                **ok("Attached to the complaint it replies to", {"type": "object", "properties": {
                    "reference": {"type": "string"}, "outcome": {"const": "attached"}}}, 200),
                **error_responses(401, 403, 422)},
        }},
        "/outbox": {"get": {
            "summary": "Outbound customer e-mails and their delivery state (administrators)",
            "parameters": [{"name": "status", "in": "query", "schema": {
                "type": "string", "enum": ["pending", "sending", "sent", "failed", "outbox", "skipped"]}}],
            "responses": {**ok("The latest messages", {"type": "object"}), **error_responses(401, 403)},
        }},
    },
    {"ComplaintIntake": INTAKE, "Complaint": COMPLAINT},
)
