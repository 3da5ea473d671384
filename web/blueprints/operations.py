"""Operations (administrators and supervisors): instances in error with a retry, and the
worker's health. The rules and the audit live in processes/engine/operations.py and the runtime."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from processes.engine import operations
from processes.engine.errors import RuntimeProblem
from web.auth import roles_required
from web.context import actor, database, runtime
from web.errors import problem_message

bp = Blueprint("operations", __name__)
url_prefix = "/admin/operations"


@bp.get("/")
@roles_required(*operations.OPERATORS)
def index():
    with database().session() as s:
        failed = operations.failed_instances(s, actor())
        health = operations.worker_health(s, actor())
    return render_template("admin/operations.html", failed=failed, health=health)


@bp.post("/instances/<int:instance_id>/retry")
@roles_required(*operations.OPERATORS)
def retry(instance_id: int):
    try:
        status = operations.retry(runtime(), actor(), instance_id)
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
    else:
        flash(_("The step ran again and the process went on.")
              if status != "error" else _("The step failed again; see the error below."),
              "success" if status != "error" else "error")
    return redirect(url_for("operations.index"))
