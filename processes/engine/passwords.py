"""The password policy: long enough, not the user name, not a password everyone tries first."""

from __future__ import annotations

from processes.engine.errors import N_

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 hashes anything, but nobody types more; a bound keeps hashing cheap
# The most used passwords of public breach lists (and their local favourites), lower-cased.
# Guessers try these first, so the throttle alone does not protect an account that uses one.
COMMON = frozenset("""
123456 123456789 12345678 1234567890 12345 1234567 password password1 password12 password123 qwerty
qwerty123 qwertyuiop 1q2w3e4r 1q2w3e4r5t 1qaz2wsx 1qaz2wsx3edc zxcvbnm asdfghjkl abc123 abcd1234
111111 000000 123123 666666 888888 88888888 11111111 00000000 12341234 123321 654321 987654321
iloveyou admin admin123 administrator welcome welcome1 welcome123 letmein monkey dragon football
baseball sunshine princess master login passw0rd p@ssw0rd p@ssword changeme changeme123 trustno1
superman starwars whatever secret secret123 test1234 testtest woaini woaini1314 5201314 1314520
aa123456 a123456 a12345678 qq123456 abc123456 1234qwer qwer1234 asd123456 zxc123456 wang123456
redress redress123 complaint complaints default default123 temp1234 temporary
""".split())


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
