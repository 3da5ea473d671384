"""The audit log is append-only and hash-chained: tampering is detected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from processes.engine import audit
from processes.engine.models import AuditEntry


def _start(runtime, standin_files, agent):
    runtime.deploy(standin_files)
    runtime.start("standin", "C-A", {"channel": "phone", "rounds_done": 0})
    task = runtime.open_tasks("C-A")[0]
    runtime.claim(task.id, agent)
    runtime.complete(task.id, agent, {"subject": "Broken kettle", "severity": "low"})


def test_every_change_is_logged_with_actor_and_data(runtime, standin_files, agent, db):
    _start(runtime, standin_files, agent)
    with db.session() as s:
        entries = audit.history(s, "C-A")
    actions = [e.action for e in entries]
    assert actions[:3] == ["instance_started", "task_claimed", "task_completed"]
    completed = entries[2]
    assert completed.actor == agent.username and completed.detail["data"]["subject"] == "Broken kettle"
    with db.session() as s:
        assert audit.verify(s).ok


def test_changed_row_is_detected(runtime, standin_files, agent, db):
    _start(runtime, standin_files, agent)
    with db.write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.action == "task_completed").values(actor="mallory"))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and "changed" in result.problem


# Every column of an entry, each changed on its own in the middle of the chain: the hash covers it.
TAMPERS = {
    "actor": lambda e: {"actor": "mallory"},
    "action": lambda e: {"action": "task_claimed"},
    "at": lambda e: {"at": e.at - timedelta(minutes=1)},
    "business_key": lambda e: {"business_key": "C-B"},
    "instance_id": lambda e: {"instance_id": e.instance_id + 1},
    "detail": lambda e: {"detail": {**e.detail, "data": {**e.detail["data"], "subject": "Fine kettle"}}},
}


@pytest.mark.parametrize("column", sorted(TAMPERS))
def test_a_change_to_any_one_column_is_detected(runtime, standin_files, agent, db, column):
    _start(runtime, standin_files, agent)
    runtime.start("standin", "C-Z", {"channel": "phone", "rounds_done": 0})  # entries after the tampered one
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "task_completed")).one()
        values, entry_id = TAMPERS[column](entry), entry.id
        assert s.scalar(select(func.max(AuditEntry.id))) > entry_id  # not the last entry: the chain goes on
    with db.write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(**values))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.problem == f"entry {entry_id} was changed after it was written"


def test_a_rewritten_previous_hash_is_detected(runtime, standin_files, agent, db):
    _start(runtime, standin_files, agent)
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "task_completed")).one()
    with db.write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(prev_hash="f" * 64))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.problem == f"entry {entry.id} does not follow entry {entry.id - 1}"


def test_deleted_rows_are_detected_in_the_middle_and_at_the_end(runtime, standin_files, agent, db):
    _start(runtime, standin_files, agent)
    with db.write_session.begin() as s:
        first_id = s.scalar(select(AuditEntry.id).where(AuditEntry.action == "task_claimed"))
        s.execute(delete(AuditEntry).where(AuditEntry.id == first_id))
    with db.session() as s:
        assert "missing" in audit.verify(s).problem
    # Restore order by removing everything after the gap: the head still remembers the tail.
    with db.write_session.begin() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id >= first_id))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and "deleted" in result.problem


def test_cli_verify_exit_status(runtime, standin_files, agent, db, monkeypatch):
    from web.cli import main

    _start(runtime, standin_files, agent)
    monkeypatch.setenv("REDRESS_DATABASE_URL", db.url)
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    with db.write_session.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == 1).values(detail={"forged": True}))
    broken = CliRunner().invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1


def test_entries_with_unusual_numbers_still_verify(db):
    """Detail is hashed as the standard library reads it back: a 30-digit integer or a NaN
    that reached an entry (from an API client, say) must not look like tampering."""
    with db.write_session.begin() as s:
        audit.append(s, "api", "message_received", business_key="C-N",
                     detail={"order_value": 123456789012345678901234567890, "score": float("nan"),
                             "ratio": 0.1, "name": "王芳"})
    with db.session() as s:
        assert audit.verify(s).ok
        [entry] = audit.history(s, "C-N")
        assert entry.detail["order_value"] == 123456789012345678901234567890
        assert entry.detail["score"] == "nan"  # JSON has no NaN; PostgreSQL would refuse the row


def test_a_failed_savepoint_drops_only_its_own_entries(db):
    """A failing service handler runs in a savepoint; the steps before it in the same unit of work
    (a task completed, money booked) keep their entries, written with their rows at the commit."""
    with db.write_session.begin() as s:
        audit.append(s, "alice", "task_completed", business_key="C-S")
        with pytest.raises(RuntimeError), s.begin_nested():
            audit.append(s, "system", "notification_sent", business_key="C-S")
            raise RuntimeError("the mail server refused")
        audit.append(s, "system", "compensation_booked", business_key="C-S")
    with db.session() as s:
        assert [e.action for e in audit.history(s, "C-S")] == ["task_completed", "compensation_booked"]
        assert audit.verify(s).ok


def test_a_rolled_back_unit_of_work_writes_none_of_its_entries(db):
    with pytest.raises(RuntimeError), db.write_session.begin() as s:
        audit.append(s, "alice", "task_completed", business_key="C-R")
        raise RuntimeError("the step failed")
    with db.write_session.begin() as s:
        audit.append(s, "bob", "task_claimed", business_key="C-R")
    with db.session() as s:
        assert [e.action for e in audit.history(s, "C-R")] == ["task_claimed"]
