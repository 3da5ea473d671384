"""Inbox queries: they read human-task rows only, never a workflow.

Every page is one indexed query: the scope picks an index that starts with
(status, [department, assignee,]) and ends with due_at, so "soonest due first"
is read straight off the index and a page stops after `per_page` rows.
Filters on the row's copied complaint facts are checked on the rows the index
walk meets; the SLA state is arithmetic on created_at and due_at, and its
"breached" part is a plain range on due_at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from processes.engine.actors import WORKER_ROLES, Actor, groups_of
from processes.engine.models import HumanTask
from processes.engine.task_search import matching_rowids

SCOPES = ("mine", "group", "all")
SLA_STATES = ("on_time", "at_risk", "breached")
AT_RISK_RATIO = 0.8  # the SLA policy's default: past 80% of the time allowed
ASSIGNMENT = ("unassigned", "assigned")  # the "status" filter: is someone working on it?
LEVELS = ("1", "2", "3", "4")
COUNT_CAP = 1_000  # counting stops here ("more than 1,000"): a count never walks a whole scope
EXPORT_CAP = 10_000  # rows in one export
# Sortable columns and the order each gives, the same as an index of the "all" scope and one of
# "my department, unassigned" read it, so a page stops after its rows instead of sorting the scope.
# No NULLS clause on the leading column: it would stop both databases from reading the index (a
# task without a deadline, which the validation refuses, then sorts where the database puts NULL).
# Severity is sorted through the priority, which is derived from it first (an alphabetical
# "critical, high, low" would mislead).
SORTS = {
    "priority": (HumanTask.priority, HumanTask.due_at),  # ix_human_open_urgency (ascending: see ordered)
    "due": (HumanTask.due_at, HumanTask.created_at),  # ix_human_open_due
    "created": (HumanTask.created_at,),  # ix_human_open_created, ix_human_queue_created
    "reference": (HumanTask.business_key,),  # ix_human_open_reference, ix_human_queue_reference
    "task": (HumanTask.name, HumanTask.due_at),  # ix_human_open_name, ix_human_queue_name
    "category": (HumanTask.category, HumanTask.due_at),  # ix_human_open_category, ix_human_queue_category
    "channel": (HumanTask.channel, HumanTask.due_at),  # ix_human_open_channel, ix_human_queue_channel
    "department": (HumanTask.department, HumanTask.assignee, HumanTask.due_at),  # ix_human_open_department
    "assignee": (HumanTask.assignee, HumanTask.due_at),  # ix_human_open_assignee
    "level": (HumanTask.escalation_level, HumanTask.priority, HumanTask.due_at),  # ix_human_open_level, _queue_level
}
DEFAULT_SORT = "priority"


@dataclass
class Page:
    tasks: list[HumanTask]
    page: int
    per_page: int
    has_next: bool
    has_previous: bool = False


@dataclass(frozen=True)
class Filters:
    """What a person narrows the inbox down to; empty values mean "any"."""

    category: str | None = None
    severity: str | None = None
    channel: str | None = None
    sla: str | None = None
    text: str | None = None
    department: str | None = None
    assignee: str | None = None  # a user name
    status: str | None = None  # ASSIGNMENT
    level: str | None = None  # escalation level, LEVELS
    created_from: date | None = None  # arrived on or after this day (UTC)
    created_to: date | None = None  # arrived on or before this day
    extra: dict = field(default_factory=dict)

    # URL argument -> attribute; one list so the URL, saved views and exports agree.
    ARGS = (("q", "text"), ("department", "department"), ("assignee", "assignee"), ("status", "status"),
            ("level", "level"), ("category", "category"), ("severity", "severity"), ("channel", "channel"),
            ("sla", "sla"), ("from", "created_from"), ("to", "created_to"))

    @classmethod
    def from_args(cls, args) -> Filters:
        def pick(name: str, allowed=None) -> str | None:
            value = (args.get(name) or "").strip()
            if not value or (allowed is not None and value not in allowed):
                return None
            return value[:100]

        return cls(category=pick("category"), severity=pick("severity"), channel=pick("channel"),
                   sla=pick("sla", SLA_STATES), text=pick("q"), department=pick("department"),
                   assignee=pick("assignee"), status=pick("status", ASSIGNMENT), level=pick("level", LEVELS),
                   created_from=_day(pick("from")), created_to=_day(pick("to")))

    def active(self) -> dict[str, str]:
        values = {arg: getattr(self, attr) for arg, attr in self.ARGS}
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v}


def _day(value: str | None) -> date | None:
    """A YYYY-MM-DD day between 2000 and 2100; anything else is no filter."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2100 else None


