"""Administration: staff accounts (create, edit, deactivate, reset, sign out, tokens) and the
outbox of customer e-mail. The rules live in processes/engine/users.py; a view reads the form,
calls the service and shows its message next to the field it is about."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from processes.channels import outbound_mail
from processes.channels.outbound_mail import outbox as outbox_messages
from processes.engine import sessions as staff_sessions
from processes.engine import users
from processes.engine.actors import DEPARTMENTS, ROLES
from processes.engine.errors import RuntimeProblem
from processes.engine.operations import OPERATORS, OperationRefused
from web.auth import roles_required
from web.context import actor, database, runtime
from web.errors import problem_message

bp = Blueprint("admin", __name__)
url_prefix = "/admin"
# The states processes/outbound_mail.py gives a message.
STATUSES = ("outbox", "pending", "sending", "sent", "failed", "skipped", "discarded")
FIELDS = ("username", "display_name", "email", "department", "role", "locale")


@bp.get("/")
@roles_required("admin", "supervisor", "compliance_reviewer", "process_designer", "manager")
def index():
    return render_template("admin/index.html")


@bp.get("/outbox")
@roles_required(*OPERATORS)
def outbox():
    status = request.args.get("status")
    status = status if status in STATUSES else None
    with database().session() as s:
        messages = outbox_messages(s, status=status, limit=200)
    return render_template("admin_outbox.html", messages=messages, status=status, statuses=STATUSES)


def _message_page(message_id: int, errors: dict | None = None, reason: str = "", status: int = 200):
    with database().session() as s:
        row = outbound_mail.message(s, actor(), message_id)
        return render_template("admin/outbox_message.html", m=row, errors=errors or {}, reason=reason,
                               resendable=row.status in outbound_mail.RESENDABLE,
                               discardable=row.status in outbound_mail.DISCARDABLE,
                               smtp=_smtp()), status


def _smtp() -> bool:
    mailer = getattr(runtime(), "mailer", None)
    return mailer is not None and mailer.smtp is not None


@bp.get("/outbox/<int:message_id>")
@roles_required(*OPERATORS)
def outbox_message(message_id: int):
    return _message_page(message_id)


@bp.post("/outbox/<int:message_id>/resend")
@roles_required(*OPERATORS)
def outbox_resend(message_id: int):
    try:
        with database().write_session.begin() as s:
            outbound_mail.resend(s, actor(), message_id, _smtp())
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
    else:
        mailer = getattr(runtime(), "mailer", None)
        if mailer is not None:
            mailer.deliver_due()  # now, not at the next sweep
        flash(_("The message was queued again."), "success")
    return redirect(url_for("admin.outbox_message", message_id=message_id))


@bp.post("/outbox/<int:message_id>/discard")
@roles_required(*OPERATORS)
def outbox_discard(message_id: int):
    reason = (request.form.get("reason") or "")[:5000]
    try:
        with database().write_session.begin() as s:
            outbound_mail.discard(s, actor(), message_id, reason)
    except OperationRefused as exc:
        return _message_page(message_id, {"reason": problem_message(exc)}, reason, 422)
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
    else:
        flash(_("The message is discarded and will not be sent."), "success")
    return redirect(url_for("admin.outbox_message", message_id=message_id))


# -- staff accounts ----------------------------------------------------------------------


def _choices() -> dict:
    return {"departments": DEPARTMENTS, "roles": ROLES, "locales": users.LOCALES}


@bp.get("/users")
@roles_required("admin")
def user_list():
    search = request.args.get("q", "")[:100]
    with database().session() as s:
        rows = users.list_users(s, search)
    return render_template("admin/users.html", users=rows, q=search)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    values = {name: (request.form.get(name) or "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with database().write_session.begin() as s:
                user, temporary = users.create_account(
                    s, actor(), values["username"], values["department"], values["role"],
                    display_name=values["display_name"], email=values["email"], locale=values["locale"])
                username = user.username
        except users.UserError as exc:
            errors[exc.field] = problem_message(exc)
        else:
            return render_template("admin/user_created.html", username=username, temporary=temporary)
    return render_template("admin/user_new.html", values=values, errors=errors, **_choices()), (
        422 if errors else 200)


def _user_page(username: str, errors: dict | None = None, values: dict | None = None, status: int = 200):
    with database().session() as s:
        user = users.find_user(s, username)
        tokens = users.list_tokens(s, username)
        open_sessions = staff_sessions.open_sessions(s, user.id)
    values = values or {name: getattr(user, name) or "" for name in FIELDS}
    return render_template("admin/user_edit.html", user=user, values=values, errors=errors or {},
                           tokens=tokens, sessions=open_sessions, **_choices()), status


@bp.get("/users/<username>")
@roles_required("admin")
def user_edit(username: str):
    try:
        return _user_page(username)
    except users.UserError:
        return render_template("error.html", status=404, message=_("No such staff account.")), 404


@bp.post("/users/<username>")
@roles_required("admin")
def user_save(username: str):
    changes = {name: (request.form.get(name) or "").strip() for name in users.EDITABLE}
    try:
        with database().write_session.begin() as s:
            changed = users.edit_account(s, actor(), username, **changes)
    except users.UserError as exc:
        return _user_page(username, {exc.field: problem_message(exc)}, {"username": username, **changes}, 422)
    flash(_("Saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("admin.user_edit", username=username))


def _act(username: str, action):
    """Run one account action; its message or its refusal as a notice on the account page."""
    try:
        with database().write_session.begin() as s:
            result = action(s)
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
        return None
    return result


@bp.post("/users/<username>/deactivate")
@roles_required("admin")
def user_deactivate(username: str):
    return _set_active(username, False, _("The account is deactivated; its sessions and tokens ended at once."))


@bp.post("/users/<username>/reactivate")
@roles_required("admin")
def user_reactivate(username: str):
    return _set_active(username, True, _("The account is active again."))


def _set_active(username: str, active: bool, done: str):
    if _act(username, lambda s: users.set_active(s, actor(), username, active)) is not None:
        flash(done, "success")
    return redirect(url_for("admin.user_edit", username=username))


@bp.post("/users/<username>/reset-password")
@roles_required("admin")
def user_reset_password(username: str):
    temporary = _act(username, lambda s: users.reset_password(s, actor(), username))
    if temporary is None:
        return redirect(url_for("admin.user_edit", username=username))
    return render_template("admin/user_created.html", username=username, temporary=temporary, reset=True)


@bp.post("/users/<username>/sign-out")
@roles_required("admin")
def user_sign_out(username: str):
    count = _act(username, lambda s: users.force_sign_out(s, actor(), username))
    if count is not None:
        flash(_("%(count)s sessions ended.", count=count), "success")
    return redirect(url_for("admin.user_edit", username=username))


@bp.post("/users/<username>/tokens/revoke")
@roles_required("admin")
def user_revoke_tokens(username: str):
    token_id = request.form.get("token_id", "")
    count = _act(username, lambda s: users.revoke_tokens(s, actor(), username,
                                                         int(token_id) if token_id.isdigit() else None))
    if count is not None:
        flash(_("%(count)s tokens revoked.", count=count), "success")
    return redirect(url_for("admin.user_edit", username=username))
