"""Error pages and JSON errors: a message a person can act on, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, flash, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from processes.engine import inputsafe
from processes.engine.errors import RuntimeProblem, ValidationFailed

log = logging.getLogger(__name__)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def problem_message(exc: RuntimeProblem) -> str:
    """The runtime's message in the interface language: its template through the catalog
    (a task's status through the vocabulary)."""
    from web.workspace_i18n import label, person

    # In a sentence a status reads in lower case ("already completed"); Chinese has no case.
    # `who` is a user name: the person is named as people know them.
    words = {"status": lambda value: str(label("status", value)).lower(), "who": person}
    params = {name: words[name](value) if name in words else value for name, value in exc.params.items()}
    return _(exc.template, **params)


def attempt(work) -> tuple[bool, object]:
    """(True, what ``work()`` returned), or (False, the runtime's refusal in the person's words):
    one row of a bulk action, one button of the operations page."""
    try:
        return True, work()
    except RuntimeProblem as exc:
        return False, problem_message(exc)


def flash_attempt(work, done) -> bool:
    """Run ``work()`` and flash how it went: its refusal as an error, else ``done``, a message or a
    function of work's result giving (message, category). True when it ran."""
    ok, value = attempt(work)
    if not ok:
        flash(value, "error")
        return False
    message, category = done(value) if callable(done) else (done, "success")
    flash(message, category)
    return True


def init_app(app: Flask) -> None:
    @app.errorhandler(RuntimeProblem)
    def runtime_problem(exc: RuntimeProblem):
        message = problem_message(exc)
        if wants_json():
            body = {"error": message}
            if isinstance(exc, ValidationFailed):
                # The input checks' messages through the catalog (others are already translated).
                body["errors"] = {field: inputsafe.translated(text, _) if isinstance(text, str) else text
                                  for field, text in exc.errors.items()}
            return jsonify(body), exc.status
        return render_template("error.html", status=exc.status, message=message), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = _("The form expired or did not come from this site. Reload the page and try again.")
        if wants_json():
            return jsonify({"error": message}), 400
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError):
        # No URL can be built for a host the app does not serve, so no page: a plain answer.
        return "Unknown host name. 未知的主机名。", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return jsonify({"error": exc.description}), exc.code
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        message = _("Something went wrong on our side. Nothing was saved; please try again.")
        if wants_json():
            return jsonify({"error": message}), 500
        return render_template("error.html", status=500, message=message), 500