def sort_order(sort: str | None) -> tuple[str, bool]:
    """("due", descending?) from a URL value such as "due" or "-due"; unknown means urgency."""
    value = (sort or "").strip()
    descending = value.startswith("-")
    key = value.lstrip("-")
    if key not in SORTS:
        return DEFAULT_SORT, False
    return key, descending


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def inbox_query(actor: Actor, scope: str) -> Select:
    query = select(HumanTask).where(HumanTask.status == "open")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    if actor.role not in WORKER_ROLES:
        return query.where(false())  # designers and reviewers have no case work
    if scope == "mine":
        return query.where(HumanTask.assignee == actor.username)
    if scope == "group":
        query = query.where(HumanTask.department == actor.department, HumanTask.assignee.is_(None),
                            # four eyes: a check of one's own work is not offered to oneself
                            or_(HumanTask.not_by.is_(None), HumanTask.not_by != actor.username))
        if actor.is_overseer:
            return query
        # Only what one may take (actors.may_work): a task for a candidate group one is not in stays
        # out of "my department, unassigned" and visible under "all" to those who may.
        takeable = HumanTask.candidate_group.is_(None)
        groups = sorted(groups_of(actor))
        if groups:
            takeable = or_(takeable, HumanTask.candidate_group.in_(groups))
        return query.where(takeable)
    if scope == "all":
        if sees_everything(actor):
            return query
        # Without an overseeing role, "all" means everything of one's own department.
        return query.where(HumanTask.department == actor.department)
    raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")


def sees_everything(actor: Actor) -> bool:
    return actor.is_overseer or actor.role == "manager"


class walked(ColumnElement):
    """A column whose range a page checks on the rows it walks instead of reading an index range
    of it: SQLite's unary plus (its planner then keeps to the order's index, which a page leaves
    after its rows, rather than sorting a third of the tasks); the column itself elsewhere."""

    inherit_cache = True
    _traverse_internals: ClassVar = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(walked)
def _walked_default(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(walked, "sqlite")
def _walked_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.column, **kw)


def sla_condition(state: str, now: datetime, ratio: float = AT_RISK_RATIO, page: bool = False):
    """The SQL condition for one SLA state, as SlaPolicy.state decides it for a row.

    ``page``: for a page in some order, not a count. A count reads the range of ix_human_open_due
    alone; a page walks its order's index and checks the state on the rows met (SQLite's planner,
    which cannot tell how many tasks a time range holds, would otherwise read the whole range and
    sort it, or not, depending on which other indexes exist)."""
    due = walked(HumanTask.due_at) if page else HumanTask.due_at
    # At risk once now - created > ratio * (due - created), i.e. (1-ratio)*created + ratio*due < now.
    risk_point = (1 - ratio) * epoch(HumanTask.created_at) + ratio * epoch(HumanTask.due_at)
    now_seconds = now.timestamp()
    if state == "breached":
        return due < now
    if state == "at_risk":
        return and_(due >= now, risk_point < now_seconds)
    if state == "on_time":
        return and_(due >= now, risk_point >= now_seconds)
    raise ValueError(f"unknown SLA state {state!r}")


def apply_filters(query: Select, filters: Filters, now: datetime | None = None,
                  session: Session | None = None, page: bool = False) -> Select:
    """``session``: lets a word search ask the FTS index how many tasks match first (task_search).
    ``page``: the query is for a page in some order, not a count (sla_condition)."""
    now = now or datetime.now(UTC)
    for name in ("category", "severity", "channel", "department", "assignee"):
        value = getattr(filters, name)
        if value:
            query = query.where(getattr(HumanTask, name) == value)
    if filters.status == "unassigned":
        query = query.where(HumanTask.assignee.is_(None))
    elif filters.status == "assigned":
        query = query.where(HumanTask.assignee.is_not(None))
    if filters.level:
        query = query.where(HumanTask.escalation_level == int(filters.level))
    if filters.created_from:
        query = query.where(HumanTask.created_at >= datetime.combine(filters.created_from, time(), UTC))
    if filters.created_to:
        query = query.where(HumanTask.created_at < datetime.combine(filters.created_to + timedelta(days=1), time(), UTC))
    if filters.sla:
        query = query.where(sla_condition(filters.sla, now, page=page))
    if filters.text:
        query = query.where(text_condition(filters.text, session))
    return query


