"""Every request's text checked before a view sees it: query strings, form fields, JSON bodies.

A NUL byte or a lone surrogate in a search box or filter would be a 500 on PostgreSQL (and
stored as is on SQLite); here it is a 400 that names the field. Forms that show errors next to
their fields (the portal, task forms) check their own fields instead, so nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from flask_babel import gettext as _

from processes.engine import inputsafe
from processes.engine.errors import N_, ValidationFailed

# These re-render the form with the error beside the field; their own validation checks the text.
FIELD_CHECKING_ENDPOINTS = {"portal.submit", "portal.answer", "tasks.submit"}


def _bad_field(values) -> str | None:
    for key, value in values.items(multi=True):
        if inputsafe.text_problem(key) or inputsafe.text_problem(value):
            return key.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:60] or "?"
    return None


def check_request() -> None:
    field = _bad_field(request.args)
    if field is None and request.method in ("POST", "PUT", "PATCH") and request.endpoint not in FIELD_CHECKING_ENDPOINTS:
        field = _bad_field(request.form)
    if field is not None:
        abort(400, _("The field “%(field)s” contains a character that cannot be stored (such as a NUL byte). "
                     "Remove it and try again.", field=field))


def json_body(required: bool = True, limit: int = inputsafe.MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object, parsed with size, depth and number limits (400/413 otherwise);
    text that cannot be stored is a 422 naming each field (dotted paths)."""
    raw = request.get_data(cache=True)
    if not raw.strip() and not required:
        return {}
    try:
        payload = inputsafe.loads(raw, limit)
    except inputsafe.BadJSON as exc:
        abort(exc.status, _(exc.template, **exc.params))
    if not isinstance(payload, dict):
        abort(400, _("The request body must be a JSON object."))
    problems = inputsafe.value_problems(payload)
    if problems:
        raise ValidationFailed(problems, N_("Some fields hold characters or values that cannot be stored."))
    return payload


def init_app(app: Flask) -> None:
    app.before_request(check_request)
