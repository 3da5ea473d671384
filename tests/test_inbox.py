"""Inbox queries: scopes, filters, SLA states, order, paging, and that each is answered from an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import literal_column

from processes.complaints.sla import SlaPolicy
from processes.engine.actors import Actor
from processes.engine.inbox import SORTS, Filters, apply_filters, inbox_query, list_tasks, ordered, sla_state
from processes.engine.models import HumanTask
from tests.inbox_support import bare_instance

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WORKER = Actor("li", "product", "department_staff")
SUPERVISOR = Actor("zhao", "customer_service", "supervisor")


@pytest.fixture
def seeded(db):
    """Tasks with known facts: (id, department, assignee, category, severity, channel, created, due)."""
    hour = timedelta(hours=1)
    rows = [
        # id          dept          assignee  category           severity   channel  created        due
        ("t-on-time", "product", None, "product_quality", "medium", "phone", NOW - hour, NOW + 10 * hour),
        ("t-at-risk", "product", None, "product_quality", "high", "web", NOW - 9 * hour, NOW + hour),
        ("t-breached", "product", "li", "technical_fault", "critical", "email", NOW - 5 * hour, NOW - hour),
        ("t-no-due", "product", None, "other", "low", "phone", NOW - hour, None),
        ("t-sales", "sales", None, "sales_misrepresentation", "low", "api", NOW - hour, NOW + 2 * hour),
        ("t-mine-late", "product", "li", "product_quality", "low", "web", NOW - 30 * hour, NOW - 2 * hour),
    ]
    with db.write_session.begin() as s:
        instance = bare_instance(s)
        for n, (task_id, dept, assignee, category, severity, channel, created, due) in enumerate(rows):
            s.add(HumanTask(id=task_id, instance_id=instance.id, business_key=f"TS-20260302-{n:05d}",
                            process_key="p", bpmn_id="Task_X", name="调查处理", lane=dept, department=dept,
                            assignee=assignee, category=category, severity=severity, channel=channel,
                            summary=f"Kettle LEAKS at order SO-{n}", created_at=created, due_at=due))
    return db


def ids(db, actor, scope="all", **filters):
    with db.session() as s:
        return [t.id for t in list_tasks(s, actor, scope, 1, 50, filters=Filters(**filters), now=NOW).tasks]


def test_scopes_follow_the_department_and_the_role(seeded):
    assert ids(seeded, WORKER, "mine") == ["t-mine-late", "t-breached"]
    assert ids(seeded, WORKER, "group") == ["t-at-risk", "t-on-time", "t-no-due"]
    assert "t-sales" not in ids(seeded, WORKER, "all")
    assert "t-sales" in ids(seeded, SUPERVISOR, "all") and len(ids(seeded, SUPERVISOR, "all")) == 6


def test_sorted_by_due_time_with_tasks_without_a_deadline_last(seeded):
    assert ids(seeded, SUPERVISOR) == ["t-mine-late", "t-breached", "t-at-risk", "t-sales", "t-on-time", "t-no-due"]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"category": "product_quality"}, {"t-on-time", "t-at-risk", "t-mine-late"}),
    ({"severity": "low"}, {"t-no-due", "t-sales", "t-mine-late"}),
    ({"channel": "web"}, {"t-at-risk", "t-mine-late"}),
    ({"sla": "breached"}, {"t-breached", "t-mine-late"}),
    ({"sla": "at_risk"}, {"t-at-risk"}),
    ({"sla": "on_time"}, {"t-on-time", "t-sales"}),
    ({"text": "kettle leaks"}, {"t-on-time", "t-at-risk", "t-breached", "t-no-due", "t-sales", "t-mine-late"}),
    ({"text": "SO-3"}, {"t-no-due"}),
    ({"text": "ts-20260302-00004"}, {"t-sales"}),
    ({"category": "product_quality", "severity": "high", "sla": "at_risk"}, {"t-at-risk"}),
])
def test_filters(seeded, filters, expected):
    assert set(ids(seeded, SUPERVISOR, **filters)) == expected


def test_sql_sla_states_agree_with_the_sla_policy(seeded):
    policy = SlaPolicy.profile("default")
    with seeded.session() as s:
        tasks = {t.id: t for t in s.query(HumanTask)}
    for task in tasks.values():
        expected = policy.state(task.created_at, task.due_at, NOW) if task.due_at else None
        assert sla_state(task, NOW) == expected
        if expected:
            assert task.id in ids(seeded, SUPERVISOR, sla=expected)


def test_paging(seeded):
    with seeded.session() as s:
        first = list_tasks(s, SUPERVISOR, "all", 1, 4, filters=Filters(), now=NOW)
        second = list_tasks(s, SUPERVISOR, "all", 2, 4, filters=Filters(), now=NOW)
    assert len(first.tasks) == 4 and first.has_next
    assert len(second.tasks) == 2 and not second.has_next
    assert not {t.id for t in first.tasks} & {t.id for t in second.tasks}


def test_filters_from_request_arguments_ignore_unknown_values():
    filters = Filters.from_args({"category": "product_quality", "sla": "whenever", "q": "  SO-1 ", "severity": ""})
    assert filters.active() == {"category": "product_quality", "q": "SO-1"}


def test_my_department_unassigned_holds_only_tasks_one_may_take(seeded):
    with seeded.write_session.begin() as s:
        template = s.get(HumanTask, "t-on-time")
        s.add(HumanTask(id="t-supervisors", instance_id=template.instance_id, business_key="TS-20260302-99999",
                        process_key="p", bpmn_id="Task_Review", name="主管确认策略", department="product",
                        candidate_group="supervisor", created_at=NOW, due_at=NOW + timedelta(hours=3)))
    assert "t-supervisors" not in ids(seeded, WORKER, "group")
    assert "t-supervisors" in ids(seeded, WORKER, "all")  # still visible, just not offered
    product_lead = Actor("qian", "product", "supervisor")
    assert "t-supervisors" in ids(seeded, product_lead, "group")
    assert "t-supervisors" in ids(seeded, Actor("sun", "product", "department_staff", frozenset({"supervisor"})),
                                  "group")


def test_a_check_of_my_own_work_is_not_offered_to_me(seeded):
    with seeded.write_session.begin() as s:
        template = s.get(HumanTask, "t-on-time")
        s.add(HumanTask(id="t-check", instance_id=template.instance_id, business_key="TS-20260302-99998",
                        process_key="p", bpmn_id="Task_Quality_Check", name="质检", department="product",
                        candidate_group="supervisor", not_by="qian", created_at=NOW, due_at=NOW + timedelta(hours=3)))
    assert "t-check" not in ids(seeded, Actor("qian", "product", "supervisor"), "group")  # wrote the answer
    assert "t-check" in ids(seeded, Actor("zhou", "product", "supervisor"), "group")


def test_every_inbox_query_reads_an_index(seeded):
    """SQLite's plan: every scope and filter searches an index and never sorts the whole table."""
    if not seeded.is_sqlite:
        pytest.skip("the query plan check reads SQLite's EXPLAIN QUERY PLAN")
    from sqlalchemy.dialects import sqlite

    cases = [(WORKER, "mine", Filters()), (WORKER, "group", Filters()), (SUPERVISOR, "all", Filters()),
             (SUPERVISOR, "all", Filters(category="other")), (SUPERVISOR, "all", Filters(severity="low")),
             (SUPERVISOR, "all", Filters(channel="web")), (SUPERVISOR, "all", Filters(sla="breached")),
             (SUPERVISOR, "all", Filters(sla="at_risk")), (SUPERVISOR, "all", Filters(text="TS-20260302-00001"))]
    with seeded.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for actor, scope, filters in cases:
            query = ordered(apply_filters(inbox_query(actor, scope), filters, NOW)).limit(51)
            sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "USING INDEX" in plan, (scope, filters, plan)
            assert "SCAN human_tasks" not in plan, (scope, filters, plan)
            if not filters.active():
                # The default order is read off an index in full in every scope: nothing is sorted.
                assert "TEMP B-TREE" not in plan, plan
        # Every sortable column, either way, on the "all" scope and on "my department, unassigned":
        # read off an index, at most the ties sorted ("RIGHT PART"), never the whole scope.
        for key, scope in ((key, scope) for key in SORTS for scope in ("all", "group")):
            for sort in (key, "-" + key):
                query = ordered(inbox_query(SUPERVISOR if scope == "all" else WORKER, scope), sort).limit(51)
                if key == "priority":  # urgency either way: read off the index in full
                    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
                    plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                    assert "TEMP B-TREE" not in plan, (sort, plan)
                sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
                plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "USING INDEX" in plan and "SCAN human_tasks" not in plan, (sort, plan)
                assert "USE TEMP B-TREE FOR ORDER BY" not in plan, (scope, sort, plan)


