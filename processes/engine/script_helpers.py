"""Helper functions available by name in every BPMN script and expression.

They are pure (no I/O, no database) and work on ISO 8601 strings, because task
data is stored as JSON. Datetimes without a timezone are taken to be UTC.

Other modules add helpers with `@register_helper("name")`; every helper needs a
docstring since docs/scripting.md and the designer list them. A helper must not
return modules, classes or objects that give access to I/O: scripts can use any
attribute of what a helper returns whose name does not start with "_".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HELPERS: dict[str, Callable[..., Any]] = {}


def register_helper(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding a function to HELPERS under `name`."""
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"helper name {name!r} must be an identifier not starting with '_'")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in HELPERS and HELPERS[name] is not func:
            raise ValueError(f"a script helper named {name!r} is already registered")
        if not (func.__doc__ or "").strip():
            raise ValueError(f"script helper {name!r} needs a docstring; it is shown to process designers")
        HELPERS[name] = func
        return func

    return decorator


def _as_datetime(value: str | datetime | date) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise TypeError(f"expected an ISO 8601 string, date or datetime, not {type(value).__name__}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_date_only(value: Any) -> bool:
    if isinstance(value, str):
        try:
            date.fromisoformat(value.strip())
        except ValueError:
            return False
        return True
    return isinstance(value, date) and not isinstance(value, datetime)


@register_helper("now_iso")
def now_iso() -> str:
    """Current UTC time as an ISO 8601 string, e.g. "2024-05-01T09:30:00.123456+00:00"."""
    return datetime.now(UTC).isoformat()


@register_helper("today")
def today() -> str:
    """Current UTC date as an ISO 8601 string, e.g. "2024-05-01"."""
    return datetime.now(UTC).date().isoformat()


@register_helper("parse_datetime")
def parse_datetime(iso: str) -> datetime:
    """Parse an ISO 8601 date or datetime string into a timezone-aware datetime
    (UTC when the string has no offset). Use `.year`, `.weekday()` etc. on the result."""
    return _as_datetime(iso)


@register_helper("to_iso")
def to_iso(dt: datetime | date | str) -> str:
    """Format a date or datetime as an ISO 8601 string (datetimes without offset are UTC)."""
    if _is_date_only(dt):
        return dt.isoformat() if isinstance(dt, date) else date.fromisoformat(dt.strip()).isoformat()
    return _as_datetime(dt).isoformat()


@register_helper("add_seconds")
def add_seconds(iso: str, seconds: float) -> str:
    """ISO datetime `seconds` after `iso` (negative goes back). Returns an ISO datetime string."""
    return (_as_datetime(iso) + timedelta(seconds=seconds)).isoformat()


@register_helper("add_days")
def add_days(iso: str, days: float) -> str:
    """`days` calendar days after `iso` (negative goes back). A date ("2024-01-31")
    gives a date, a datetime gives a datetime."""
    if _is_date_only(iso):
        start = iso if isinstance(iso, date) else date.fromisoformat(iso.strip())
        return (start + timedelta(days=days)).isoformat()
    return (_as_datetime(iso) + timedelta(days=days)).isoformat()


@register_helper("days_between")
def days_between(iso_a: str, iso_b: str) -> float:
    """Days from `iso_a` to `iso_b` as a float (negative when b is before a);
    e.g. days_between("2024-01-01", "2024-01-03T12:00:00") == 2.5."""
    return (_as_datetime(iso_b) - _as_datetime(iso_a)).total_seconds() / 86400


@register_helper("round_money")
def round_money(x: float | str | Decimal) -> float:
    """Round an amount to 2 decimal places, halves away from zero (2.675 -> 2.68), as a float."""
    if isinstance(x, bool) or not isinstance(x, (int, float, str, Decimal)):
        raise TypeError(f"round_money expects a number, not {type(x).__name__}")
    # str() first so 2.675 is rounded as written rather than as its binary approximation.
    return float(Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@register_helper("clamp")
def clamp(x: float, lo: float, hi: float) -> float:
    """`x` limited to the range lo..hi (inclusive)."""
    if lo > hi:
        raise ValueError(f"clamp: lo ({lo}) is greater than hi ({hi})")
    return min(max(x, lo), hi)


@register_helper("coalesce")
def coalesce(*values: Any) -> Any:
    """The first argument that is not None, or None if all are None."""
    return next((v for v in values if v is not None), None)
