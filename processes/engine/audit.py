"""Append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so a
changed, inserted or deleted row breaks the chain; the head row records the
last entry so that deleting the newest rows is caught too.
"""

from __future__ import annotations

import hashlib
import json
import math
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.orm import Session

from processes.engine import jsoncodec
from processes.engine.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, entry_id: int, at: datetime, actor: str, action: str,
            business_key: str | None, instance_id: int | None, detail: dict) -> str:
    canonical = json.dumps(
        [prev_hash, entry_id, at.isoformat(), actor, action, business_key, instance_id, detail],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class PendingEntry:
    actor: str
    action: str
    business_key: str | None
    instance_id: int | None
    detail: dict


def append(session: Session, actor: str, action: str, *, business_key: str | None = None,
           instance_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append an entry in the caller's transaction.

    Entries are collected on the session and chained when it flushes them just
    before commit (see `install`), so a unit of work locks the chain's head
    once, at its very end, however many entries it writes."""
    # Round-trip detail through JSON so the hash is computed on what is stored. JSON has no
    # NaN or infinity (PostgreSQL refuses them): such a number is recorded as its text.
    detail = json.loads(json.dumps(_finite(detail or {}), default=str, ensure_ascii=False, allow_nan=False))
    session.info.setdefault("audit_pending", []).append(
        PendingEntry(actor, action, business_key, instance_id, detail))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def write_pending(session: Session) -> int:
    """Chain and insert the session's pending entries; returns how many were written."""
    pending: list[PendingEntry] = session.info.pop("audit_pending", [])
    if not pending:
        return 0
    connection = session.connection()
    head = connection.execute(_READ_HEAD).first()
    if head is None:
        session.execute(insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS))
        last_id, last_hash = 0, GENESIS
    else:
        last_id, last_hash = head
    rows = []
    for entry in pending:
        at = utcnow()
        last_id += 1
        digest = _digest(last_hash, last_id, at, entry.actor, entry.action, entry.business_key,
                         entry.instance_id, entry.detail)
        rows.append({"id": last_id, "at": at, "actor": entry.actor, "action": entry.action,
                     "business_key": entry.business_key, "instance_id": entry.instance_id,
                     "detail": entry.detail, "prev_hash": last_hash, "hash": digest})
        last_hash = digest
    # Core statements on the session's connection: no ORM bookkeeping for rows nobody reads back.
    # Each is compiled once: a multi-VALUES INSERT holding the rows was compiled again on every
    # commit (its JSON values defeat SQLAlchemy's statement cache), which cost a timer batch more
    # than its database work.
    moved = {"new_last_id": last_id, "new_last_hash": last_hash}
    if connection.dialect.name == "postgresql":
        # One round trip for the entries and the head (the head stays locked until the commit,
        # every writer waits on it): the rows go as one JSON parameter.
        for row in rows:
            row["at"] = row["at"].isoformat()
        connection.execute(_PG_WRITE, {"rows": jsoncodec.dumps(rows), **moved})
    else:
        connection.execute(_INSERT_ENTRIES, rows)
        connection.execute(_MOVE_HEAD, moved)
    return len(rows)


# Built once: a unit of work runs these as its last statements, and building one costs
# more than SQLite takes to run it.
_HEAD_TABLE = AuditHead.__table__
_READ_HEAD = select(_HEAD_TABLE.c.last_id, _HEAD_TABLE.c.last_hash).where(_HEAD_TABLE.c.id == 1).with_for_update()
_INSERT_ENTRIES = insert(AuditEntry.__table__)
_MOVE_HEAD = (update(_HEAD_TABLE).where(_HEAD_TABLE.c.id == 1)
              .values(last_id=bindparam("new_last_id"), last_hash=bindparam("new_last_hash")))
_PG_WRITE = text("""
WITH written AS (
    INSERT INTO audit_log (id, at, actor, action, business_key, instance_id, detail, prev_hash, hash)
    SELECT id, at, actor, action, business_key, instance_id, detail, prev_hash, hash
    FROM json_to_recordset(CAST(:rows AS json)) AS r(id integer, at timestamptz, actor text, action text,
        business_key text, instance_id integer, detail json, prev_hash text, hash text)
    RETURNING 1)
UPDATE audit_head SET last_id = :new_last_id, last_hash = :new_last_hash WHERE id = 1""")


def install(session_factory) -> None:
    """Write pending audit entries as the last statements of every transaction."""

    @event.listens_for(session_factory, "before_commit")
    def _before_commit(session: Session) -> None:
        if not session.in_nested_transaction():  # a savepoint's release is not the commit
            write_pending(session)

    # A savepoint (a service handler runs in one) undoes only the entries made inside it: the
    # transaction's earlier entries stay and are written at its commit, with the rows they describe.
    @event.listens_for(session_factory, "after_transaction_create")
    def _mark_savepoint(session: Session, transaction) -> None:
        if transaction.nested:
            _SAVEPOINT_MARKS[transaction] = len(session.info.get("audit_pending", ()))

    @event.listens_for(session_factory, "after_soft_rollback")
    def _after_rollback(session: Session, rolled_back) -> None:
        if rolled_back.nested:
            mark = _SAVEPOINT_MARKS.pop(rolled_back, 0)
            del session.info.get("audit_pending", [])[mark:]
        elif rolled_back.parent is None:
            session.info.pop("audit_pending", None)


# How many entries were pending when each open savepoint began (gone with the savepoint).
_SAVEPOINT_MARKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def completed_tasks(session: Session, business_key: str) -> list[dict]:
    """The human tasks done on a case, in order, with who did them and when.

    Read from the chain, plus this transaction's entries not yet written (they are chained at commit),
    so an archive written in the same unit of work as the last task still lists it."""
    written = session.execute(
        select(AuditEntry.at, AuditEntry.actor, AuditEntry.detail)
        .where(AuditEntry.business_key == business_key, AuditEntry.action == "task_completed")
        .order_by(AuditEntry.id)).all()
    done = [{"task": detail.get("task"), "name": detail.get("name"), "by": actor, "at": at.isoformat()}
            for at, actor, detail in written]
    now = utcnow().isoformat()
    done += [{"task": e.detail.get("task"), "name": e.detail.get("name"), "by": e.actor, "at": now}
             for e in session.info.get("audit_pending", [])
             if e.action == "task_completed" and e.business_key == business_key]
    return done


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain from the first entry; report the first break found."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_seen = 0
    while True:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_seen).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not entries:
            break
        for e in entries:
            if e.id != expected_id:
                return VerifyResult(False, checked, f"entry {expected_id} is missing (next is {e.id})")
            if e.prev_hash != prev_hash:
                return VerifyResult(False, checked, f"entry {e.id} does not follow entry {e.id - 1}")
            at = e.at
            digest = _digest(prev_hash, e.id, at, e.actor, e.action, e.business_key, e.instance_id, e.detail)
            if digest != e.hash:
                return VerifyResult(False, checked, f"entry {e.id} was changed after it was written")
            prev_hash, expected_id, checked, last_seen = e.hash, e.id + 1, checked + 1, e.id
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != prev_hash):
        return VerifyResult(False, checked, f"entries after {checked} were deleted (head says {head.last_id})")
    return VerifyResult(True, checked)


def history(session: Session, business_key: str) -> list[AuditEntry]:
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.business_key == business_key).order_by(AuditEntry.id))
    )
