"""My account: change my password (forced after an administrator's reset) and see or end my sessions."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from processes.engine import sessions as staff_sessions
from processes.engine.models import StaffSession, utcnow
from processes.engine.users import UserError, change_own_password
from web.auth import SESSION_KEY
from web.context import database
from web.errors import problem_message

bp = Blueprint("account", __name__)
url_prefix = "/account"
# What a person who must change the password may still open.
_OPEN_WHILE_FORCED = {"account.index", "account.password", "auth.logout", "auth.language", "static"}


@bp.before_app_request
def password_change_first():
    """After an administrator's reset, nothing but the password change until it is done."""
    if (not current_user.is_authenticated or not current_user.must_change_password
            or request.endpoint in _OPEN_WHILE_FORCED):
        return None
    if request.path.startswith("/api/"):
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None  # a token speaks for its own user, not for this browser's session
        return jsonify({"error": _("Change your temporary password first (My account).")}), 403
    return redirect(url_for("account.index"))


def _page(errors: dict | None = None, status: int = 200):
    with database().session() as s:
        rows = staff_sessions.open_sessions(s, current_user.id)
    key = session.get(SESSION_KEY)
    return render_template("account/index.html", sessions=rows, errors=errors or {},
                           current=lambda row: staff_sessions.is_current(row, key),
                           ), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/password")
@login_required
def password():
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    if new != again:
        return _page({"new_password_again": _("The two new passwords differ.")}, 422)
    try:
        with database().write_session.begin() as s:
            ended = change_own_password(s, current_user.id, request.form.get("current_password", ""), new,
                                        keep_key=session.get(SESSION_KEY))
    except UserError as exc:
        return _page({exc.field: problem_message(exc)}, 422)
    flash(_("Your password has been changed; %(count)s other sessions were ended.", count=ended), "success")
    return redirect(url_for("tasks.inbox"))


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    with database().write_session.begin() as s:
        row = s.get(StaffSession, session_id)
        if row is not None and row.user_id == current_user.id and row.ended_at is None:
            row.ended_at, row.end_reason = utcnow(), "ended_by_user"
    flash(_("The session has been ended."), "success")
    return redirect(url_for("account.index"))
