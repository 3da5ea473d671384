"""Staff accounts and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from processes.engine.actors import DEPARTMENTS, ROLES, Actor
from processes.engine.models import ApiToken, User, utcnow

_hasher = PasswordHasher()


class UserError(ValueError):
    pass


def actor_for(user: User) -> Actor:
    return Actor(user.username, user.department, user.role)


def add_user(session: Session, username: str, department: str, role: str, password: str | None = None,
             display_name: str = "", email: str | None = None, locale: str | None = None) -> User:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if department not in DEPARTMENTS:
        raise UserError(f"unknown department {department!r}; choose one of {', '.join(DEPARTMENTS)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"a user named {username!r} already exists")
    user = User(username=username, department=department, role=role, display_name=display_name or username,
                email=email, locale=locale, password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = _hasher.hash(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        _hasher.hash(password)  # same work either way, so timing does not reveal who exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, label: str = "") -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user named {username!r}")
    token = "rd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_sha256=_sha(token), label=label))
    session.flush()
    return token


# Every API request runs this: one indexed lookup, built once (building costs more than running it).
_USER_FOR_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                   .where(ApiToken.token_sha256 == bindparam("digest"), ApiToken.revoked_at.is_(None),
                          User.active.is_(True)))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user of an unrevoked token, or None."""
    return session.scalars(_USER_FOR_TOKEN, {"digest": _sha(token)}).first()


def revoke_token(session: Session, token: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha(token)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True
