"""Keyset paging: a page sought after (or before) a row holds exactly the rows OFFSET would give,
in every order either way, NULLs included; and a deep page is sought, not walked to."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from processes.engine.actors import Actor
from processes.engine.inbox import SORTS, Filters, inbox_query, list_tasks, ordered, seek_queries
from processes.engine.models import HumanTask
from tests.inbox_support import bare_instance

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SUPERVISOR = Actor("zhao", "customer_service", "supervisor")
ORDERS = [key for key in SORTS] + ["-" + key for key in SORTS]


@pytest.fixture
def many(db):
    """37 tasks with few distinct values (so ties are common) and NULLs in every nullable sort column."""
    rng = random.Random(3)
    with db.write_session.begin() as s:
        instance = bare_instance(s)
        for n in range(37):
            s.add(HumanTask(
                id=f"t-{rng.getrandbits(32):08x}", instance_id=instance.id, business_key=f"TS-20260302-{n % 9:05d}",
                process_key="p", bpmn_id="Task_X", name=rng.choice(("调查处理", "登记投诉")),
                department=rng.choice(("product", "sales", None)), assignee=rng.choice(("li", "wang", None)),
                category=rng.choice(("other", "product_quality", None)), channel=rng.choice(("web", None)),
                priority=rng.choice((1, 3)), escalation_level=rng.choice((1, 2)),
                created_at=NOW - timedelta(hours=n % 5),
                due_at=rng.choice((None, NOW + timedelta(hours=1), NOW + timedelta(hours=2)))))
    return db


def offset_pages(db, sort, per_page=5):
    with db.session() as s:
        ids = [t.id for t in s.scalars(ordered(inbox_query(SUPERVISOR, "all"), sort))]
    return [ids[i:i + per_page] for i in range(0, len(ids), per_page)]


@pytest.mark.parametrize("sort", ORDERS)
def test_sought_pages_are_the_offset_pages_forwards_and_back(many, sort):
    expected = offset_pages(many, sort)
    with many.session() as s:
        page = list_tasks(s, SUPERVISOR, "all", 1, 5, filters=Filters(), now=NOW, sort=sort)
        walked = [[t.id for t in page.tasks]]
        while page.has_next:
            page = list_tasks(s, SUPERVISOR, "all", page.page + 1, 5, filters=Filters(), now=NOW, sort=sort,
                              after=page.tasks[-1].id)
            walked.append([t.id for t in page.tasks])
        assert walked == expected
        back = [[t.id for t in page.tasks]]
        while page.has_previous:
            page = list_tasks(s, SUPERVISOR, "all", page.page - 1, 5, filters=Filters(), now=NOW, sort=sort,
                              before=page.tasks[0].id)
            back.append([t.id for t in page.tasks])
        assert back[::-1] == expected


def test_a_page_after_a_finished_task_starts_where_it_was(many):
    sort = "department"
    first, second = offset_pages(many, sort)[:2]
    with many.write_session.begin() as s:
        s.get(HumanTask, first[-1]).status = "completed"
    with many.session() as s:
        page = list_tasks(s, SUPERVISOR, "all", 2, 5, filters=Filters(), now=NOW, sort=sort, after=first[-1])
    assert [t.id for t in page.tasks] == second


def test_an_unknown_boundary_is_the_first_page(many):
    with many.session() as s:
        page = list_tasks(s, SUPERVISOR, "all", 1, 5, filters=Filters(), now=NOW, after="no-such-task")
    assert [t.id for t in page.tasks] == offset_pages(many, None)[0]


def test_a_deep_page_is_sought_from_an_index(many):
    """SQLite's plan of each seek: an index range that starts at the boundary, nothing sorted but ties."""
    if not many.is_sqlite:
        pytest.skip("reads SQLite's EXPLAIN QUERY PLAN")
    from sqlalchemy.dialects import sqlite

    from processes.engine.inbox import boundary_of

    with many.engine.connect() as conn, many.session() as s:
        conn.exec_driver_sql("ANALYZE")
        for sort in ORDERS:
            boundary = boundary_of(s, sort, offset_pages(many, sort)[3][-1])
            for seek in seek_queries(inbox_query(SUPERVISOR, "all"), sort, boundary, sqlite=True):
                sql = str(seek.limit(6).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
                plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "USING INDEX" in plan and "SCAN human_tasks" not in plan, (sort, plan)
                assert "USE TEMP B-TREE FOR ORDER BY" not in plan, (sort, plan)


def test_page_links_seek_from_the_rows_shown():
    """Next follows the last row shown, Previous precedes the first; page 2's Previous is page 1."""
    from types import SimpleNamespace

    from processes.engine.inbox import Page
    from web.inbox_page import InboxRequest, page_links

    state = InboxRequest.from_args({"scope": "all", "severity": "high", "page": "3", "after": "t-x"})
    rows = [SimpleNamespace(id="t-first"), SimpleNamespace(id="t-last")]
    links = page_links(state, Page(rows, 3, 2, True, True))
    assert links["next"] == {"scope": "all", "severity": "high", "page": 4, "after": "t-last"}
    assert links["previous"] == {"scope": "all", "severity": "high", "page": 2, "before": "t-first"}
    assert page_links(state, Page(rows, 2, 2, False, True)) == {"previous": {"scope": "all", "severity": "high"},
                                                               "next": None}
    assert InboxRequest.from_args({"after": "x" * 80}).after == "x" * 36  # a task id's length at most
