"""Operations (administrators and supervisors): instances in error with retry, skip (four eyes:
a second person confirms) and cancel with a reason, and the worker's health. The rules and the
audit live in processes/engine/operations.py and the runtime."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from processes.engine import operations
from processes.engine.errors import RuntimeProblem
from processes.engine.models import ProcessInstance
from web.auth import roles_required
from web.context import actor, database, in_write, runtime
from web.errors import flash_attempt, problem_message

bp = Blueprint("operations", __name__)
url_prefix = "/admin/operations"


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    with database().session() as s:
        failed = operations.failed_instances(s, actor())
        health = operations.worker_health(s, actor())
        skips = {r.instance_id: r for r in operations.pending_skips(s, actor())}
    return render_template("admin/operations.html", failed=failed, health=health, skips=skips,
                           errors=errors or {}, values=values or {}), status


@bp.get("/")
@roles_required(*operations.OPERATORS)
def index():
    return _page()


@bp.post("/instances/<int:instance_id>/retry")
@roles_required(*operations.OPERATORS)
def retry(instance_id: int):
    flash_attempt(lambda: operations.retry(runtime(), actor(), instance_id),
                  lambda status: (_("The step ran again and the process went on."), "success") if status != "error"
                  else (_("The step failed again; see the error below."), "error"))
    return redirect(url_for("operations.index"))


@bp.post("/instances/<int:instance_id>/skip")
@roles_required(*operations.OPERATORS)
def request_skip(instance_id: int):
    reason = (request.form.get("reason") or "")[:5000]
    try:
        with database().write_session.begin() as s:
            operations.request_skip(s, actor(), instance_id, reason)
    except operations.OperationRefused as exc:
        return _page({f"reason-{instance_id}": problem_message(exc)}, {f"reason-{instance_id}": reason}, 422)
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
    else:
        flash(_("Skipping is requested; a second person must confirm it."), "success")
    return redirect(url_for("operations.index"))


@bp.post("/skips/<int:request_id>/confirm")
@roles_required(*operations.OPERATORS)
def confirm_skip(request_id: int):
    flash_attempt(lambda: operations.confirm_skip(runtime(), actor(), request_id),
                  lambda status: (_("The step was skipped and the process went on."), "success") if status != "error"
                  else (_("The step was skipped, but the process stopped at another step."), "error"))
    return redirect(url_for("operations.index"))


@bp.post("/skips/<int:request_id>/refuse")
@roles_required(*operations.OPERATORS)
def refuse_skip(request_id: int):
    flash_attempt(lambda: in_write(operations.refuse_skip, actor(), request_id),
                  _("The skip was refused; the step still waits for a retry."))
    return redirect(url_for("operations.index"))


@bp.post("/cancel")
@roles_required(*operations.OPERATORS)
def cancel():
    reference = (request.form.get("reference") or "").strip()[:100]
    reason = (request.form.get("cancel_reason") or "")[:5000]
    values = {"reference": reference, "cancel_reason": reason}
    with database().session() as s:
        instance_id = s.scalar(select(ProcessInstance.id).where(
            ProcessInstance.business_key == reference, ProcessInstance.parent_instance_id.is_(None))
            .order_by(ProcessInstance.id.desc()).limit(1)) if reference else None
    if instance_id is None:
        return _page({"reference": _("No complaint has this reference.")}, values, 422)
    try:
        operations.cancel(runtime(), actor(), instance_id, reason)
    except operations.OperationRefused as exc:
        return _page({"cancel_reason": problem_message(exc)}, values, 422)
    except RuntimeProblem as exc:
        return _page({"reference": problem_message(exc)}, values, exc.status)
    flash(_("Complaint %(reference)s is cancelled; its open tasks and timers ended.", reference=reference), "success")
    return redirect(url_for("operations.index"))
