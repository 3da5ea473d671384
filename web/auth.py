"""Logging in and out. Each sign-in is a server-side session row (processes/engine/sessions.py):
the cookie carries its key, and the user loader checks the row on every request, so logout,
password change, deactivation and force sign-out end it at once; it expires after
PERMANENT_SESSION_LIFETIME."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from processes.engine import audit
from processes.engine import sessions as staff_sessions
from processes.engine.models import User
from processes.engine.users import authenticate, user_for_token
from web.context import database
from web.login_throttle import record_failure, record_success, wait_seconds
from web.security import csrf

login_manager = LoginManager()
bp = Blueprint("auth", __name__)


class StaffUser:
    """What Flask-Login keeps of a user for a request."""

    def __init__(self, user: User):
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.department = user.department
        self.role = user.role
        self.locale = user.locale
        self.is_active = user.active
        self.must_change_password = user.must_change_password

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


SESSION_KEY = "sid"  # the server-side session's key in the signed cookie


@login_manager.user_loader
def load_user(user_id: str):
    """The user of this browser's open session row; None (back to the login page) once it ended."""
    with database().session() as s:
        found = staff_sessions.resolve(s, session.get(SESSION_KEY))
        if found is None or str(found[0].id) != user_id:
            return None
        user, row = found
        staff = StaffUser(user)
    if staff_sessions.touch_due(row):
        with database().write_session.begin() as s:
            staff_sessions.touch(s, row)
    return staff


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str | None:
    """A path on this site to go back to, or None: no other host, no header-splitting characters."""
    if not target or len(target) > 2000 or any(ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()[:200]
        address = request.remote_addr or "unknown"
        with database().write_session.begin() as s:
            wait = wait_seconds(s, username, address)
            user = None if wait else authenticate(s, username, form.password.data)
            if user is not None:
                record_success(s, username, address)
                audit.append(s, user.username, "logged_in")
                staff = StaffUser(user)
                key = staff_sessions.start(s, user, current_app.permanent_session_lifetime,
                                           request.remote_addr, request.user_agent.string)
            elif not wait:
                record_failure(s, username, address)
        if wait:
            error = _("Too many failed attempts. Try again in %(seconds)s seconds.", seconds=wait)
            return render_template("login.html", form=form, error=error), 429, {"Retry-After": str(wait)}
        if user is not None:
            session.clear()
            session.permanent = True
            session[SESSION_KEY] = key
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")) or landing_page(user.role))
        error = _("Wrong user name or password.")
    elif request.method == "POST":
        error = _("Enter your user name and password.")
    return render_template("login.html", form=form, error=error), (401 if error else 200)


def landing_page(role: str) -> str:
    """Each role's own first page after login: designers the designer, reviewers the reviews,
    managers the overview, everyone else the inbox."""
    if role == "process_designer":
        return url_for("designer.index")
    if role == "compliance_reviewer":
        return url_for("definitions.index")
    if role == "manager":
        return url_for("dashboard.overview")
    return url_for("tasks.inbox")


@bp.post("/logout")
@login_required
def logout():
    with database().write_session.begin() as s:
        staff_sessions.end(s, session.get(SESSION_KEY), "logout")
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    choice = request.form.get("locale")
    if choice in ("zh_CN", "en"):
        session["locale"] = choice
        if current_user.is_authenticated:
            with database().write_session.begin() as s:
                user = s.get(User, current_user.id)
                user.locale = choice
    return redirect(_safe_next(request.form.get("next")) or url_for("tasks.inbox"))


def roles_required(*roles: str):
    """Only these roles may open the view; others get the 403 page."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403, _("Your role does not give access to this page."))
            return view(*args, **kwargs)

        return wrapped

    return decorate


def authenticate_api_request():
    """Who calls a JSON endpoint: a bearer token's user (kept in g.api_user) or the logged-in
    browser session, whose unsafe requests must also carry the CSRF token (a cookie alone
    proves nothing). Returns an error response to send back, or None to go on."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        with database().read_session() as s:  # one indexed SELECT, outside a transaction
            user = user_for_token(s, header.split(None, 1)[1].strip())
            if user is None:
                return jsonify({"error": "The bearer token is unknown or revoked."}), 401
            g.api_user = StaffUser(user)
        return None
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return None
    return jsonify({"error": "Authenticate with a bearer token (redress token create USERNAME) or log in."}), 401


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.register_blueprint(bp)
