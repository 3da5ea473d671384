"""Staff accounts and API tokens: creating and changing them (administrators only, audited),
signing in, and the password policy.

Each function that changes an account takes the acting person and refuses anyone but an
administrator here, not only in the views, so the CLI, the API and the pages share one rule."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from processes.engine import audit, sessions
from processes.engine.actors import DEPARTMENTS, ROLES, Actor
from processes.engine.errors import N_, Forbidden, RuntimeProblem
from processes.engine.models import ApiToken, User, utcnow
from processes.engine.passwords import password_problem

# argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB). The tests swap `_hasher`
# for a cheap one; PRODUCTION_HASHER keeps the real one checkable.
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER
LOCALES = ("zh_CN", "en")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(RuntimeProblem, ValueError):
    """Bad input for an account; `field` names the form field the message belongs next to."""

    status = 422

    def __init__(self, field: str, template: str, **params: Any):
        super().__init__(template, **params)
        self.field = field


def actor_for(user: User) -> Actor:
    return Actor(user.username, user.department, user.role)


def _require_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden(N_("Only an administrator may manage staff accounts."))


def _check_choice(field: str, value: str, choices: tuple[str, ...], template: str) -> None:
    if value not in choices:
        raise UserError(field, template, value=value, choices=", ".join(choices))


def check_password(password: str, username: str = "", field: str = "password") -> None:
    problem = password_problem(password or "", username)
    if problem is not None:
        raise UserError(field, problem[0], **problem[1])


def _check_email(email: str | None) -> str | None:
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or not _EMAIL.match(email)):
        raise UserError("email", N_("%(value)s is not an e-mail address."), value=email)
    return email


def add_user(session: Session, username: str, department: str, role: str, password: str | None = None,
             display_name: str = "", email: str | None = None, locale: str | None = None) -> User:
    """Insert an account after checking role, department and name (no policy: demo and test data)."""
    _check_choice("role", role, ROLES, N_("unknown role %(value)s; choose one of %(choices)s"))
    _check_choice("department", department, DEPARTMENTS,
                  N_("unknown department %(value)s; choose one of %(choices)s"))
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise UserError("username", N_("a user named %(value)s already exists"), value=username)
    user = User(username=username, department=department, role=role, display_name=display_name or username,
                email=email, locale=locale, password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = _hasher.hash(password)


def temporary_password() -> str:
    """Shown once to the administrator; the user must replace it at the next login."""
    return secrets.token_urlsafe(12)


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError("username", N_("no user named %(value)s"), value=username)
    return user


def list_users(session: Session, search: str = "", include_inactive: bool = True, limit: int = 200) -> list[User]:
    query = select(User)
    words = search.strip()
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
        query = query.where(or_(func.lower(User.username).like(pattern, escape="\\"),
                                func.lower(User.display_name).like(pattern, escape="\\"),
                                func.lower(User.email).like(pattern, escape="\\")))
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query.order_by(User.username).limit(limit)))


def create_account(session: Session, actor: Actor, username: str, department: str, role: str,
                   display_name: str = "", email: str | None = None, locale: str | None = None,
                   password: str | None = None) -> tuple[User, str | None]:
    """A new staff account. Without a password it gets a temporary one (returned, shown once) that
    must be changed at the first login; a given password must meet the policy."""
    _require_admin(actor)
    _check_choice("role", role, ROLES, N_("unknown role %(value)s; choose one of %(choices)s"))
    _check_choice("department", department, DEPARTMENTS,
                  N_("unknown department %(value)s; choose one of %(choices)s"))
    if locale:
        _check_choice("locale", locale, LOCALES, N_("unknown language %(value)s; choose one of %(choices)s"))
    email = _check_email(email)
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise UserError("username", N_("A user name has 2 to 80 letters, digits, dots, dashes or underscores."))
    # The password last, once the name is known to be free.
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise UserError("username", N_("a user named %(value)s already exists"), value=username)
    temporary = None
    if password:
        check_password(password, username)
    else:
        password = temporary = temporary_password()
    user = add_user(session, username, department, role, password, display_name=(display_name or "").strip()[:200],
                    email=email, locale=locale or None)
    user.must_change_password = temporary is not None
    audit.append(session, actor.username, "user_created",
                 detail={"username": username, "department": department, "role": role})
    return user, temporary


EDITABLE = ("display_name", "email", "department", "role", "locale")


def edit_account(session: Session, actor: Actor, username: str, **changes: Any) -> dict[str, list]:
    """Change the given fields; returns {field: [old, new]} of what changed (audited)."""
    _require_admin(actor)
    user = find_user(session, username)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise UserError(min(unknown), N_("%(value)s cannot be changed here."), value=min(unknown))
    if "role" in changes:
        _check_choice("role", changes["role"], ROLES, N_("unknown role %(value)s; choose one of %(choices)s"))
    if "department" in changes:
        _check_choice("department", changes["department"], DEPARTMENTS,
                      N_("unknown department %(value)s; choose one of %(choices)s"))
    if changes.get("locale"):
        _check_choice("locale", changes["locale"], LOCALES, N_("unknown language %(value)s; choose one of %(choices)s"))
    if "email" in changes:
        changes["email"] = _check_email(changes["email"])
    if "display_name" in changes:
        changes["display_name"] = (changes["display_name"] or "").strip()[:200] or user.username
    if "locale" in changes:
        changes["locale"] = changes["locale"] or None
    if user.id == _user_id(session, actor) and changes.get("role", "admin") != "admin":
        raise UserError("role", N_("You cannot take the administrator role from yourself."))
    changed = {field: [getattr(user, field), value] for field, value in changes.items()
               if getattr(user, field) != value}
    for field, (_old, new) in changed.items():
        setattr(user, field, new)
    if changed:
        audit.append(session, actor.username, "user_changed", detail={"username": username, "changes": changed})
    return changed


def _user_id(session: Session, actor: Actor) -> int | None:
    return session.scalar(select(User.id).where(User.username == actor.username))


def set_active(session: Session, actor: Actor, username: str, active: bool) -> User:
    """Deactivate (sessions end and tokens are revoked at once) or reactivate an account."""
    _require_admin(actor)
    user = find_user(session, username)
    if not active and user.id == _user_id(session, actor):
        raise UserError("username", N_("You cannot deactivate your own account."))
    if user.active == active:
        return user
    user.active = active
    detail: dict[str, Any] = {"username": username}
    if not active:
        detail["sessions_ended"] = sessions.end_all(session, user.id, "deactivated")
        detail["tokens_revoked"] = _revoke_all(session, user.id)
    audit.append(session, actor.username, "user_reactivated" if active else "user_deactivated", detail=detail)
    return user


def reset_password(session: Session, actor: Actor, username: str) -> str:
    """A temporary password (returned, shown once) the user must change at the next login; the
    person's sessions end and their tokens are revoked, since whoever knew the old one may be in."""
    _require_admin(actor)
    user = find_user(session, username)
    temporary = temporary_password()
    set_password(user, temporary)
    user.must_change_password = True
    ended = sessions.end_all(session, user.id, "password_reset")
    revoked = _revoke_all(session, user.id)
    audit.append(session, actor.username, "password_reset",
                 detail={"username": username, "sessions_ended": ended, "tokens_revoked": revoked})
    return temporary


