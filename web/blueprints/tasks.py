"""The staff inbox."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from processes.inbox import SCOPES, list_tasks
from web.context import actor, database

bp = Blueprint("tasks", __name__)


@bp.get("/")
@login_required
def inbox():
    scope = request.args.get("scope", "mine")
    if scope not in SCOPES:
        scope = "mine"
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and int(page) > 0 else 1
    with database().session() as s:
        result = list_tasks(s, actor(), scope, page)
    return render_template("inbox.html", result=result, scope=scope)
