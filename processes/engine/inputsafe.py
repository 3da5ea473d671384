"""Input that cannot hurt: the checks every entry runs before a value is stored or queried.

Text with a NUL byte or a lone surrogate is refused (PostgreSQL rejects both in text and
JSON, SQLite would keep them), as are values nested too deep, numbers too long to be
meant, NaN and infinity, and dates outside the years a complaint can be about. The checks
are the same on every database, so an input is refused or accepted the same everywhere.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from processes.engine.errors import N_

MAX_DEPTH = 32  # JSON nesting: a form or a complaint never needs more than a few levels
MAX_INT_DIGITS = 30  # beyond a bigint and any money amount
MAX_JSON_BYTES = 1024 * 1024
FIRST_YEAR, LAST_YEAR = 1900, 2100
FUTURE_SLACK = timedelta(days=1)  # clocks and zones differ; more than a day ahead is a typo

# What the checks report is English text (logs, the CLI, e-mail reports); each text comes from a
# catalog template, and `translated` gives the web layer the template back to translate.
PARAMS = {"levels": MAX_DEPTH, "digits": MAX_INT_DIGITS, "first": FIRST_YEAR, "last": LAST_YEAR}
_TEMPLATES = {
    "NUL": N_("The text contains a NUL character, which cannot be stored."),
    "SURROGATE": N_("The text contains an invalid character (a lone surrogate)."),
    "TOO_DEEP": N_("The value is nested more than %(levels)s levels deep."),
    "BIG_INT": N_("The number has more than %(digits)s digits."),
    "NOT_FINITE": N_("Enter a real number."),
    "YEAR_RANGE": N_("Enter a date between %(first)s and %(last)s."),
    "FUTURE": N_("The date lies in the future."),
}
NUL, SURROGATE, TOO_DEEP, BIG_INT, NOT_FINITE, YEAR_RANGE, FUTURE = (
    template % PARAMS for template in _TEMPLATES.values())
TEMPLATES = {template % PARAMS: template for template in _TEMPLATES.values()}  # English text → template


def translated(message: str, gettext) -> str:
    """A check's English message in the language of `gettext` (a catalog lookup taking named
    parameters); any other message unchanged."""
    template = TEMPLATES.get(message)
    return gettext(template, **PARAMS) if template else message


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def value_problems(value: Any, path: str = "") -> dict[str, str]:
    """The first problem per dotted path inside a JSON-like value (keys checked as well).

    Walks iteratively, so a value nested 100,000 deep is refused, not a RecursionError."""
    problems: dict[str, str] = {}
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.setdefault(where.split(".")[0] or "__all__", TOO_DEEP)
            continue
        if isinstance(item, str):
            problem = text_problem(item)
        elif isinstance(item, bool) or item is None:
            problem = None
        elif isinstance(item, int):
            problem = BIG_INT if _digits(item) > MAX_INT_DIGITS else None
        elif isinstance(item, float):
            problem = None if math.isfinite(item) else NOT_FINITE
        elif isinstance(item, dict):
            problem = None
            for key, child in item.items():
                name = str(key)
                key_problem = text_problem(name)
                child_path = f"{where}.{name}" if where else name
                if key_problem:
                    problems.setdefault(where or "__all__", key_problem)
                    continue
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list | tuple):
            problem = None
            for index, child in enumerate(item):
                stack.append((child, f"{where}.{index}" if where else str(index), depth + 1))
        else:
            problem = None
        if problem:
            problems.setdefault(where or "__all__", problem)
    return problems


def _digits(number: int) -> int:
    # bit_length is cheap for any size; str() of a 5000-digit int is what we avoid.
    return int(abs(number).bit_length() * 0.30103) + 1


class BadJSON(ValueError):
    """A body that is not acceptable JSON; `status` is the HTTP answer it deserves, `template`
    and `params` its message for the catalog."""

    def __init__(self, template: str, status: int = 400, **params: Any):
        super().__init__(template % params if params else template)
        self.status, self.template, self.params = status, template, params


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(BIG_INT)
    return int(text)


def loads(raw: bytes | str, limit: int = MAX_JSON_BYTES) -> Any:
    """Parse untrusted JSON: size, depth, NaN and long integers bounded before anything is built."""
    if len(raw) > limit:
        raise BadJSON(N_("The request body is larger than %(kb)s KB."), 413, kb=limit // 1024)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJSON(N_("The request body is not UTF-8.")) from exc
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except RecursionError as exc:  # the C parser stops near 1000 levels; we allow MAX_DEPTH
        raise BadJSON(_TEMPLATES["TOO_DEEP"], levels=MAX_DEPTH) from exc
    except json.JSONDecodeError as exc:
        raise BadJSON(N_("The request body is not valid JSON (line %(line)s, column %(column)s)."),
                      line=exc.lineno, column=exc.colno) from exc
    except ValueError as exc:  # NaN, Infinity or a number too long
        raise BadJSON(_TEMPLATES["BIG_INT"] if str(exc) == BIG_INT else _TEMPLATES["NOT_FINITE"],
                      **PARAMS) from exc
    return value


def date_problem(value: datetime, now: datetime | None = None, not_future: bool = False) -> str | None:
    """Why a date cannot be the date of an event, or None."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        return YEAR_RANGE
    if not_future:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        if aware > (now or datetime.now(UTC)) + FUTURE_SLACK:
            return FUTURE
    return None
