"""Fewer round trips per unit of work (issue 18), with the same results: a completion hands on
the tasks it opened without reading them back, the audit chain moves its head with its entries,
and an idle pooled connection is tested before use (a busy one is not)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

from processes.app import build_runtime
from processes.benchmarks.engine import COMPLAINT_SETTINGS, COMPLAINT_START, COMPLAINT_STEPS, complaint_start
from processes.complaints.settings import default_settings
from processes.engine import audit
from processes.engine import db as engine_db
from processes.engine.actors import SYSTEM
from processes.engine.definitions import read_files
from processes.engine.errors import NotFound
from processes.engine.runtime import Runtime
from tests.conftest import ROOT
from tests.test_compaction import PARALLEL_LOOP

FIELDS = ("id", "instance_id", "business_key", "bpmn_id", "name", "department", "form", "status",
          "assignee", "due_at", "priority", "summary")


def _statements(db, fn, *args) -> tuple[object, list[str]]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_rest) -> None:
        seen.append(" ".join(statement.split()))

    engines = {db.engine, db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        return fn(*args), seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)


def _same_rows(returned, stored) -> None:
    assert sorted(r.id for r in returned) == sorted(r.id for r in stored)
    by_id = {r.id: r for r in stored}
    for row in returned:
        assert {f: getattr(row, f) for f in FIELDS} == {f: getattr(by_id[row.id], f) for f in FIELDS}


def test_a_completion_hands_on_the_open_tasks_as_they_are_stored(db):
    runtime = Runtime(db, settings={})
    runtime.deploy({"parallel_loop.bpmn": PARALLEL_LOOP})
    runtime.start("parallel_loop", "P-1", {"a_rounds": 0, "b_rounds": 0})
    first, second = sorted(runtime.open_tasks("P-1"), key=lambda t: t.bpmn_id)
    # Task_B stays open from before: the completion reads the open tasks.
    after_a = runtime.complete(first.id, SYSTEM, {})
    _same_rows(after_a, runtime.open_tasks("P-1"))
    assert [t.bpmn_id for t in after_a] == ["Task_B"]
    # Both of the next round's tasks are new: handed on as written, no query for them.
    after_b, statements = _statements(db, runtime.complete, second.id, SYSTEM, {})
    _same_rows(after_b, runtime.open_tasks("P-1"))
    assert sorted(t.bpmn_id for t in after_b) == ["Task_A", "Task_B"]
    assert not [s for s in statements if s.startswith("SELECT") and "FROM human_tasks WHERE human_tasks.instance_id" in s]


def test_one_completion_of_a_complaint_moves_the_audit_head_with_its_entries(db):
    runtime = build_runtime(db=db, process_settings={**default_settings(), **COMPLAINT_SETTINGS})
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    runtime.start("complaint_handling", "C-1", {**COMPLAINT_START, "reference": "C-1"})
    task = runtime.open_tasks("C-1")[0]
    opened, statements = _statements(db, runtime.complete, task.id, SYSTEM, dict(COMPLAINT_STEPS[0][2]))
    _same_rows(opened, runtime.open_tasks("C-1"))
    head_moves = [s for s in statements if "UPDATE audit_head" in s]
    assert len(head_moves) == 1
    entries = [s for s in statements if "INSERT INTO audit_log" in s]
    if db.is_sqlite:  # the entries go in one statement, compiled once (an executemany)
        assert len(entries) == 1 and entries[0].startswith("INSERT INTO audit_log")
    else:  # entries and head in one round trip: the rows as one JSON parameter
        assert entries == head_moves
    with db.session() as session:
        assert audit.verify(session).ok


def test_an_idle_connection_is_tested_before_use_and_replaced_when_dead(db):
    if db.is_sqlite:
        pytest.skip("SQLite has no server connection to lose")
    engine = db.engine
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    _, busy = _statements(db, lambda: engine.connect().close())
    assert busy == []  # just used: no ping
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as conn:  # the same pooled connection: idle a while and killed meanwhile
        conn.connection.dbapi_connection  # noqa: B018 - checked out, so the pool hands it back below
    record = engine.pool._pool.queue[0]
    record.info["idle_since"] = time.monotonic() - engine_db.IDLE_BEFORE_PING - 1
    with engine_db.make_engine(db.url).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with engine.connect() as conn:  # no error: the dead connection was found and replaced
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid


def test_a_unit_of_work_reads_its_complaint_once_and_sees_its_own_changes(db):
    """The handler, the record's observer and the mailer each ask for the complaint: one SELECT per
    transaction, always the same object (so a change made by one is what the next sees)."""
    from processes.complaints.records import Complaint, complaint_by_reference
    from processes.complaints.registration import new_record

    with db.write_session() as session, session.begin():
        session.add(new_record(complaint_start("C-9"), None, "system"))
    with db.write_session() as session, session.begin():
        first, statements = _statements(db, complaint_by_reference, session, "C-9")
        assert len([s for s in statements if s.startswith("SELECT complaints")]) == 1
        first.severity = "high"
        del first  # the session itself keeps only a weak reference
        again, statements = _statements(db, complaint_by_reference, session, "C-9")
        assert statements == [] and again.severity == "high"
        assert complaint_by_reference(session, "NOPE") is None
        session.add(Complaint(reference="NOPE", channel="web"))  # asked for before it existed
        session.flush()
        assert complaint_by_reference(session, "NOPE").reference == "NOPE"
    with db.write_session() as session, session.begin():  # another transaction reads afresh
        _, statements = _statements(db, complaint_by_reference, session, "C-9")
        assert len([s for s in statements if s.startswith("SELECT complaints")]) == 1


def test_writing_a_waiting_timer_wakes_the_workers_without_a_statement_of_its_own(db):
    """PostgreSQL: the timer upsert carries pg_notify in its RETURNING, so a unit of work that
    arms a timer sends no separate NOTIFY, and a listening worker still hears it at commit."""
    if db.is_sqlite:
        pytest.skip("SQLite has no workers to wake")
    import psycopg

    from processes.engine.sync import CHANNEL

    runtime = build_runtime(db=db, process_settings={**default_settings(), **COMPLAINT_SETTINGS})
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    listener = psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        _, statements = _statements(db, runtime.start, "complaint_handling", "C-2", complaint_start("C-2"))
        assert any(s.startswith("INSERT INTO timers") for s in statements)  # the SLA clock is armed
        assert not any(s.startswith("NOTIFY") for s in statements)
        heard = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in heard] == [CHANNEL]
    finally:
        listener.close()


def test_opening_a_task_reads_its_row_form_and_data_in_one_statement_each(db):
    runtime = build_runtime(db=db, process_settings={**default_settings(), **COMPLAINT_SETTINGS})
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    runtime.start("complaint_handling", "C-3", {**COMPLAINT_START, "reference": "C-3"})
    task = runtime.open_tasks("C-3")[0]
    runtime.task_form(task.id)  # the definition is read once per process, then cached
    (row, schema), form_reads = _statements(db, runtime.task_form, task.id)
    assert row.id == task.id and row.bpmn_id == "Task_Classify" and "category" in schema["properties"]
    data, data_reads = _statements(db, runtime.task_data, task.id)
    assert data["reference"] == "C-3" and data["subject"] == COMPLAINT_START["subject"]
    # SQLite's BEGIN is a statement of ours; on PostgreSQL the reads run outside a transaction.
    assert [s[:6] for s in form_reads + data_reads if s != "BEGIN"] == ["SELECT", "SELECT"]
    with pytest.raises(NotFound):
        runtime.task_form("no-such-task")
    with pytest.raises(NotFound):
        runtime.task_data("no-such-task")
