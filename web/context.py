"""Shortcuts for views: the runtime, the database and the acting user."""

from __future__ import annotations

from flask import current_app, g
from flask_login import current_user

from processes.engine.actors import Actor
from processes.engine.database import Database
from processes.engine.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["redress.runtime"]


def database() -> Database:
    return current_app.extensions["redress.db"]


def actor() -> Actor:
    """The acting person: a token's user on the API, else the logged-in user."""
    user = getattr(g, "api_user", None) or current_user
    return Actor(user.username, user.department, user.role)


def in_write(service, *args):
    """``service(session, *args)`` in one write transaction, committed when it returns."""
    with database().write_session.begin() as s:
        return service(s, *args)
