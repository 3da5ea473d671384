"""The staff inbox, the task page and in-app notifications."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, func, or_, select

from processes.complaints.records import Complaint, Notification
from processes.complaints.registration import CATEGORIES, CHANNELS, SEVERITIES
from processes.engine import forms
from processes.engine.actors import WORKER_ROLES, Actor, may_be_given, may_see, may_work
from processes.engine.errors import Forbidden, NotFound, ProcessFailed, RuntimeProblem, ValidationFailed
from processes.engine.inbox import (
    ASSIGNMENT,
    LEVELS,
    SLA_STATES,
    Filters,
    list_tasks,
    sees_everything,
    sla_state,
)
from processes.engine.models import HumanTask, User
from web.answer_page import fill as fill_answers
from web.answer_page import panel as answer_panel
from web.answer_page import with_drafts
from web.auth import _safe_next, landing_page
from web.blueprints.complaints import (
    attachment_folder,
    customer_file_rows,
    customer_view,
    record_uploads,
    repeat_count,
    staff_files,
    timeline,
)
from web.case_file import case_summary, clock_rows
from web.context import actor, database, runtime
from web.errors import problem_message
from web.form_render import attachment_label, form_fields, form_title, read_submission, store_upload
from web.i18n import ui_language
from web.inbox_page import assignee_choices, department_choices, inbox_state, load_page, may_bulk
from web.saved_views import for_nav
from web.time_words import countdown, countdown_words, local_day, local_time, time_zone_label
from web.workspace_i18n import element_name

bp = Blueprint("tasks", __name__)
PER_PAGE = 25


@bp.errorhandler(RuntimeProblem)
def runtime_problem(exc: RuntimeProblem):
    """The runtime speaks English; say it in the person's language on the same error page."""
    return render_template("error.html", status=exc.status, message=problem_message(exc)), exc.status


# -- the inbox ----------------------------------------------------------------------


@bp.get("/")
@login_required
def inbox():
    who = actor()
    if who.role not in WORKER_ROLES:  # designers and reviewers have no case work: their own page
        return redirect(landing_page(who.role))
    return render_template("inbox.html", **_inbox_context(who, with_choices=True))


@bp.get("/inbox/rows")
@login_required
def inbox_rows():
    """The table body alone, for the page's row refresh (htmx polling; no full-page reload)."""
    return render_template("_inbox_rows.html", oob=True, **_inbox_context(actor(), with_choices=False))


@bp.get("/inbox/view-counts")
@login_required
def view_counts():
    """The saved views' counts, which the page fetches once it is shown (htmx): each is a count of
    its own, and the page's rows need not wait for them."""
    with database().session() as s:
        saved = for_nav(s, actor())
    return render_template("_view_counts.html", saved=saved)


def _inbox_context(who: Actor, with_choices: bool) -> dict:
    state = inbox_state()
    with database().session() as s:
        page = load_page(s, who, state, PER_PAGE)
        extra = {}
        if with_choices:
            extra = {"assignees": assignee_choices(s, who), "saved": for_nav(s, who, with_counts=False)}
    rows = page.pop("rows")
    for row in rows:
        row["countdown"] = countdown(row["task"].due_at, page["now"])
    return {"rows": rows, **page, **extra, "state": state, "scope": state.scope, "filters": state.filters,
            "active": state.filters.active(), "sees_all": sees_everything(who), "bulk": may_bulk(who),
            "categories": CATEGORIES, "severities": SEVERITIES, "channels": CHANNELS, "sla_states": SLA_STATES,
            "departments": department_choices(), "levels": LEVELS, "assignment": ASSIGNMENT}