def force_sign_out(session: Session, actor: Actor, username: str) -> int:
    _require_admin(actor)
    user = find_user(session, username)
    ended = sessions.end_all(session, user.id, "forced")
    audit.append(session, actor.username, "sessions_ended", detail={"username": username, "count": ended})
    return ended


def change_own_password(session: Session, user_id: int, current: str, new: str, keep_key: str | None = None) -> int:
    """The person's own change: the current password proves it is them; every other session of
    theirs ends (the one with keep_key goes on). Returns how many sessions ended."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Forbidden(N_("This account is not active."))
    if not _verify(user, current):
        raise UserError("current_password", N_("The current password is wrong."))
    if current == new:
        raise UserError("new_password", N_("Choose a password different from the current one."))
    check_password(new, user.username, field="new_password")
    set_password(user, new)
    user.must_change_password = False
    ended = sessions.end_all(session, user.id, "password_changed", keep_key=keep_key)
    audit.append(session, user.username, "password_changed", detail={"sessions_ended": ended})
    return ended


def _verify(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        _hasher.hash(password)  # same work either way, so timing does not reveal who exists
        return None
    if not _verify(user, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, label: str = "") -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError("username", N_("no user named %(value)s"), value=username)
    token = "rd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_sha256=_sha(token), label=label))
    session.flush()
    return token


def issue_token(session: Session, actor: Actor, username: str, label: str = "") -> str:
    """An administrator gives an active account a new API token (shown once); audited."""
    _require_admin(actor)
    user = find_user(session, username)
    if not user.active:
        raise UserError("username", N_("The account is deactivated."))
    label = (label or "").strip()
    if len(label) > 100:
        raise UserError("label", N_("At most %(limit)s characters."), limit=100)
    token = create_token(session, username, label)
    audit.append(session, actor.username, "token_created", detail={"username": username, "label": label})
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


def list_tokens(session: Session, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (newest first) with their owner's user name; the token itself is never stored."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username:
        query = query.where(User.username == username)
    return [(row[0], row[1]) for row in session.execute(query.order_by(ApiToken.created_at.desc()))]


def _revoke_all(session: Session, user_id: int) -> int:
    return session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=utcnow())).rowcount


def revoke_tokens(session: Session, actor: Actor, username: str, token_id: int | None = None) -> int:
    """Revoke one token of a user (by id) or all of them; returns how many."""
    _require_admin(actor)
    user = find_user(session, username)
    if token_id is None:
        count = _revoke_all(session, user.id)
    else:
        count = session.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id,
                                                       ApiToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow())).rowcount
    audit.append(session, actor.username, "tokens_revoked",
                 detail={"username": username, "token_id": token_id, "count": count})
    return count
