"""Server-side staff sessions: the browser holds a random key, the row says whether it still counts.

A signed cookie alone stays valid until it expires, whatever happens to the account; with a row per
sign-in, logout, a password change, deactivation or an administrator's force sign-out end it at the
next request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from processes.engine.models import StaffSession, User, utcnow

# How stale last_seen_at may get before a request writes it again: one write per person per few
# minutes, not one per request (SQLite has one writer).
TOUCH_EVERY = timedelta(minutes=5)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(session: Session, user: User, lifetime: timedelta, remote_addr: str | None = None,
          user_agent: str | None = None) -> str:
    """A new session for this user; returns the key for the cookie (only its hash is stored)."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(StaffSession(key_sha256=_sha(key), user_id=user.id, created_at=now, last_seen_at=now,
                             expires_at=now + lifetime, remote_addr=(remote_addr or "")[:64] or None,
                             user_agent=(user_agent or "")[:300] or None))
    session.flush()
    return key


# Every staff page runs this: one indexed lookup, built once.
_OPEN_SESSION = (select(User, StaffSession)
                 .join(StaffSession, StaffSession.user_id == User.id)
                 .where(StaffSession.key_sha256 == bindparam("digest"), StaffSession.ended_at.is_(None),
                        StaffSession.expires_at > bindparam("now"), User.active.is_(True)))


def resolve(session: Session, key: str | None, now: datetime | None = None) -> tuple[User, StaffSession] | None:
    """The active user of an open, unexpired session, with the session row; None otherwise."""
    if not key:
        return None
    row = session.execute(_OPEN_SESSION, {"digest": _sha(key), "now": now or utcnow()}).first()
    return (row[0], row[1]) if row is not None else None


def touch_due(row: StaffSession, now: datetime | None = None) -> bool:
    """Whether last_seen_at is stale enough to write again."""
    return (now or utcnow()) - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, row: StaffSession, now: datetime | None = None) -> None:
    """Note that the session was used (callers check touch_due first)."""
    session.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now or utcnow()))


def end(session: Session, key: str | None, reason: str = "logout") -> bool:
    if not key:
        return False
    result = session.execute(update(StaffSession)
                             .where(StaffSession.key_sha256 == _sha(key), StaffSession.ended_at.is_(None))
                             .values(ended_at=utcnow(), end_reason=reason))
    return result.rowcount > 0


def end_all(session: Session, user_id: int, reason: str, keep_key: str | None = None) -> int:
    """End every open session of a user (but the one with keep_key); returns how many ended."""
    query = update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
    if keep_key:
        query = query.where(StaffSession.key_sha256 != _sha(keep_key))
    return session.execute(query.values(ended_at=utcnow(), end_reason=reason)).rowcount


def open_sessions(session: Session, user_id: int, now: datetime | None = None) -> list[StaffSession]:
    return list(session.scalars(
        select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None),
                                   StaffSession.expires_at > (now or utcnow()))
        .order_by(StaffSession.last_seen_at.desc())))


def is_current(row: StaffSession, key: str | None) -> bool:
    return bool(key) and row.key_sha256 == _sha(key)
