"""The administration part of the JSON API: staff accounts (administrators) and operations
(administrators and supervisors). The same services as the pages enforce the roles."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _

from processes.engine import operations, users
from processes.engine.errors import N_, ValidationFailed
from web.auth import authenticate_api_request
from web.context import actor, database, runtime
from web.openapi import error_responses, json_body, ok, register_paths
from web.security import csrf

bp = Blueprint("api_admin", __name__)
url_prefix = "/api/v1"
csrf.exempt(bp)


@bp.before_request
def authenticate():
    return authenticate_api_request()


def _body() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, _("The request body must be a JSON object."))
    return payload


def _user_json(u) -> dict:
    return {"username": u.username, "display_name": u.display_name, "email": u.email, "department": u.department,
            "role": u.role, "locale": u.locale, "active": u.active, "must_change_password": u.must_change_password}


def _refuse(exc: users.UserError):
    """An account refusal as the API's 422: the message under the field's name."""
    raise ValidationFailed({exc.field: exc.message}, N_("Some fields need correcting.")) from exc


@bp.get("/users")
def user_list():
    with database().session() as s:
        users._require_admin(actor())
        rows = users.list_users(s, request.args.get("q", "")[:100])
        return jsonify({"users": [_user_json(u) for u in rows]})


def _optional_body() -> dict:
    """A JSON object when one was sent, else an empty one (the body is optional)."""
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else {}


def _account_change(change, status: int = 200):
    """Run one account service in a write transaction and answer its result as JSON; the
    service's refusal is the API's 422. ``change(session)`` returns the answer's body."""
    try:
        with database().write_session.begin() as s:
            return jsonify(change(s)), status
    except users.UserError as exc:
        _refuse(exc)


@bp.post("/users")
def user_create():
    body = _body()
    fields = {name: body.get(name) for name in ("username", "department", "role", "display_name", "email", "locale")}
    if not all(isinstance(v, str | type(None)) for v in fields.values()):
        raise ValidationFailed({"username": "Every field is a string."})

    def create(s):
        user, temporary = users.create_account(
            s, actor(), fields["username"] or "", fields["department"] or "", fields["role"] or "",
            display_name=fields["display_name"] or "", email=fields["email"], locale=fields["locale"])
        return {"user": _user_json(user), "temporary_password": temporary}

    return _account_change(create, 201)


@bp.post("/users/<username>/deactivate")
def user_deactivate(username: str):
    return _account_change(lambda s: {"user": _user_json(users.set_active(s, actor(), username, False))})


@bp.patch("/users/<username>")
def user_edit(username: str):
    body = _body()
    changes = {name: body[name] for name in users.EDITABLE if name in body}
    unknown = sorted(set(body) - set(users.EDITABLE))
    if unknown:
        raise ValidationFailed({unknown[0][:60]: "This field cannot be changed here."})
    if not all(isinstance(v, str) for v in changes.values()):
        raise ValidationFailed({next(iter(changes), "username"): "Every field is a string."})

    def edit(s):
        changed = users.edit_account(s, actor(), username, **changes)
        return {"user": _user_json(users.find_user(s, username)), "changed": sorted(changed)}

    return _account_change(edit)


@bp.post("/users/<username>/reactivate")
def user_reactivate(username: str):
    return _account_change(lambda s: {"user": _user_json(users.set_active(s, actor(), username, True))})


@bp.post("/users/<username>/reset-password")
def user_reset_password(username: str):
    return _account_change(lambda s: {"temporary_password": users.reset_password(s, actor(), username)})


@bp.post("/users/<username>/sign-out")
def user_sign_out(username: str):
    return _account_change(lambda s: {"sessions_ended": users.force_sign_out(s, actor(), username)})