REFERENCE = re.compile(r"^[A-Za-z]{2,4}-\d{8}-[A-Za-z0-9]{3,8}$")
FRAGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9-]{4,}$")


def text_condition(text: str, session: Session | None = None):
    """A reference is looked up by its index; other words match part of a reference or the summary.

    On SQLite the FTS index finds the matching rows when there are few (task_search); otherwise,
    and on PostgreSQL, LIKE: PostgreSQL answers it from its trigram indexes, SQLite checks it on
    the rows the scope's index walk meets (common words match early in the walk)."""
    text = text.strip()
    if REFERENCE.match(text):
        return HumanTask.business_key == text.upper()
    rowids = matching_rowids(session, text)
    if rowids is not None:
        return literal_column("human_tasks.rowid").in_(rowids)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if FRAGMENT.match(text):  # might be part of a reference, e.g. "H4TD7"
        return or_(contains_ci(HumanTask.business_key, pattern), contains_ci(HumanTask.summary, pattern))
    return contains_ci(HumanTask.summary, pattern)


class contains_ci(FunctionElement):
    """Case-insensitive LIKE: SQLite's LIKE already is; PostgreSQL needs ILIKE."""

    type = Boolean()
    inherit_cache = True


@compiles(contains_ci)
def _contains_default(element, compiler, **kw):
    column, pattern = list(element.clauses)
    return f"{compiler.process(column, **kw)} ILIKE {compiler.process(pattern, **kw)} ESCAPE '\\'"


@compiles(contains_ci, "sqlite")
def _contains_sqlite(element, compiler, **kw):
    column, pattern = list(element.clauses)
    return f"{compiler.process(column, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '\\'"


def filtered_query(actor: Actor, scope: str, filters: Filters | None = None, now: datetime | None = None,
                   session: Session | None = None, page: bool = False) -> Select:
    query = inbox_query(actor, scope)
    return apply_filters(query, filters, now, session, page) if filters is not None else query


class tie_breaker(ColumnElement):
    """The last sort key, which makes the order total (a page boundary is then one row): SQLite's
    rowid, which ends every index there (so nothing is sorted again), the id on PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(tie_breaker)
def _tie_default(element, compiler, **kw):
    return "human_tasks.id"


@compiles(tie_breaker, "sqlite")
def _tie_sqlite(element, compiler, **kw):
    return "human_tasks.rowid"


@dataclass(frozen=True)
class KeyPart:
    """One column of a sort order; ``nulls_first``: None is the database's own placement
    (SQLite puts NULL first in ascending order, PostgreSQL last)."""

    expr: object
    nullable: bool = False
    nulls_first: bool | None = None


def sort_key(sort: str | None) -> tuple[list[KeyPart], bool]:
    """The columns of an order, tie-breaker last, and whether it is descending."""
    key, descending = sort_order(sort)
    if key == "priority":
        # As the *_urgency indexes read: "due_at IS NULL" puts tasks without a deadline last on
        # both databases, where NULLS LAST would stop SQLite reading the index.
        return [KeyPart(HumanTask.priority), KeyPart(HumanTask.due_at.is_(None)),
                KeyPart(HumanTask.due_at, nullable=True, nulls_first=True), KeyPart(HumanTask.id)], descending
    columns = HumanTask.__table__.c
    return [KeyPart(c, nullable=columns[c.key].nullable) for c in SORTS[key]] + [KeyPart(tie_breaker())], descending


def _direction(parts: list[KeyPart], descending: bool) -> list:
    return [p.expr.desc() if descending else p.expr.asc() for p in parts]


def ordered(query: Select, sort: str | None = None) -> Select:
    """Urgency first by default: priority (1 most urgent), then time left, then id, read off
    ix_human_open_urgency; a task without a deadline (a model the validation would refuse) comes
    after the others of its priority on every database. Every order ends with a tie-breaker
    (tie_breaker), so a page can start after a given row (seek_queries)."""
    parts, descending = sort_key(sort)
    return query.order_by(*_direction(parts, descending))


def seek_queries(query: Select, sort: str | None, boundary: tuple, sqlite: bool, backwards: bool = False) -> list[Select]:
    """Queries whose rows, one after the other, are exactly the rows after ``boundary`` (the sort key
    values of one row) in this order (before it, nearest first, when ``backwards``).

    Keyset paging: each query fixes the key's first columns to the boundary's and seeks past it on
    the next one, so an index range starts right at the boundary however deep the page is (an
    OFFSET walks every row before it). NULLs are placed as the database orders them."""
    parts, descending = sort_key(sort)
    descending = descending != backwards
    queries = []
    for i in reversed(range(len(parts))):
        prefix = [_same(p.expr, v) for p, v in zip(parts[:i], boundary[:i])]
        part, value = parts[i], _bound(boundary[i])
        nulls_first = sqlite if part.nulls_first is None else part.nulls_first
        nulls_before = part.nullable and nulls_first != descending  # in the direction read
        if value is None:
            steps = [part.expr.is_not(None)] if nulls_before else []
        else:
            past = part.expr < value if descending else part.expr > value
            steps = [past] if nulls_before or not part.nullable else [past, part.expr.is_(None)]
        # Only the columns not fixed are ordered on: SQLite then reads the index range in order.
        queries += [query.where(*prefix, step).order_by(*_direction(parts[i:], descending)) for step in steps]
    return queries


def _same(expr, value):
    return expr.is_(None) if value is None else expr == _bound(value)


def _bound(value):
    """A boundary value as a bound parameter: a flag such as "no deadline" is compared as a value
    (= and >, which the index on the expression answers), not as SQL's IS TRUE."""
    return literal(value, Boolean()) if isinstance(value, bool) else value