# -- claiming -----------------------------------------------------------------------


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    row = runtime().claim(task_id, actor())
    flash(_("You took the task for %(reference)s.", reference=row.business_key), "success")
    return redirect(_safe_next(request.form.get("next")) or url_for("tasks.task", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    row = runtime().unclaim(task_id, actor())
    flash(_("The task for %(reference)s is back in the department's queue.", reference=row.business_key), "info")
    return redirect(url_for("tasks.inbox", scope="group"))


@bp.post("/tasks/<task_id>/reassign")
@login_required
def reassign(task_id: str):
    username = (request.form.get("to") or "").strip()
    with database().session() as s:
        user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        flash(_("Choose a colleague to give the task to."), "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    row = runtime().reassign(task_id, actor(), Actor(user.username, user.department, user.role))
    _notify_assigned(row, user.username)
    flash(_("The task is now %(name)s's.", name=user.display_name or user.username), "success")
    return redirect(url_for("tasks.task", task_id=task_id))


def _notify_assigned(row: HumanTask, username: str) -> None:
    """An in-app notice for the person a task was given to."""
    with database().write_session.begin() as s:
        s.add(Notification(recipient_type="user", recipient=username, business_key=row.business_key,
                           template="task_assigned", subject=row.name,
                           payload={"task_id": row.id, "by": current_user.username}))


# -- the task page ------------------------------------------------------------------


def _visible_task(task_id: str) -> tuple[HumanTask, dict | None]:
    row, schema = runtime().task_form(task_id)
    if not may_see(actor(), row.department, row.assignee):
        raise Forbidden(_("This task belongs to another department. Ask its department or a supervisor."))
    return row, schema


def _side_panel(row: HumanTask) -> dict:
    """The complaint's facts and history shown beside the form."""
    with database().session() as s:
        complaint = s.scalar(select(Complaint).where(Complaint.reference == row.business_key))
        history = timeline(s, row.business_key)
        name = element_name(s, row.bpmn_id, row.name)
        colleagues = []
        who = actor()
        if who.is_overseer or who.role == "manager" or row.assignee == who.username:
            # Only people who may work the task itself (a manager's approval goes to managers).
            colleagues = [u for u in s.scalars(select(User).where(User.department == row.department,
                                                                  User.active.is_(True)).order_by(User.username))
                          if may_be_given(Actor(u.username, u.department, u.role), row.department,
                                          row.candidate_group, row.not_by)]
        # A suspected duplicate is decided with the earlier complaint beside it.
        original = None
        if complaint is not None and complaint.duplicate_of:
            original = s.scalar(select(Complaint).where(Complaint.reference == complaint.duplicate_of))
        repeat = repeat_count(s, complaint) if complaint is not None else 0
        files = {"staff_files": staff_files(row.business_key, history, complaint) if complaint else [],
                 "customer_file_rows": customer_file_rows(s, row.business_key) if complaint else []}
        summary = (case_summary(s, complaint, who, history=history, facts=_task_facts(row))
                   if complaint is not None else None)
    return {"complaint": complaint, "customer": customer_view(complaint, actor()) if complaint else None,
            "original": original, "original_customer": customer_view(original, actor()) if original else None,
            "history": history[-30:], "task_name": name, "colleagues": colleagues, "summary": summary,
            "clocks": clock_rows(summary) if summary else [], "repeat": repeat, **files,
            "repeat_days": (runtime().settings or {}).get("repeat_window_days", 180)}


def _task_facts(row: HumanTask) -> dict | None:
    """The process data the task sees (amounts the policy proposed), while it is open."""
    return runtime().task_data(row.id) if row.status == "open" else None


def _initial_values(row: HumanTask, schema: dict | None) -> dict:
    """A saved draft wins; else what the process already knows of the form's fields."""
    if row.draft:
        return dict(row.draft)
    if not schema or row.status != "open":
        return {}
    data = runtime().task_data(row.id)
    known = {k: v for k, v in data.items() if k in forms.declared_fields(schema) and v is not None}
    return with_drafts(row, schema, known)  # an answer starts from its template


def _render_task(row: HumanTask, schema: dict | None, values: dict, errors: dict, status: int = 200,
                 preview: bool = False):
    who = actor()
    panel = _side_panel(row)
    facts = runtime().task_data(row.id) if row.status == "open" and schema else {}
    fields = form_fields(schema, values, errors, facts=facts)
    field_names = {f.name for f in fields}
    general = [m for k, m in errors.items() if k not in field_names]
    return render_template(
        "task.html", task=row, schema=schema, fields=fields, errors=errors, general_errors=general,
        title=form_title(schema, panel["task_name"]), may_work=may_work(who, row.department, row.candidate_group,
                                                                         row.assignee, row.not_by),
        now=datetime.now(UTC), sla=sla_state(row), countdown=countdown(row.due_at, datetime.now(UTC)),
        attachment_label=attachment_label, answer=answer_panel(row, schema, values, preview and not errors),
        four_eyes=row.not_by is not None and row.not_by == who.username, **panel), status


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    row, schema = _visible_task(task_id)
    return _render_task(row, schema, _initial_values(row, schema), {})


@bp.post("/tasks/<task_id>")
@login_required
def submit(task_id: str):
    row, schema = _visible_task(task_id)
    if row.status != "open":
        flash(_("This task was already done."), "info")
        return redirect(url_for("tasks.task", task_id=task_id))
    if not may_work(actor(), row.department, row.candidate_group, row.assignee, row.not_by):
        # Checked before anything is read or stored; the runtime checks again when completing.
        raise Forbidden(_("This task is assigned to someone else, or belongs to another department."))
    folder = attachment_folder()
    stored: list[str] = []

    def keep(upload) -> str:
        stored.append(store_upload(folder, row.business_key, upload))
        return stored[-1]

    data, raw, errors = read_submission(schema, request.form, request.files, keep)
    if stored:
        record_uploads(row.business_key, stored, task=row.bpmn_id)
    if request.form.get("action") == "draft":
        try:
            runtime().save_draft(task_id, actor(), raw, locale=ui_language())
        except ValidationFailed as failure:
            return _render_task(row, schema, raw, failure.errors, 422)
        flash(_("Draft saved. Nothing was sent on; you can finish later."), "info")
        return redirect(url_for("tasks.task", task_id=task_id))
    locale = ui_language()
    data, answer_errors = fill_answers(row, schema, data, final=request.form.get("action") != "preview")
    errors = {**answer_errors, **errors}
    if request.form.get("action") == "preview":
        # Nothing is stored or sent: the page comes back with what was typed and the letter.
        return _render_task(row, schema, raw, errors, 422 if errors else 200, preview=True)
    if errors:
        # Show every problem at once: the ones that did not parse and the schema's own.
        merged = {**forms.validate(schema, forms.clean(schema, data), locale), **errors}
        return _render_task(row, schema, raw, merged, 422)
    try:
        runtime().complete(task_id, actor(), data, locale=locale)
    except ValidationFailed as failure:
        return _render_task(row, schema, raw, failure.errors, 422)
    except ProcessFailed as failure:
        # The engine failed after the input: say so above the form, with what was typed.
        return _render_task(row, schema, raw, {"_process": problem_message(failure)}, failure.status)
    return redirect(url_for("tasks.done", task_id=task_id))


@bp.get("/tasks/<task_id>/done")
@login_required
def done(task_id: str):
    """What happened after completing: where the complaint went and who acts next."""
    row, _schema = _visible_task(task_id)
    who = actor()
    with database().session() as s:
        complaint = s.scalar(select(Complaint).where(Complaint.reference == row.business_key))
        next_tasks = list(s.scalars(select(HumanTask).where(HumanTask.business_key == row.business_key,
                                                            HumanTask.status == "open")
                                    .order_by(HumanTask.created_at)))
        names = {t.id: element_name(s, t.bpmn_id, t.name) for t in next_tasks}
        name = element_name(s, row.bpmn_id, row.name)
        instance = runtime().instance_for(row.business_key)
    following = [{"task": t, "name": names[t.id], "mine": may_work(who, t.department, t.candidate_group, t.assignee, t.not_by)}
                 for t in next_tasks]
    return render_template("task_done.html", task=row, task_name=name, complaint=complaint, following=following,
                           instance=instance)


# -- notifications ------------------------------------------------------------------


def _notification_model():
    return Notification


def _for_me(model, who: Actor):
    return or_(and_(model.recipient_type == "user", model.recipient == who.username),
               and_(model.recipient_type == "department", model.recipient == (who.department or "")),
               and_(model.recipient_type == "role", model.recipient == who.role))


@bp.get("/notifications")
@login_required
def notifications():
    who = actor()
    model = _notification_model()
    items = []
    now = datetime.now(UTC)
    with database().session() as s:
        if model is not None:
            items = list(s.scalars(select(model).where(_for_me(model, who))
                                   .order_by(model.created_at.desc()).limit(100)))
        # Supervisors and managers watch every deadline they oversee; others their own tasks.
        scope = "all" if who.role in ("supervisor", "manager", "admin") else "mine"
        at_risk = list_tasks(s, who, scope, 1, 20, filters=Filters(sla="at_risk"), now=now).tasks
        breached = list_tasks(s, who, scope, 1, 20, filters=Filters(sla="breached"), now=now).tasks
        names = {t.id: element_name(s, t.bpmn_id, t.name) for t in at_risk + breached}
    return render_template("notifications.html", items=items, at_risk=at_risk, breached=breached, names=names,
                           overseeing=scope == "all", countdown=lambda due: countdown(due, now))


@bp.post("/notifications/<int:note_id>/read")
@login_required
def notification_read(note_id: int):
    model = _notification_model()
    if model is None:
        abort(404)
    who = actor()
    with database().write_session.begin() as s:
        note = s.get(model, note_id)
        if note is None or not s.scalar(select(func.count()).select_from(model)
                                        .where(model.id == note_id, _for_me(model, who))):
            raise NotFound(_("This notification does not exist."))
        if note.read_at is None:
            note.read_at = datetime.now(UTC)
    return redirect(url_for("tasks.notifications"))


@bp.app_context_processor
def unread_notifications():
    """The count on the bell in the navigation bar: one indexed query per page."""
    if not getattr(current_user, "is_authenticated", False) or "redress.db" not in current_app.extensions:
        return {"unread_count": 0}
    model = _notification_model()
    if model is None:
        return {"unread_count": 0}
    try:
        who = actor()
        with database().session() as s:
            count = s.scalar(select(func.count()).select_from(model)
                             .where(_for_me(model, who), model.read_at.is_(None)))
    except Exception:  # noqa: BLE001 - a missing count never breaks a page (e.g. the error page itself)
        count = 0
    return {"unread_count": count or 0}


# -- template helpers ---------------------------------------------------------------


@bp.app_template_global("person")
def _person(actor_id: str | None) -> str:
    from web.workspace_i18n import person

    return person(actor_id)


@bp.app_template_global("detail_text")
def _detail_text(detail) -> str:
    from web.workspace_i18n import detail_text

    return detail_text(detail)


@bp.app_template_global("label")
def _label(kind: str, value) -> str:
    from web.workspace_i18n import label

    return label(kind, value)


bp.add_app_template_filter(local_time, "dt")
bp.add_app_template_filter(local_day, "day")
bp.add_app_template_global(time_zone_label, "time_zone_label")
bp.add_app_template_global(countdown_words, "countdown_words")


@bp.app_template_global("bpmn_name")
def _bpmn_name(bpmn_id: str | None, fallback: str | None = None) -> str:
    """A BPMN element's name in the chosen language (for timelines that store ids)."""
    if not bpmn_id:
        return fallback or ""
    with database().session() as s:
        return element_name(s, bpmn_id, fallback or bpmn_id)