def _token_json(token) -> dict:
    return {"id": token.id, "label": token.label, "created_at": token.created_at.isoformat(),
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


@bp.get("/users/<username>/tokens")
def user_tokens(username: str):
    with database().session() as s:
        users._require_admin(actor())
        try:
            users.find_user(s, username)
        except users.UserError as exc:
            _refuse(exc)
        return jsonify({"tokens": [_token_json(t) for t, _owner in users.list_tokens(s, username)]})


@bp.post("/users/<username>/tokens")
def user_token_create(username: str):
    label = _optional_body().get("label", "")
    if not isinstance(label, str):
        raise ValidationFailed({"label": "The label is a string."})
    return _account_change(lambda s: {"token": users.issue_token(s, actor(), username, label)}, 201)


@bp.post("/users/<username>/tokens/revoke")
def user_tokens_revoke(username: str):
    token_id = _optional_body().get("token_id")
    if token_id is not None and (isinstance(token_id, bool) or not isinstance(token_id, int)):
        raise ValidationFailed({"token_id": "The token id is a whole number."})
    return _account_change(lambda s: {"revoked": users.revoke_tokens(s, actor(), username, token_id)})


@bp.get("/operations/failed")
def failed_instances():
    with database().session() as s:
        rows = operations.failed_instances(s, actor())
    return jsonify({"instances": [{"id": f.id, "reference": f.business_key, "process_key": f.process_key,
                                   "step": f.step, "error": f.error, "failed_at": f.failed_at.isoformat()}
                                  for f in rows]})


@bp.post("/operations/instances/<int:instance_id>/retry")
def retry_instance(instance_id: int):
    return jsonify({"status": operations.retry(runtime(), actor(), instance_id)})


USER = {"type": "object", "required": ["username", "department", "role", "active"],
        "properties": {"username": {"type": "string"}, "display_name": {"type": "string"},
                       "email": {"type": ["string", "null"]}, "department": {"type": "string"},
                       "role": {"type": "string"}, "locale": {"type": ["string", "null"]},
                       "active": {"type": "boolean"}, "must_change_password": {"type": "boolean"}}}
NEW_USER = {"type": "object", "required": ["username", "department", "role"],
            "properties": {name: {"type": "string"} for name in
                           ("username", "department", "role", "display_name", "email", "locale")}}
USER_REF = {"$ref": "#/components/schemas/User"}
USERNAME = {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
FAILED = {"type": "object", "properties": {"id": {"type": "integer"}, "reference": {"type": "string"},
                                           "process_key": {"type": "string"}, "step": {"type": ["string", "null"]},
                                           "error": {"type": "string"},
                                           "failed_at": {"type": "string", "format": "date-time"}}}
register_paths({
    "/users": {
        "get": {"summary": "Staff accounts (administrators)",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {**ok("Accounts", {"type": "object", "properties": {
                    "users": {"type": "array", "items": USER_REF}}}), **error_responses(401, 403)}},
        "post": {"summary": "Create a staff account with a temporary password (administrators)",
                 "requestBody": json_body(NEW_USER),
                 "responses": {**ok("Created; the temporary password is shown once", {"type": "object", "properties": {
                     "user": USER_REF, "temporary_password": {"type": "string"}}}, 201),
                     **error_responses(400, 401, 403, 422)}},
    },
    "/users/{username}/deactivate": {"post": {
        "summary": "Deactivate an account: its sessions end and its tokens are revoked at once",
        "parameters": [USERNAME],
        "responses": {**ok("Deactivated", {"type": "object", "properties": {"user": USER_REF}}),
                      **error_responses(401, 403, 422)}}},
    "/users/{username}": {"patch": {
        "summary": "Change an account's display name, e-mail, department, role or language (administrators)",
        "parameters": [USERNAME],
        "requestBody": json_body({"type": "object", "properties": {
            name: {"type": "string"} for name in users.EDITABLE}, "additionalProperties": False}),
        "responses": {**ok("Changed", {"type": "object", "properties": {
            "user": USER_REF, "changed": {"type": "array", "items": {"type": "string"}}}}),
            **error_responses(400, 401, 403, 422)}}},
    "/users/{username}/reactivate": {"post": {
        "summary": "Reactivate a deactivated account (administrators)", "parameters": [USERNAME],
        "responses": {**ok("Active again", {"type": "object", "properties": {"user": USER_REF}}),
                      **error_responses(401, 403, 422)}}},
    "/users/{username}/reset-password": {"post": {
        "summary": "A temporary password the person must change at next login; their sessions and tokens end",
        "parameters": [USERNAME],
        "responses": {**ok("The temporary password, shown once", {"type": "object", "properties": {
            "temporary_password": {"type": "string"}}}), **error_responses(401, 403, 422)}}},
    "/users/{username}/sign-out": {"post": {
        "summary": "End every session of the person at once (administrators)", "parameters": [USERNAME],
        "responses": {**ok("How many sessions ended", {"type": "object", "properties": {
            "sessions_ended": {"type": "integer"}}}), **error_responses(401, 403, 422)}}},
    "/users/{username}/tokens": {
        "get": {"summary": "The person's API tokens, without their secret (administrators)",
                "parameters": [USERNAME],
                "responses": {**ok("Tokens", {"type": "object", "properties": {"tokens": {"type": "array", "items": {
                    "type": "object", "properties": {"id": {"type": "integer"}, "label": {"type": "string"},
                                                     "created_at": {"type": "string", "format": "date-time"},
                                                     "revoked_at": {"type": ["string", "null"]}}}}}}),
                    **error_responses(401, 403, 422)}},
        "post": {"summary": "A new API token for the person, shown once (administrators)",
                 "parameters": [USERNAME],
                 "requestBody": json_body({"type": "object", "properties": {"label": {"type": "string",
                                                                                       "maxLength": 100}}},
                                          required=False),
                 "responses": {**ok("The token", {"type": "object", "properties": {"token": {"type": "string"}}},
                                    201), **error_responses(401, 403, 422)}}},
    "/users/{username}/tokens/revoke": {"post": {
        "summary": "Revoke one token (token_id) or all of the person's tokens (administrators)",
        "parameters": [USERNAME],
        "requestBody": json_body({"type": "object", "properties": {"token_id": {"type": "integer"}}}, required=False),
        "responses": {**ok("How many were revoked", {"type": "object", "properties": {
            "revoked": {"type": "integer"}}}), **error_responses(401, 403, 422)}}},
    "/operations/failed": {"get": {
        "summary": "Process instances stopped by an error (administrators, supervisors)",
        "responses": {**ok("Failed instances", {"type": "object", "properties": {
            "instances": {"type": "array", "items": FAILED}}}), **error_responses(401, 403)}}},
    "/operations/instances/{instance_id}/retry": {"post": {
        "summary": "Run the failed step again (administrators, supervisors)",
        "parameters": [{"name": "instance_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {**ok("The instance's status afterwards", {"type": "object", "properties": {
            "status": {"type": "string"}}}), **error_responses(401, 403, 409)}}},
}, {"User": USER})
