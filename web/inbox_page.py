"""What an inbox page shows: the rows of one filtered, sorted page with the words people read.

Shared by the page, its row refresh (htmx), the exports and the bench, so all of them show the same
rows: task names in the interface language, people by display name, values through the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import request
from sqlalchemy import select

from processes.engine.actors import DEPARTMENTS, Actor, may_work
from processes.engine.inbox import (
    SCOPES,
    Filters,
    Page,
    count_tasks,
    filtered_query,
    list_tasks,
    sla_state,
    sort_order,
)
from processes.engine.models import HumanTask, User
from web.workspace_i18n import element_name

MAX_PAGE = 100_000


@dataclass
class InboxRequest:
    """The inbox's URL: scope, sort, page and filters; ``args()`` writes it back."""

    scope: str
    sort: str
    page: int
    filters: Filters
    # Keyset paging: the id of the row this page follows (Next) or precedes (Previous).
    after: str | None = None
    before: str | None = None

    @classmethod
    def from_args(cls, args) -> InboxRequest:
        scope = args.get("scope", "mine")
        page = args.get("page", "1")
        key, descending = sort_order(args.get("sort"))
        return cls(
            scope=scope if scope in SCOPES else "mine",
            sort=("-" if descending else "") + key,
            page=int(page) if page.isdigit() and 0 < int(page) < MAX_PAGE else 1,
            filters=Filters.from_args(args),
            after=_task_id(args.get("after")),
            before=_task_id(args.get("before")),
        )

    def args(self, **override) -> dict:
        """URL arguments of this state (defaults left out), with ``override`` applied."""
        values = {"scope": self.scope, **self.filters.active()}
        if self.sort != "priority":
            values["sort"] = self.sort
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def refresh_args(self) -> dict:
        """This page's place (its number and the row it is sought from) and state, for the row refresh."""
        place = {"page": self.page, "after": self.after, "before": None if self.after else self.before}
        return {**{k: v for k, v in place.items() if v}, **self.args()}

    def sort_link(self, column: str) -> dict:
        """The arguments that sort by ``column``: ascending first, a second click reverses."""
        key, descending = sort_order(self.sort)
        target = f"-{column}" if key == column and not descending else column
        return self.args(sort=None if target == "priority" else target, page=None)


def page_links(state: InboxRequest, result: Page) -> dict:
    """URL arguments of the previous and next pages (None where there is none): each is sought from
    the first or last row shown, so a deep page costs what the first does; page 2 back is page 1."""
    links = {"previous": None, "next": None}
    if result.page > 1 and result.tasks:
        back = {"page": result.page - 1} if result.page > 2 else {}
        if result.page > 2:
            back["before"] = result.tasks[0].id
        links["previous"] = state.args(**back)
    if result.has_next and result.tasks:
        links["next"] = state.args(page=result.page + 1, after=result.tasks[-1].id)
    return links


def _task_id(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:36] if value else None


def display_names(session, usernames) -> dict[str, str]:
    names = {u for u in usernames if u}
    if not names:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(sorted(names))))
    return {username: display or username for username, display in rows}


def build_rows(session, who: Actor, tasks: list[HumanTask], now: datetime) -> list[dict]:
    people = display_names(session, [t.assignee for t in tasks])
    return [
        {
            "task": t,
            "name": element_name(session, t.bpmn_id, t.name),
            "sla": sla_state(t, now),
            "assignee": people.get(t.assignee, t.assignee) if t.assignee else None,
            "may_claim": t.assignee is None and may_work(who, t.department, t.candidate_group, None),
        }
        for t in tasks
    ]


def load_page(
    session,
    who: Actor,
    state: InboxRequest,
    per_page: int,
    now: datetime | None = None,
    with_count: bool = True,
) -> dict:
    now = now or datetime.now(UTC)
    result: Page = list_tasks(
        session, who, state.scope, state.page, per_page, filters=state.filters, now=now, sort=state.sort,
        after=state.after, before=state.before,
    )
    total, more = (
        count_tasks(session, filtered_query(who, state.scope, state.filters, now, session))
        if with_count
        else (0, False)
    )
    return {
        "result": result,
        "rows": build_rows(session, who, result.tasks, now),
        "total": total,
        "total_more": more,
        "now": now,
        "links": page_links(state, result),
    }


def assignee_choices(session, who: Actor) -> list[tuple[str, str]]:
    """People one may filter by: one's department, or everyone for those who see everything."""
    query = select(User.username, User.display_name).where(User.active.is_(True)).order_by(User.display_name)
    if not (who.is_overseer or who.role == "manager"):
        query = query.where(User.department == who.department)
    return [(u, d or u) for u, d in session.execute(query.limit(300))]


def may_bulk(who: Actor) -> bool:
    """Bulk claim, reassign and release, and the escalations view: supervisors and managers
    (the runtime still checks each task)."""
    return who.is_overseer or who.role == "manager"


def department_choices() -> tuple[str, ...]:
    return DEPARTMENTS


def inbox_state() -> InboxRequest:
    return InboxRequest.from_args(request.args)
