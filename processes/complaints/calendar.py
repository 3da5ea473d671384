"""Business calendar for complaint deadlines: weekends, public holidays and make-up workdays.

China moves working days around its public holidays (调休): a holiday block is lengthened by
making one or two weekend days ordinary working days. A calendar therefore needs three inputs:
the weekend days, the holidays, and the weekend dates that are nonetheless working days.
``BusinessCalendar.for_country`` takes all three from the ``holidays`` package, which tracks the
State Council's yearly notice (``weekend_workdays`` holds the make-up days).

Date-time conventions, used throughout:

* a naive ``datetime`` is read as local time in the calendar's timezone;
* results are timezone-aware, in the calendar's timezone (convert them for storage);
* day arithmetic keeps the local time of day ("same clock time, n days later").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

__all__ = ["COUNTRY_DEFAULTS", "BusinessCalendar", "CalendarConfigError"]

# Local timezone and holiday subdivision used for each supported country.
# GB defaults to England (and Wales, which shares the bank holidays); pass subdiv="SCT" or "NIR"
# for the other nations. US uses federal holidays only.
COUNTRY_DEFAULTS: dict[str, dict[str, str | None]] = {
    "CN": {"timezone": "Asia/Shanghai", "subdiv": None},
    "GB": {"timezone": "Europe/London", "subdiv": "ENG"},
    "US": {"timezone": "America/New_York", "subdiv": None},
}

_CALENDAR_CONFIG_KEYS = {"country", "subdiv", "years", "timezone", "weekend_days", "holidays", "workdays"}


class CalendarConfigError(ValueError):
    """A calendar configuration value is missing, mistyped or inconsistent."""


def _default_years() -> range:
    # Last year (complaints still open from it) to two years ahead (long deadlines).
    this_year = date.today().year
    return range(this_year - 1, this_year + 3)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days are working days, and deadline arithmetic on top of that.

    Precedence for a date: ``extra_workdays`` (make-up working day) > ``holidays`` > weekend.
    """

    weekend_days: Iterable[int] = (5, 6)  # Monday is 0, as in date.weekday()
    holidays: Iterable[date] = field(default_factory=frozenset)
    extra_workdays: Iterable[date] = field(default_factory=frozenset)
    timezone: str = "Asia/Shanghai"
    # Opening and closing time of a working day, in minutes after midnight (for working_hours limits).
    working_hours: tuple[int, int] = (9 * 60, 18 * 60)

    def __post_init__(self) -> None:
        opening, closing = self.working_hours
        if not 0 <= opening < closing <= 24 * 60:
            raise CalendarConfigError(f"working hours must open before they close, got {self.working_hours!r}")
        weekend = frozenset(self.weekend_days)
        if not weekend <= set(range(7)):
            raise CalendarConfigError(
                f"weekend_days must be weekday numbers 0-6 (Monday=0), got {sorted(weekend)}"
            )
        if len(weekend) == 7:
            raise CalendarConfigError("weekend_days cannot cover the whole week")
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarConfigError(f"unknown timezone {self.timezone!r}") from exc
        # Frozen dataclass: normalise the inputs once, in place.
        object.__setattr__(self, "weekend_days", weekend)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        object.__setattr__(self, "_tz", tz)

    # ------------------------------------------------------------------ factories

    @classmethod
    def for_country(
        cls,
        country: str,
        years: Iterable[int] | None = None,
        *,
        subdiv: str | None = None,
        timezone: str | None = None,
    ) -> BusinessCalendar:
        """Statutory calendar for ``CN``, ``GB`` or ``US`` (any country the ``holidays`` package knows
        works too, with UTC as the default timezone).

        ``years`` defaults to last year through two years ahead. Dates outside the loaded years are
        treated as having no holidays, so load every year a deadline can fall in.
        """
        code = country.upper()
        defaults = COUNTRY_DEFAULTS.get(code, {"timezone": "UTC", "subdiv": None})
        year_list = tuple(sorted(set(years))) if years is not None else tuple(_default_years())
        return _country_calendar(
            code,
            year_list,
            subdiv if subdiv is not None else defaults["subdiv"],
            timezone or defaults["timezone"] or "UTC",
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default_country: str | None = "CN") -> BusinessCalendar:
        """Build a calendar from a configuration mapping (e.g. the ``calendar`` part of the SLA JSON).

        Keys (all optional): ``country`` (``null`` for weekends only), ``subdiv``, ``years``,
        ``timezone``, ``weekend_days``, ``holidays`` and ``workdays`` (lists of ``YYYY-MM-DD``).
        Custom holidays and workdays are applied on top of the statutory ones.
        """
        if not isinstance(config, Mapping):
            raise CalendarConfigError(f"calendar config must be an object, got {type(config).__name__}")
        unknown = set(config) - _CALENDAR_CONFIG_KEYS
        if unknown:
            raise CalendarConfigError(
                f"unknown calendar key(s) {sorted(unknown)}; allowed: {sorted(_CALENDAR_CONFIG_KEYS)}"
            )
        country = config.get("country", default_country)
        years = config.get("years")
        if years is not None and not (
            isinstance(years, list)
            and years
            and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
        ):
            raise CalendarConfigError(f"calendar.years must be a non-empty list of integers, got {years!r}")
        timezone = config.get("timezone")
        if timezone is not None and not isinstance(timezone, str):
            raise CalendarConfigError(f"calendar.timezone must be a string, got {timezone!r}")

        if country:
            if not isinstance(country, str):
                raise CalendarConfigError(f"calendar.country must be a string, got {country!r}")
            try:
                calendar = cls.for_country(country, years, subdiv=config.get("subdiv"), timezone=timezone)
            except NotImplementedError as exc:  # what the holidays package raises for unknown codes
                raise CalendarConfigError(f"no holiday data for country {country!r}") from exc
        else:
            calendar = cls(timezone=timezone or "UTC")

        if "weekend_days" in config:
            weekend = config["weekend_days"]
            if not isinstance(weekend, list) or not all(isinstance(d, int) for d in weekend):
                raise CalendarConfigError(
                    f"calendar.weekend_days must be a list of integers, got {weekend!r}"
                )
            calendar = cls(weekend, calendar.holidays, calendar.extra_workdays, calendar.timezone)

        return calendar.with_custom_days(
            holidays=_parse_dates(config.get("holidays", []), "calendar.holidays"),
            workdays=_parse_dates(config.get("workdays", []), "calendar.workdays"),
        )

    def with_custom_days(
        self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()
    ) -> BusinessCalendar:
        """A copy with company-specific days off and extra working days.

        A custom holiday overrides a statutory make-up workday and a custom workday overrides a
        statutory holiday, so configuration always has the last word.
        """
        add_holidays, add_workdays = frozenset(holidays), frozenset(workdays)
        both = add_holidays & add_workdays
        if both:
            raise CalendarConfigError(
                f"date(s) listed as both holiday and workday: {', '.join(map(str, sorted(both)))}"
            )
        return BusinessCalendar(
            weekend_days=self.weekend_days,
            holidays=(self.holidays - add_workdays) | add_holidays,
            extra_workdays=(self.extra_workdays - add_holidays) | add_workdays,
            timezone=self.timezone,
            working_hours=self.working_hours,
        )

    def with_working_hours(self, opening: int, closing: int) -> BusinessCalendar:
        """A copy whose working days open and close at these minutes after midnight."""
        return BusinessCalendar(self.weekend_days, self.holidays, self.extra_workdays, self.timezone, (opening, closing))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """``hours`` of working time after ``start``: only the opening hours of working days count,
        so 4 working hours from Friday 16:00 (open 9-18) end Monday 11:00."""
        remaining = timedelta(hours=hours)
        opening, closing = self.working_hours
        moment = self.localize(start)
        for _ in range(3700):  # ten years of days: any real limit ends long before
            if self.is_working_day(moment.date()):
                opens = moment.replace(hour=opening // 60, minute=opening % 60, second=0, microsecond=0)
                closes = (moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=closing))
                moment = max(moment, opens)
                if moment < closes:
                    if remaining <= closes - moment:
                        return moment + remaining
                    remaining -= closes - moment
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        raise CalendarConfigError("no working time found within ten years")

    # ------------------------------------------------------------------ queries

    @property
    def tzinfo(self) -> ZoneInfo:
        return self._tz  # type: ignore[attr-defined]

    def localize(self, moment: datetime) -> datetime:
        """``moment`` in the calendar's timezone; a naive value is taken as local time already."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tzinfo)
        return moment.astimezone(self.tzinfo)

    def is_working_day(self, day: date | datetime) -> bool:
        if isinstance(day, datetime):
            day = self.localize(day).date()
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend_days

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The same local time of day, ``n`` working days after ``start``'s date.

        The start date itself is never counted, and each following working day counts as one.
        So Friday 10:00 + 1 is Monday 10:00, and a start on a non-working day (Saturday 10:00,
        a holiday) behaves like a start at that clock time on the previous working day: Saturday
        10:00 + 1 is also Monday 10:00. The weekend gives no extra time, which keeps the result
        on or before a statutory deadline that counts from the next working day. Use a negative
        ``n`` for "n working days before" (e.g. reminders).
        """
        local = self.localize(start)
        step = 1 if n >= 0 else -1
        day, remaining = local.date(), abs(n)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return local.replace(year=day.year, month=day.month, day=day.day)

    def working_days_between(self, a: date | datetime, b: date | datetime) -> int:
        """Working days after ``a``'s date up to and including ``b``'s date (negative if b < a).

        The inverse of :meth:`add_working_days`: ``working_days_between(s, add_working_days(s, n)) == n``.
        """
        start, end = self._to_date(a), self._to_date(b)
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = sum(
            1 for i in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=i))
        )
        return sign * count

    def add_calendar_days(self, start: datetime, n: int) -> datetime:
        """The same local time of day, ``n`` calendar days later (holidays and weekends count)."""
        # Aware arithmetic with a single tzinfo is wall-clock arithmetic, so DST shifts keep the hour.
        return self.localize(start) + timedelta(days=n)

    def add_weeks(self, start: datetime, n: int) -> datetime:
        return self.add_calendar_days(start, 7 * n)

    def _to_date(self, value: date | datetime) -> date:
        return self.localize(value).date() if isinstance(value, datetime) else value


@functools.lru_cache(maxsize=32)
def _country_calendar(
    country: str, years: tuple[int, ...], subdiv: str | None, timezone: str
) -> BusinessCalendar:
    # Building the holiday table takes a few milliseconds; BPMN helpers ask for it repeatedly.
    table = holidays_lib.country_holidays(country, subdiv=subdiv, years=years)
    # Countries with make-up working days (CN, and a few others) expose them here.
    workdays = {d for d in getattr(table, "weekend_workdays", ()) if d.year in years}
    weekend = getattr(table, "weekend", {5, 6})
    return BusinessCalendar(weekend, set(table.keys()), workdays, timezone)


def _parse_dates(values: Any, where: str) -> set[date]:
    if not isinstance(values, list):
        raise CalendarConfigError(f"{where} must be a list of YYYY-MM-DD strings, got {values!r}")
    parsed = set()
    for value in values:
        try:
            parsed.add(date.fromisoformat(value))
        except (TypeError, ValueError) as exc:
            raise CalendarConfigError(f"{where}: {value!r} is not a YYYY-MM-DD date") from exc
    return parsed
