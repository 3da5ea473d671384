"""The inbox's word search: answered from SQLite's FTS5 trigram table (migration 0023), which the
triggers keep in step with every write to human_tasks in the same transaction; Chinese substrings,
parts of references and many-match words find the same tasks either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from processes.engine import task_search
from processes.engine.actors import Actor
from processes.engine.inbox import Filters, filtered_query, list_tasks, ordered
from processes.engine.models import HumanTask
from tests.inbox_support import bare_instance

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SUPERVISOR = Actor("zhao", "customer_service", "supervisor")
SUMMARIES = ["电水壶底座漏电，有安全隐患", "快递三天未到 order SO-881", "Kettle LEAKS at the base", "退款未到账"]


@pytest.fixture
def tasks(db):
    with db.write_session.begin() as s:
        instance = bare_instance(s)
        for n, summary in enumerate(SUMMARIES):
            s.add(HumanTask(id=f"t-{n}", instance_id=instance.id, business_key=f"TS-20260302-H4TD{n}",
                            process_key="p", bpmn_id="Task_X", name="调查处理", department="product",
                            summary=summary, created_at=NOW - timedelta(hours=n), due_at=NOW + timedelta(hours=n)))
    return db


def found(db, words: str) -> set[str]:
    with db.session() as s:
        return {t.id for t in list_tasks(s, SUPERVISOR, "all", 1, 50, filters=Filters(text=words), now=NOW).tasks}


@pytest.mark.parametrize(("words", "expected"), [
    ("漏电", {"t-0"}),  # two characters: below a trigram, matched with LIKE
    ("底座漏电", {"t-0"}),
    ("安全隐患", {"t-0"}),
    ("kettle leaks", {"t-2"}),  # case-insensitive
    ("SO-881", {"t-1"}),
    ("H4TD3", {"t-3"}),  # part of a reference
    ("到", {"t-1", "t-3"}),
    ("nothing like it", set()),
    ('say "quoted" AND NOT', set()),  # FTS5 query syntax is taken as plain words
])
def test_words_find_the_same_tasks_as_before(tasks, words, expected):
    assert found(tasks, words) == expected


def test_the_search_table_follows_every_write_in_its_transaction(tasks):
    if not tasks.is_sqlite:
        pytest.skip("the FTS table is SQLite's; PostgreSQL reads its trigram indexes")
    with tasks.write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == "t-0").values(status="completed"))
        s.execute(update(HumanTask).where(HumanTask.id == "t-3").values(summary="退款已到账，客户仍不满意"))
        assert s.scalar(text("SELECT count(*) FROM human_tasks_fts WHERE human_tasks_fts MATCH '\"底座漏电\"'")) == 0
    assert found(tasks, "底座漏电") == set()  # closed: out of the inbox and of the table
    assert found(tasks, "仍不满意") == {"t-3"} and found(tasks, "退款未到账") == set()
    with tasks.write_session.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == "t-0").values(status="open"))  # a retry reopens it
        s.execute(text("DELETE FROM human_tasks WHERE id = 't-2'"))
    assert found(tasks, "底座漏电") == {"t-0"} and found(tasks, "kettle") == set()
    with tasks.engine.connect() as conn:
        indexed = conn.exec_driver_sql("SELECT count(*) FROM human_tasks_fts").scalar()
        open_rows = conn.exec_driver_sql("SELECT count(*) FROM human_tasks WHERE status = 'open'").scalar()
    assert indexed == open_rows == 3


def test_few_matches_are_read_from_the_search_table(tasks):
    """The FTS table names the matching rows; the page reads just those by rowid, no LIKE, no scan."""
    if not tasks.is_sqlite:
        pytest.skip("reads SQLite's EXPLAIN QUERY PLAN")
    with tasks.session() as s:
        query = ordered(filtered_query(SUPERVISOR, "all", Filters(text="底座漏电"), NOW, s)).limit(51)
        sql = str(query.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
        plan = " | ".join(row[-1] for row in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert s.info[("task_search", "底座漏电")] == [s.scalar(text("SELECT rowid FROM human_tasks WHERE id = 't-0'"))]
    assert "LIKE" not in sql and "INTEGER PRIMARY KEY (rowid=?)" in plan, plan


def test_many_matches_walk_the_index_and_find_the_same(tasks, monkeypatch):
    """Past SET_CAP matches the page checks LIKE along the order's index instead: same tasks."""
    expected = found(tasks, "到")
    monkeypatch.setattr(task_search, "SET_CAP", 0)
    assert found(tasks, "到账") == {"t-3"} and found(tasks, "到") == expected
    with tasks.session() as s:
        query = filtered_query(SUPERVISOR, "all", Filters(text="退款未到账"), NOW, s)
        assert "human_tasks_fts" not in str(query)
