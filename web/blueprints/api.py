"""The JSON API under /api/v1: bearer tokens for other systems, the session for the browser."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from processes.complaints.privacy import mask_data
from processes.engine.actors import may_see
from processes.engine.errors import N_, Forbidden, ValidationFailed
from processes.engine.inbox import SCOPES, list_tasks, task_summary
from web.answer_page import fill as fill_answers
from web.auth import authenticate_api_request
from web.context import actor, database, runtime
from web.input_guard import json_body
from web.openapi import openapi_document
from web.security import csrf

bp = Blueprint("api", __name__)
url_prefix = "/api/v1"
csrf.exempt(bp)


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return None
    return authenticate_api_request()


def _body() -> dict:
    return json_body(required=False)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/tasks")
def tasks():
    scope = request.args.get("scope", "mine")
    if scope not in SCOPES:
        abort(400, f"scope must be one of {', '.join(SCOPES)}")
    page = request.args.get("page", "1")
    per_page = request.args.get("per_page", "50")
    if not page.isdigit() or not per_page.isdigit() or not 1 <= int(per_page) <= 200:
        abort(400, "page must be a positive number and per_page between 1 and 200")
    with database().read_session() as s:  # a read: no transaction around it (Database.read_session)
        result = list_tasks(s, actor(), scope, int(page), int(per_page))
        return jsonify({"tasks": [task_summary(t) for t in result.tasks], "page": result.page,
                        "has_next": result.has_next})


@bp.get("/tasks/<task_id>")
def task(task_id: str):
    row, schema = runtime().task_form(task_id)
    if not may_see(actor(), row.department, row.assignee):
        raise Forbidden(N_("This task belongs to another department."))
    body = task_summary(row)
    body.update(status=row.status, department=row.department, form=schema,
                data=mask_data(_visible_data(runtime().task_data(task_id), schema), actor())
                if row.status == "open" else {},
                draft=row.draft)
    return jsonify(body)


def _visible_data(data: dict, schema: dict | None) -> dict:
    """The case facts a worker needs, without the process's internal settings."""
    hidden = {"settings"}
    return {k: v for k, v in data.items() if k not in hidden and not k.startswith("spiff__")}


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    return jsonify(task_summary(runtime().claim(task_id, actor())))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str):
    return jsonify(task_summary(runtime().unclaim(task_id, actor())))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str):
    body = _body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        abort(400, '"data" must be a JSON object of the form\'s fields.')
    locale = "zh-CN" if request.accept_languages.best_match(["zh-CN", "en"]) == "zh-CN" else "en"
    open_tasks = runtime().complete(task_id, actor(), data, locale=locale, prepare=_filled_answers)
    return jsonify({"tasks": [task_summary(t) for t in open_tasks]})


def _filled_answers(row, schema: dict | None, data: dict) -> dict:
    """An answer's placeholders filled (and checked) exactly as on the task page; run by the
    runtime on the task it locked, so the task and its form are not read twice."""
    data, errors = fill_answers(row, schema, data)
    if errors:
        raise ValidationFailed(errors)
    return data