# SQLite's statistics of `redress bench inbox` (100,000 open tasks in six departments): the planner
# decides as it would at that size, whatever few rows a test holds.
FULL_SIZE_STATS = {
    "ix_human_instance": "100000 100000 100000", "ix_human_open_assignee": "100000 100000 827 2",
    "ix_human_open_assignee_urgency": "100000 100000 827 166 85 1 1", "ix_human_open_category": "100000 100000 12500 2",
    "ix_human_open_channel": "100000 100000 14286 2", "ix_human_open_created": "100000 100000 5",
    "ix_human_open_department": "100000 100000 16667 794 1",
    "ix_human_open_department_urgency": "100000 100000 16667 794 159 82 1 1", "ix_human_open_due": "100000 100000 4 1",
    "ix_human_open_due_text": "100000 100000 4 1 1", "ix_human_open_level": "100000 100000 25000 5000 2",
    "ix_human_open_level_queue": "100000 100000 25000 208 199 50 7 2 1 1", "ix_human_open_name": "100000 100000 25000 2",
    "ix_human_open_reference": "100000 100000 1", "ix_human_open_severity": "100000 100000 25000 2 1 1 1 1 1 1",
    "ix_human_open_urgency": "100000 100000 20000 10000 2 1", "ix_human_process_created": "100000 100000 5",
    "ix_human_queue_category": "30242 30242 5041 631 1", "ix_human_queue_channel": "30242 30242 5041 721 1",
    "ix_human_queue_created": "30242 30242 5041 2", "ix_human_queue_due": "30242 30242 5041 2 1",
    "ix_human_queue_level": "30242 30242 5041 1261 253 1", "ix_human_queue_name": "30242 30242 5041 1261 1",
    "ix_human_queue_reference": "30242 30242 5041 1", "ix_human_queue_urgency": "30242 30242 5041 1009 505 1 1",
    "ix_human_tasks_business_key": "100000 1",
}


