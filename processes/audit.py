"""Append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so a
changed, inserted or deleted row breaks the chain; the head row records the
last entry so that deleting the newest rows is caught too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, entry_id: int, at: datetime, actor: str, action: str,
            business_key: str | None, instance_id: int | None, detail: dict) -> str:
    canonical = json.dumps(
        [prev_hash, entry_id, at.isoformat(), actor, action, business_key, instance_id, detail],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(session: Session, actor: str, action: str, *, business_key: str | None = None,
           instance_id: int | None = None, detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (the head row is locked until commit)."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    # Round-trip detail through JSON so the hash is computed on what is stored.
    detail = json.loads(json.dumps(detail or {}, default=str, ensure_ascii=False))
    at = utcnow()
    entry_id = head.last_id + 1
    digest = _digest(head.last_hash, entry_id, at, actor, action, business_key, instance_id, detail)
    entry = AuditEntry(id=entry_id, at=at, actor=actor, action=action, business_key=business_key,
                       instance_id=instance_id, detail=detail, prev_hash=head.last_hash, hash=digest)
    session.add(entry)
    head.last_id = entry_id
    head.last_hash = digest
    session.flush()
    return entry


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
