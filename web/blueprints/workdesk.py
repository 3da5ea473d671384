"""The inbox's tools: saved views, bulk work, exports of the current view, the escalations view."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from processes.complaints.records import EscalationRecord
from processes.engine import saved_views
from processes.engine.actors import Actor
from processes.engine.errors import RuntimeProblem
from processes.engine.inbox import EXPORT_CAP, sees_everything
from processes.engine.models import HumanTask, User
from web.auth import _safe_next
from web.context import actor, database, in_write, runtime
from web.errors import attempt, flash_attempt, problem_message
from web.inbox_export import export_response, export_table
from web.inbox_page import build_rows, inbox_state, load_page, may_bulk
from web.workspace_i18n import element_name

bp = Blueprint("workdesk", __name__)
BULK_LIMIT = 100  # tasks per bulk action
ESCALATIONS_LIMIT = 200


# -- saved views ---------------------------------------------------------------------


@bp.post("/inbox/views")
@login_required
def save_view():
    who = actor()
    query = saved_views.clean_query(request.form)
    try:
        with database().write_session.begin() as s:
            view = saved_views.save(
                s, who, request.form.get("name", ""), query, shared=request.form.get("shared") == "1"
            )
            name = view.name
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
        return redirect(url_for("tasks.inbox", **query))
    flash(_("View “%(name)s” saved.", name=name), "success")
    return redirect(url_for("tasks.inbox", **query))


@bp.post("/inbox/views/<int:view_id>/delete")
@login_required
def delete_view(view_id: int):
    flash_attempt(lambda: in_write(saved_views.delete, actor(), view_id), (_("View deleted."), "info"))
    return redirect(url_for("tasks.inbox"))


# -- bulk work -----------------------------------------------------------------------


@bp.post("/inbox/bulk")
@login_required
def bulk():
    """Claim, reassign or release the selected tasks, one unit of work each: the result per task
    says what happened (another person may have taken or finished one meanwhile)."""
    who = actor()
    if not may_bulk(who):
        abort(403)
    action = request.form.get("action")
    ids = list(dict.fromkeys(i for i in request.form.getlist("task") if i))[: BULK_LIMIT + 1]
    back = _safe_next(request.form.get("next")) or url_for("tasks.inbox")
    if action not in ("claim", "reassign", "release"):
        flash(_("Choose what to do with the selected tasks."), "error")
        return redirect(back)
    if not ids:
        flash(_("Select at least one task."), "error")
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        flash(_("At most %(n)d tasks at once.", n=BULK_LIMIT), "error")
        return redirect(back)
    target = None
    if action == "reassign":
        username = (request.form.get("to") or "").strip()[:80]
        with database().session() as s:
            user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            flash(_("Choose a colleague to give the tasks to."), "error")
            return redirect(back)
        target = (Actor(user.username, user.department, user.role), user.display_name or user.username)
    results = [_one(who, action, task_id, target) for task_id in ids]
    with database().session() as s:
        for result in results:
            row = s.get(HumanTask, result["id"])
            result["reference"] = row.business_key if row else "—"
            result["name"] = element_name(s, row.bpmn_id, row.name) if row else "—"
    return render_template(
        "inbox_bulk.html",
        results=results,
        action=action,
        back=back,
        target=target[1] if target else None,
        done=sum(r["ok"] for r in results),
    )


def _one(who: Actor, action: str, task_id: str, target) -> dict:
    ok, refusal = attempt(lambda: _do(who, action, task_id, target))
    return {"id": task_id, "ok": ok, "message": _("Done.") if ok else refusal}


def _do(who: Actor, action: str, task_id: str, target) -> None:
    if action == "claim":
        runtime().claim(task_id, who)
    elif action == "release":
        runtime().unclaim(task_id, who)
    else:
        row = runtime().reassign(task_id, who, target[0])
        _notify(row, target[0].username, who.username)


def _notify(row: HumanTask, username: str, by: str) -> None:
    from processes.complaints.records import Notification

    with database().write_session.begin() as s:
        s.add(
            Notification(
                recipient_type="user",
                recipient=username,
                business_key=row.business_key,
                template="task_assigned",
                subject=row.name,
                payload={"task_id": row.id, "by": by},
            )
        )


# -- export --------------------------------------------------------------------------


@bp.get("/inbox/export.<fmt>")
@login_required
def export(fmt: str):
    """The current view (scope, filters, order), all its pages up to EXPORT_CAP rows."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    who = actor()
    state = inbox_state()
    state.page, state.after, state.before = 1, None, None
    with database().session() as s:
        page = load_page(s, who, state, EXPORT_CAP, with_count=False)
    table = export_table(page["rows"], page["now"])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return export_response(table, fmt, f"inbox-{stamp}")


# -- escalations ---------------------------------------------------------------------


@bp.get("/escalations")
@login_required
def escalations():
    """Complaints above the first level: the level, time at it, why, and who holds the work now."""
    who = actor()
    if not may_bulk(who):
        abort(403)
    now = datetime.now(UTC)
    with database().session() as s:
        query = (
            select(HumanTask)
            .where(HumanTask.status == "open", HumanTask.escalation_level > 1)
            .order_by(HumanTask.escalation_level.desc(), HumanTask.priority, HumanTask.due_at)
            .limit(ESCALATIONS_LIMIT)
        )
        if not sees_everything(who):
            query = query.where(HumanTask.department == who.department)
        tasks = list(s.scalars(query))
        keys = sorted({t.business_key for t in tasks})
        latest: dict[str, EscalationRecord] = {}
        if keys:
            for record in s.scalars(
                select(EscalationRecord)
                .where(EscalationRecord.business_key.in_(keys))
                .order_by(EscalationRecord.at)
            ):
                latest[record.business_key] = record  # the last step wins
        rows = build_rows(s, who, tasks, now)
    levels: dict[int, list] = {}
    for row in rows:
        task = row["task"]
        record = latest.get(task.business_key)
        row["record"] = record
        row["since"] = record.at if record else task.created_at
        row["at_level"] = _span(now - row["since"])
        levels.setdefault(task.escalation_level, []).append(row)
    return render_template(
        "escalations.html",
        levels=sorted(levels.items(), reverse=True),
        total=len(rows),
        limit=ESCALATIONS_LIMIT,
    )


def _span(delta) -> str:
    hours = int(delta.total_seconds() // 3600)
    days, hours = divmod(max(hours, 0), 24)
    return _("%(d)d d %(h)d h", d=days, h=hours) if days else _("%(h)d h", h=hours)
