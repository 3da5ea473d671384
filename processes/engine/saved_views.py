"""Saved inbox views: a named filter, one person's own or shared with a department.

Who may do what is checked here, not only in the views: anyone may keep views of their own;
sharing with a department needs an overseeing role and is for one's own department; a view
is changed or deleted by its owner (or an overseer of the department it is shared with).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden, NotFound, ValidationFailed
from processes.engine.models import SavedView

MAX_VIEWS = 20  # per person, shared ones included in what the navigation shows
MAX_NAME = 80
QUERY_KEYS = frozenset(
    {
        "scope",
        "sort",
        "q",
        "department",
        "assignee",
        "status",
        "level",
        "category",
        "severity",
        "channel",
        "sla",
        "from",
        "to",
    }
)


def visible(session: Session, actor: Actor) -> list[SavedView]:
    """One's own views, then those shared with one's department, by name."""
    query = select(SavedView).where(
        or_(SavedView.owner == actor.username, SavedView.department == actor.department)
    )
    views = list(session.scalars(query.order_by(SavedView.name).limit(MAX_VIEWS * 2)))
    return sorted(views, key=lambda v: (v.owner != actor.username, v.name))[: MAX_VIEWS * 2]


def clean_query(args) -> dict[str, str]:
    """Only inbox arguments, each short: a view stores a URL's state, nothing else."""
    return {k: str(v)[:100] for k, v in args.items() if k in QUERY_KEYS and v not in (None, "")}


def save(session: Session, actor: Actor, name: str, query: dict, shared: bool = False) -> SavedView:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": N_("Give the view a name.")}, N_("Give the view a name."))
    if len(name) > MAX_NAME:
        raise ValidationFailed(
            {"name": N_("Too long.")}, N_("A view's name has at most %(n)s characters."), n=MAX_NAME
        )
    if shared and not actor.is_overseer:
        raise Forbidden(N_("Only a supervisor can share a view with the department."))
    own = session.scalars(select(SavedView).where(SavedView.owner == actor.username)).all()
    same = next((v for v in own if v.name == name), None)
    if same is None and len(own) >= MAX_VIEWS:
        raise ValidationFailed(
            {"name": N_("Too many views.")}, N_("You have %(n)s saved views; delete one first."), n=MAX_VIEWS
        )
    view = same or SavedView(name=name, owner=actor.username)
    view.query = clean_query(query)
    view.department = actor.department if shared else None
    if same is None:
        session.add(view)
    session.flush()
    return view


def get(session: Session, actor: Actor, view_id: int) -> SavedView:
    view = session.get(SavedView, view_id)
    if view is None or (view.owner != actor.username and view.department != actor.department):
        raise NotFound(N_("This view does not exist."))
    return view


def delete(session: Session, actor: Actor, view_id: int) -> None:
    view = get(session, actor, view_id)
    if view.owner != actor.username and not (actor.is_overseer and view.department == actor.department):
        raise Forbidden(N_("Only its owner or a supervisor of the department can delete this view."))
    session.delete(view)