def test_pages_at_full_size_read_their_order_off_an_index(seeded):
    """With the statistics of 100,000 open tasks: "my department, unassigned" in any column's order
    reads that queue's range of an index in order (a partial index of the unassigned tasks), and a page with an SLA state walks the urgency
    index (checking the state on the rows it meets) instead of sorting a time range's tasks."""
    if not seeded.is_sqlite:
        pytest.skip("the query plan check reads SQLite's EXPLAIN QUERY PLAN")
    from sqlalchemy.dialects import sqlite

    def plan_of(conn, query) -> str:
        sql = str(query.limit(51).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        return " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))

    with seeded.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'human_tasks'")
        for index, stat in FULL_SIZE_STATS.items():
            conn.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('human_tasks', ?, ?)", (index, stat))
    with seeded.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE sqlite_schema")  # the planner reads the statistics again
        for key in SORTS:
            for sort in (key, "-" + key):
                plan = plan_of(conn, ordered(inbox_query(WORKER, "group"), sort))
                queue = "ix_human_queue_" in plan or "department=? AND assignee=?" in plan
                assert queue and "TEMP B-TREE FOR ORDER BY" not in plan, (sort, plan)
        for state in ("on_time", "at_risk", "breached"):
            plan = plan_of(conn, ordered(apply_filters(inbox_query(SUPERVISOR, "all"), Filters(sla=state), NOW, page=True)))
            assert "ix_human_open_urgency" in plan and "TEMP B-TREE" not in plan, (state, plan)
        # Counts of rare combinations read no table row: they walk an index that holds every column
        # they check (a count reads up to 1,000 matches, or the whole range when fewer match).
        for filters in (Filters(department="product", severity="high", sla="at_risk"),
                        Filters(severity="critical", level="2", status="unassigned"),
                        Filters(level="2", status="unassigned"), Filters(level="3", department="sales")):
            query = apply_filters(inbox_query(SUPERVISOR, "all"), filters, NOW)
            plan = plan_of(conn, query.with_only_columns(literal_column("1")).order_by(None))
            assert "COVERING INDEX" in plan, (filters, plan)


def test_new_filters_and_sorts(seeded):
    assert ids(seeded, SUPERVISOR, department="sales") == ["t-sales"]
    assert set(ids(seeded, SUPERVISOR, assignee="li")) == {"t-breached", "t-mine-late"}
    assert set(ids(seeded, SUPERVISOR, status="assigned")) == {"t-breached", "t-mine-late"}
    assert "t-breached" not in ids(seeded, SUPERVISOR, status="unassigned")
    with seeded.write_session.begin() as s:
        s.get(HumanTask, "t-sales").escalation_level = 3
    assert ids(seeded, SUPERVISOR, level="3") == ["t-sales"]
    day = (NOW - timedelta(hours=9)).date()
    assert set(ids(seeded, SUPERVISOR, created_to=day - timedelta(days=1))) == {"t-mine-late"}
    with seeded.session() as s:
        by_created = [t.id for t in list_tasks(s, SUPERVISOR, "all", 1, 50, filters=Filters(), now=NOW,
                                               sort="created").tasks]
        newest = [t.id for t in list_tasks(s, SUPERVISOR, "all", 1, 50, filters=Filters(), now=NOW,
                                           sort="-created").tasks]
    assert by_created[0] == "t-mine-late" and newest[-1] == "t-mine-late"
