"""The company's own calendar on top of the statutory one (holidays and make-up workdays from the
`holidays` package): closures (days off), extra working days and working hours. It is changed
through the review (governance/config_review.py, kind "calendar") and the SLA clocks use the
approved version from the moment of approval (sla.load_policy asks `CalendarSource`)."""

from __future__ import annotations

import re
import threading
import time
from datetime import date
from typing import Any

from processes.complaints import config_versions
from processes.engine.errors import N_

KIND = "calendar"
LIMIT = 366  # days per list
NAME_LIMIT = 100
_HOURS = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")
Problem = tuple[str, dict]


def defaults() -> dict[str, Any]:
    return {"closures": [], "workdays": [], "opening": "09:00", "closing": "18:00"}


def _days(raw: Any, field: str, problems: dict[str, Problem]) -> list[dict]:
    """Lines "YYYY-MM-DD name" (the page) or [{"date", "name"}] (the API), sorted, each date once."""
    if isinstance(raw, str):
        items = [line.strip() for line in raw.splitlines() if line.strip()]
    elif isinstance(raw, list):
        items = raw
    else:
        problems[field] = (N_("One date per line: YYYY-MM-DD, then what it is."), {})
        return []
    if len(items) > LIMIT:
        problems[field] = (N_("At most %(limit)s days."), {"limit": LIMIT})
        return []
    days: dict[str, str] = {}
    for item in items:
        text, name = (item.get("date"), item.get("name") or "") if isinstance(item, dict) else \
            ((item.split(None, 1) + [""])[:2] if isinstance(item, str) else (None, ""))
        try:
            day = date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
        except ValueError:
            day = None
        if day is None or not 2000 <= day.year <= 2100:
            problems[field] = (N_("%(line)s is not a date; write YYYY-MM-DD, then what it is."),
                               {"line": str(text)[:40]})
            return []
        if not isinstance(name, str) or len(name) > NAME_LIMIT:
            problems[field] = (N_("A day's name has at most %(limit)s characters."), {"limit": NAME_LIMIT})
            return []
        days[day.isoformat()] = name.strip()
    return [{"date": d, "name": days[d]} for d in sorted(days)]


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def check_calendar(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Problem]]:
    problems: dict[str, Problem] = {}
    for key in values:
        if key not in defaults():
            problems[key[:60]] = (N_("There is no setting of this name."), {})
    closures = _days(values.get("closures", []), "closures", problems)
    workdays = _days(values.get("workdays", []), "workdays", problems)
    both = sorted({d["date"] for d in closures} & {d["date"] for d in workdays})
    if both:
        problems["workdays"] = (N_("%(dates)s cannot be both a closure and a working day."),
                                {"dates": ", ".join(both[:5])})
    hours = {}
    for key in ("opening", "closing"):
        text = values.get(key)
        if not isinstance(text, str) or not _HOURS.fullmatch(text.strip()) or _minutes(text.strip()) > 24 * 60:
            problems[key] = (N_("Enter a time as HH:MM, for example 09:00."), {})
        else:
            hours[key] = text.strip()
    if len(hours) == 2 and _minutes(hours["opening"]) >= _minutes(hours["closing"]):
        problems["closing"] = (N_("Closing time must be after opening time."), {})
    return {"closures": closures, "workdays": workdays, **hours}, problems


class CalendarSource:
    """The approved calendar of one database for the SLA clocks: read at most every `ttl` seconds
    (other processes' approvals), and at once after an approval in this process (`set`)."""

    def __init__(self, db, ttl: float = 30.0):
        self.db, self.ttl = db, ttl
        self._lock = threading.Lock()
        self._value: tuple | None = None
        self._read_at = 0.0

    def set(self, version: int | None, values: dict) -> None:
        with self._lock:
            self._value, self._read_at = self._tuple(version, values), time.monotonic()

    def __call__(self) -> tuple:
        with self._lock:
            fresh = self._value is not None and time.monotonic() - self._read_at < self.ttl
        if not fresh:
            with self.db.session() as session:
                version, values = config_versions.in_force(session, KIND)
            self.set(version, values)
        return self._value

    @staticmethod
    def _tuple(version: int | None, values: dict) -> tuple:
        if version is None:
            return (None, frozenset(), frozenset(), (9 * 60, 18 * 60))
        merged = {**defaults(), **values}
        return (version, frozenset(date.fromisoformat(d["date"]) for d in merged["closures"]),
                frozenset(date.fromisoformat(d["date"]) for d in merged["workdays"]),
                (_minutes(merged["opening"]), _minutes(merged["closing"])))


_installed: CalendarSource | None = None


def install(db) -> CalendarSource:
    """Make this database's approved calendar the one the SLA clocks use (the composition root)."""
    from processes.complaints import sla

    global _installed
    _installed = CalendarSource(db)
    sla.install_company_calendar(_installed)
    return _installed


def approved(version: int, values: dict) -> None:
    """After an approval in this process: the SLA clocks use it from now on."""
    if _installed is not None:
        _installed.set(version, values)


def statutory(country: str, year: int, language: str = "en_US") -> tuple[list[tuple[date, str]], list[date]]:
    """The public holidays (with their names) and make-up working days of a year, from the
    `holidays` package, for the page that shows what the company adds on top."""
    import holidays as holidays_lib

    try:
        table = holidays_lib.country_holidays(country, years=[year], language=language)
    except (NotImplementedError, KeyError):
        return [], []
    workdays = sorted(d for d in getattr(table, "weekend_workdays", ()) if d.year == year)
    return sorted(table.items()), workdays
