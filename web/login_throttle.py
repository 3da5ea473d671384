"""Password guessing slowed down, without letting anyone lock a colleague out.

Only failed logins count. After a few failures the next try must wait, and the wait doubles
with each further failure (2 s, 4 s, 8 s ... at most 15 minutes), counted three ways:
- per account *and* address: the guesser at one machine is slowed quickly;
- per address: one machine trying many accounts;
- per account from anywhere: guessing spread over many machines, capped at one minute, so a
  stranger can delay the real owner a little but never lock them out.
A successful login clears its account's counts. Hits live in the database (rate_limit_hits),
so the limits hold across processes and restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from processes.channels.portal_models import RateLimitHit
from processes.engine.models import utcnow

WINDOW = timedelta(minutes=15)
# bucket kind: (failures allowed without delay, longest delay in seconds)
RULES = {"pair": (5, 15 * 60), "addr": (20, 15 * 60), "user": (20, 60)}


def _buckets(username: str, address: str) -> dict[str, str]:
    user = username.strip().lower()[:80]
    return {"pair": f"login-fail:{user}|{address}", "addr": f"login-fail-addr:{address}",
            "user": f"login-fail-user:{user}"}


def wait_seconds(session: Session, username: str, address: str, now: datetime | None = None) -> int:
    """How long this account and address must wait before the next try (0: try now)."""
    now = now or utcnow()
    longest = 0.0
    for kind, bucket in _buckets(username, address).items():
        free, cap = RULES[kind]
        count, last = session.execute(
            select(func.count(), func.max(RateLimitHit.at))
            .where(RateLimitHit.bucket == bucket, RateLimitHit.at >= now - WINDOW)).one()
        if count < free or last is None:
            continue
        delay = min(cap, 2 ** min(count - free + 1, 20))
        longest = max(longest, (last + timedelta(seconds=delay) - now).total_seconds())
    return max(0, int(longest + 0.999))


def record_failure(session: Session, username: str, address: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    for bucket in _buckets(username, address).values():
        session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.at < now - WINDOW))
        session.add(RateLimitHit(bucket=bucket[:200], at=now))


def record_success(session: Session, username: str, address: str) -> None:
    # The address count stays: one good account must not wash out guessing at others.
    buckets = _buckets(username, address)
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket.in_([buckets["pair"], buckets["user"]])))