def boundary_of(session: Session, sort: str | None, task_id: str) -> tuple | None:
    """The sort key values of one task row (open or not), or None when there is no such row."""
    parts, _ = sort_key(sort)
    row = session.execute(select(*[p.expr for p in parts]).where(HumanTask.id == task_id)).first()
    return tuple(row) if row is not None else None


def list_tasks(session: Session, actor: Actor, scope: str = "mine", page: int = 1, per_page: int = 50,
               query: Select | None = None, filters: Filters | None = None,
               now: datetime | None = None, sort: str | None = None,
               after: str | None = None, before: str | None = None) -> Page:
    """One page of open tasks, most urgent first unless another column is chosen.

    ``after``/``before``: the id of the row the page follows (or precedes): the page is sought from
    it (seek_queries); without one, ``page`` counts from the start (OFFSET)."""
    page = max(page, 1)
    query = query if query is not None else inbox_query(actor, scope)
    if filters is not None:
        query = apply_filters(query, filters, now, session, page=True)
    boundary = boundary_of(session, sort, after or before) if (after or before) else None
    if boundary is None:
        rows = list(session.scalars(ordered(query, sort).offset((page - 1) * per_page).limit(per_page + 1)))
        return Page(rows[:per_page], page, per_page, len(rows) > per_page, page > 1)
    rows: list[HumanTask] = []
    sqlite = session.get_bind().dialect.name == "sqlite"
    for seek in seek_queries(query, sort, boundary, sqlite, backwards=after is None):
        rows += session.scalars(seek.limit(per_page + 1 - len(rows)))
        if len(rows) > per_page:
            break
    more = len(rows) > per_page
    if after is None:  # read backwards from the boundary: nearest first
        return Page(rows[:per_page][::-1], page, per_page, True, more)
    return Page(rows[:per_page], page, per_page, more, True)


def count_tasks(session: Session, query: Select, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows a filtered query has, counting at most ``cap`` + 1: (count, more than cap?)."""
    # A constant, not the id: SQLite's indexes hold the rowid, not the id, so a filter an index
    # answers is counted from the index alone, without reading the rows.
    capped = query.with_only_columns(literal_column("1")).order_by(None).limit(cap + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    return min(total, cap), total > cap


def sla_state(task: HumanTask, now: datetime | None = None, ratio: float = AT_RISK_RATIO) -> str | None:
    """on_time, at_risk or breached for one row; None when the task has no deadline."""
    if task.due_at is None:
        return None
    now = now or datetime.now(UTC)
    if now > task.due_at:
        return "breached"
    started = task.created_at
    if task.due_at > started and now - started > (task.due_at - started) * ratio:
        return "at_risk"
    return "on_time"


def task_summary(task: HumanTask) -> dict:
    return {
        "id": task.id,
        "bpmn_id": task.bpmn_id,
        "name": task.name,
        "lane": task.lane,
        "complaint_reference": task.business_key,
        "assignee": task.assignee,
        "due_at": _iso(task.due_at),
        "priority": task.priority,
        "escalation_level": task.escalation_level,
        "created_at": _iso(task.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
