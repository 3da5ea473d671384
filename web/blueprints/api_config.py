"""The JSON API for reviewed configuration (process settings, business calendar), budgets, and the
operations that repair or end a process (skip with four eyes, cancel) and the outbox. The same
services as the pages enforce the roles and check the input."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, jsonify, request

from processes.channels import outbound_mail
from processes.complaints import budgets
from processes.engine import operations
from processes.engine.errors import ValidationFailed
from processes.engine.models import ProcessInstance, utcnow
from processes.governance import config_review
from web.auth import authenticate_api_request
from web.context import actor, database, runtime
from web.openapi import error_responses, json_body, ok, register_paths
from web.security import csrf

bp = Blueprint("api_config", __name__)
url_prefix = "/api/v1"
csrf.exempt(bp)
CONFIG_KINDS = ("settings", "calendar", "mail_templates")


@bp.before_request
def authenticate():
    return authenticate_api_request()


def _body() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, "The request body must be a JSON object.")
    return payload


def _kind(kind: str) -> str:
    if kind not in CONFIG_KINDS:
        abort(404, "There is no such configuration.")
    return kind


def _viewer() -> None:
    from processes.engine.errors import Forbidden

    if actor().role not in ("process_designer", "compliance_reviewer", "admin", "supervisor"):
        raise Forbidden("Your role does not give access to the configuration.")


def _draft_json(session, draft) -> dict:
    return {"id": draft.id, "kind": draft.kind, "status": draft.status, "author": draft.author, "note": draft.note,
            "base_version": draft.base_version, "approved_version": draft.approved_version,
            "reviewer": draft.reviewer, "review_comment": draft.review_comment,
            "changes": [{"key": c.key, "old": c.old, "new": c.new} for c in config_review.changes(session, draft)],
            "test_run": [{"id": i["id"], "passed": i["passed"]} for i in (draft.report or {}).get("scenarios") or []]}


# -- configuration ---------------------------------------------------------------------------


@bp.get("/config/<kind>")
def config_get(kind: str):
    _viewer()
    with database().session() as s:
        version, values = config_review.in_force(s, _kind(kind))
        waiting = config_review.pending(s, kind)
        return jsonify({"kind": kind, "version": version, "values": values,
                        "pending": _draft_json(s, waiting) if waiting else None})


@bp.post("/config/<kind>/changes")
def config_propose(kind: str):
    body = _body()
    values, note = body.get("values"), body.get("note", "")
    if not isinstance(values, dict) or not isinstance(note, str):
        raise ValidationFailed({"values": "Send the values as an object and the note as text."})
    with database().write_session.begin() as s:
        report = config_review.settings_test_run(s) if _kind(kind) == "settings" else None
        draft = config_review.propose(s, actor(), kind, values, note, report=report)
        return jsonify({"change": _draft_json(s, draft)}), 201


@bp.get("/config-changes/<int:draft_id>")
def config_change(draft_id: int):
    _viewer()
    with database().session() as s:
        return jsonify({"change": _draft_json(s, config_review.get(s, draft_id))})


@bp.post("/config-changes/<int:draft_id>/<decision>")
def config_decide(draft_id: int, decision: str):
    payload = request.get_json(silent=True)
    comment = payload.get("comment", "") if isinstance(payload, dict) else ""
    if not isinstance(comment, str):
        raise ValidationFailed({"comment": "The comment is text."})
    with database().write_session.begin() as s:
        if decision == "approve":
            config_review.approve(s, actor(), draft_id, comment)
        elif decision == "reject":
            config_review.reject(s, actor(), draft_id, comment)
        elif decision == "withdraw":
            config_review.withdraw(s, actor(), draft_id)
        else:
            abort(404)
        return jsonify({"change": _draft_json(s, config_review.get(s, draft_id))})


# -- budgets -----------------------------------------------------------------------------------


def _default_budget(session) -> Decimal:
    return Decimal(str(runtime().settings_in_force(session)[1].get("default_monthly_budget") or 0))


@bp.get("/budgets")
def budget_list():
    month = budgets.check_month(request.args.get("month")) or utcnow().strftime("%Y-%m")
    with database().session() as s:
        rows = budgets.month_budgets(s, actor(), month, _default_budget(s))
        return jsonify({"month": month, "budgets": [
            {"department": r.department, "amount": str(r.amount), "own": r.own, "spent": str(r.spent),
             "remaining": str(r.remaining)} for r in rows]})


@bp.put("/budgets/<department>/<month>")
def budget_set(department: str, month: str):
    body = _body()
    amount, note = body.get("amount"), body.get("note", "")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str) or not isinstance(note, str):
        raise ValidationFailed({"amount": "Send the amount as a number or text, the note as text."})
    with database().write_session.begin() as s:
        change = budgets.set_budget(s, actor(), department[:40], month[:20], str(amount), note)
        return jsonify({"department": change.department, "month": change.month, "amount": str(change.new_amount),
                        "previous": None if change.old_amount is None else str(change.old_amount)})


@bp.get("/budgets/history")
def budget_history():
    with database().session() as s:
        rows = budgets.history(s, actor(), request.args.get("department", "")[:40] or None,
                               budgets.check_month(request.args.get("month")))
        return jsonify({"changes": [{"department": c.department, "month": c.month, "changed_by": c.changed_by,
                                     "old": None if c.old_amount is None else str(c.old_amount),
                                     "new": str(c.new_amount), "note": c.note, "at": c.at.isoformat()}
                                    for c in rows]})


# -- operations: skip (four eyes), cancel, outbox ------------------------------------------------


def _reason() -> str:
    payload = request.get_json(silent=True)
    reason = payload.get("reason", "") if isinstance(payload, dict) else ""
    if not isinstance(reason, str):
        raise ValidationFailed({"reason": "The reason is text."})
    return reason


@bp.post("/operations/instances/<int:instance_id>/skip")
def skip_request(instance_id: int):
    reason = _reason()
    with database().write_session.begin() as s:
        row = operations.request_skip(s, actor(), instance_id, reason)
        return jsonify({"request": {"id": row.id, "step": row.step, "status": row.status}}), 201


@bp.post("/operations/skips/<int:request_id>/confirm")
def skip_confirm(request_id: int):
    return jsonify({"status": operations.confirm_skip(runtime(), actor(), request_id)})


@bp.post("/operations/skips/<int:request_id>/refuse")
def skip_refuse(request_id: int):
    with database().write_session.begin() as s:
        return jsonify({"status": operations.refuse_skip(s, actor(), request_id).status})


@bp.post("/operations/instances/<int:instance_id>/cancel")
def cancel(instance_id: int):
    operations.cancel(runtime(), actor(), instance_id, _reason())
    with database().session() as s:
        return jsonify({"status": s.get(ProcessInstance, instance_id).status})


def _message_json(m, body: bool = False) -> dict:
    out = {"id": m.id, "reference": m.reference, "to": m.to_address, "subject": m.subject, "status": m.status,
           "attempts": m.attempts, "last_error": m.last_error, "created_at": m.created_at.isoformat(),
           "sent_at": m.sent_at.isoformat() if m.sent_at else None}
    if body:
        out["body"] = m.body
    return out


@bp.get("/outbox")
def outbox_list():
    operations.require_operator(actor())
    status = request.args.get("status")
    with database().session() as s:
        rows = outbound_mail.outbox(s, status=status[:20] if status else None, limit=200)
        return jsonify({"messages": [_message_json(m) for m in rows]})


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    with database().session() as s:
        return jsonify({"message": _message_json(outbound_mail.message(s, actor(), message_id), body=True)})


@bp.post("/outbox/<int:message_id>/resend")
def outbox_resend(message_id: int):
    mailer = getattr(runtime(), "mailer", None)
    with database().write_session.begin() as s:
        outbound_mail.resend(s, actor(), message_id, mailer is not None and mailer.smtp is not None)
    mailer.deliver_due()
    with database().session() as s:
        return jsonify({"message": _message_json(outbound_mail.message(s, actor(), message_id))})


@bp.post("/outbox/<int:message_id>/discard")
def outbox_discard(message_id: int):
    reason = _reason()
    with database().write_session.begin() as s:
        return jsonify({"message": _message_json(outbound_mail.discard(s, actor(), message_id, reason))})


def _p(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


CHANGE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(CONFIG_KINDS)},
    "status": {"type": "string", "enum": ["submitted", "approved", "rejected", "withdrawn"]},
    "author": {"type": "string"}, "note": {"type": "string"}, "base_version": {"type": ["integer", "null"]},
    "approved_version": {"type": ["integer", "null"]}, "reviewer": {"type": ["string", "null"]},
    "changes": {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "old": {}, "new": {}}}},
    "test_run": {"type": "array", "items": {"type": "object"}}}}
CHANGE_REF = {"$ref": "#/components/schemas/ConfigChange"}
MESSAGE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "reference": {"type": ["string", "null"]}, "to": {"type": "string"},
    "subject": {"type": "string"}, "status": {"type": "string"}, "attempts": {"type": "integer"},
    "last_error": {"type": ["string", "null"]}, "body": {"type": "string"}}}
REASON = json_body({"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string",
                                                                                       "maxLength": 2000}}})
KIND = _p("kind")
register_paths({
    "/config/{kind}": {"get": {
        "summary": "The version in force of `settings` or `calendar`, its values and the change awaiting review",
        "parameters": [KIND],
        "responses": {**ok("In force", {"type": "object", "properties": {
            "version": {"type": ["integer", "null"]}, "values": {"type": "object"},
            "pending": {"oneOf": [CHANGE_REF, {"type": "null"}]}}}), **error_responses(401, 403, 404)}}},
    "/config/{kind}/changes": {"post": {
        "summary": "Propose new values with a note (settings: designers, administrators; calendar: administrators)",
        "parameters": [KIND],
        "requestBody": json_body({"type": "object", "required": ["values", "note"], "properties": {
            "values": {"type": "object"}, "note": {"type": "string", "maxLength": 2000}}}),
        "responses": {**ok("Submitted for review", {"type": "object", "properties": {"change": CHANGE_REF}}, 201),
                      **error_responses(400, 401, 403, 404, 409, 422)}}},
    "/config-changes/{change_id}": {"get": {
        "summary": "A change: exactly the keys it changes, old beside new", "parameters": [_p("change_id", "integer")],
        "responses": {**ok("The change", {"type": "object", "properties": {"change": CHANGE_REF}}),
                      **error_responses(401, 403, 404)}}},
    "/config-changes/{change_id}/{decision}": {"post": {
        "summary": "approve or reject (compliance reviewers, never the author; reject needs a comment) or "
                   "withdraw (the author); approval makes the next numbered version",
        "parameters": [_p("change_id", "integer"), {"name": "decision", "in": "path", "required": True,
                                                    "schema": {"enum": ["approve", "reject", "withdraw"]}}],
        "requestBody": json_body({"type": "object", "properties": {"comment": {"type": "string"}}}, required=False),
        "responses": {**ok("Decided", {"type": "object", "properties": {"change": CHANGE_REF}}),
                      **error_responses(401, 403, 404, 409, 422)}}},
    "/budgets": {"get": {
        "summary": "Each department's budget for a month (its own or the default), spent and left",
        "parameters": [{"name": "month", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}],
        "responses": {**ok("Budgets", {"type": "object"}), **error_responses(401, 403)}}},
    "/budgets/{department}/{month}": {"put": {
        "summary": "Set a department's budget for a month (management); the change is kept in the history",
        "parameters": [_p("department"), _p("month")],
        "requestBody": json_body({"type": "object", "required": ["amount"], "properties": {
            "amount": {"type": ["number", "string"]}, "note": {"type": "string", "maxLength": 1000}}}),
        "responses": {**ok("Set", {"type": "object"}), **error_responses(400, 401, 403, 422)}}},
    "/budgets/history": {"get": {
        "summary": "Every budget change: who, from, to, why",
        "parameters": [{"name": "department", "in": "query", "schema": {"type": "string"}},
                       {"name": "month", "in": "query", "schema": {"type": "string"}}],
        "responses": {**ok("Changes", {"type": "object"}), **error_responses(401, 403)}}},
    "/operations/instances/{instance_id}/skip": {"post": {
        "summary": "Ask to skip the failed step, with a reason; a second operator confirms (four eyes)",
        "parameters": [_p("instance_id", "integer")], "requestBody": REASON,
        "responses": {**ok("Requested", {"type": "object"}, 201), **error_responses(401, 403, 409, 422)}}},
    "/operations/skips/{request_id}/confirm": {"post": {
        "summary": "Confirm someone else's skip: the step is marked done and the process goes on",
        "parameters": [_p("request_id", "integer")],
        "responses": {**ok("The instance's status afterwards", {"type": "object"}),
                      **error_responses(401, 403, 409)}}},
    "/operations/skips/{request_id}/refuse": {"post": {
        "summary": "Refuse a skip request", "parameters": [_p("request_id", "integer")],
        "responses": {**ok("Refused", {"type": "object"}), **error_responses(401, 403, 409)}}},
    "/operations/instances/{instance_id}/cancel": {"post": {
        "summary": "Cancel a process (and its complaint) for good, with a reason (administrators, supervisors)",
        "parameters": [_p("instance_id", "integer")], "requestBody": REASON,
        "responses": {**ok("Cancelled", {"type": "object"}), **error_responses(401, 403, 404, 409, 422)}}},
    "/outbox": {"get": {
        "summary": "Customer e-mail, newest first (administrators, supervisors)",
        "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}}],
        "responses": {**ok("Messages", {"type": "object", "properties": {"messages": {"type": "array",
                                                                                      "items": MESSAGE}}}),
                      **error_responses(401, 403)}}},
    "/outbox/{message_id}": {"get": {
        "summary": "One message with its body, attempts and last error", "parameters": [_p("message_id", "integer")],
        "responses": {**ok("The message", {"type": "object", "properties": {"message": MESSAGE}}),
                      **error_responses(401, 403, 404)}}},
    "/outbox/{message_id}/resend": {"post": {
        "summary": "Send a failed (or sent) message again, as written", "parameters": [_p("message_id", "integer")],
        "responses": {**ok("Queued", {"type": "object"}), **error_responses(401, 403, 404, 409)}}},
    "/outbox/{message_id}/discard": {"post": {
        "summary": "Never send this message; the reason is audited", "parameters": [_p("message_id", "integer")],
        "requestBody": REASON,
        "responses": {**ok("Discarded", {"type": "object"}), **error_responses(401, 403, 404, 409, 422)}}},
}, {"ConfigChange": CHANGE})
