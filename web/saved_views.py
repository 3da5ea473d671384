"""Saved inbox views in the navigation: each with the number of tasks it holds now."""

from __future__ import annotations

from processes.engine import saved_views
from processes.engine.actors import Actor
from processes.engine.inbox import SCOPES, Filters, count_tasks, filtered_query

NAV_CAP = 999  # the navigation says "999+" beyond this: a count never walks a whole scope


def for_nav(session, who: Actor, with_counts: bool = True) -> list[dict]:
    """The views one sees; ``with_counts=False`` leaves the counts to the page's second request
    (/inbox/view-counts), so the inbox does not wait for them."""
    items = []
    for view in saved_views.visible(session, who):
        query = view.query or {}
        scope = query.get("scope") if query.get("scope") in SCOPES else "mine"
        count, more = None, False
        if with_counts:
            count, more = count_tasks(session, filtered_query(who, scope, Filters.from_args(query), session=session),
                                      cap=NAV_CAP)
        items.append(
            {
                "view": view,
                "args": query,
                "count": count,
                "more": more,
                "shared": view.department is not None,
                "own": view.owner == who.username,
            }
        )
    return items
