"""The password policy: long enough, not the user name, not a password everyone tries first."""

from __future__ import annotations

from pathlib import Path

from processes.engine.errors import N_

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 hashes anything, but nobody types more; a bound keeps hashing cheap
COMMON = frozenset(
    line.strip().lower()
    for line in (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str = "") -> tuple[str, dict] | None:
    """Why this password is refused (an N_ template and its parameters), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return N_("The password needs at least %(count)s characters."), {"count": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return N_("The password may have at most %(count)s characters."), {"count": MAX_LENGTH}
    lowered = password.lower()
    if username and username.lower() in lowered:
        return N_("The password must not contain the user name."), {}
    if lowered in COMMON or len(set(lowered)) <= 2:
        return N_("This password is too common; choose one that is harder to guess."), {}
    return None
