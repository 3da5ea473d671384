"""Every deadline the process sets, per profile and severity, pinned to the minute.

The clock starts on Friday 13 Feb 2026 at 10:17 local time: a weekend follows, Saturday 14 Feb is a
make-up workday in China, 15-23 Feb are the Spring Festival holiday, 28 Feb is another make-up day.
In Britain and the US the same start runs across ordinary weekends (FCA: 3 working days).
The limits below are written out by hand from docs/sla.md; the working days are counted here one by
one, so a changed limit or a changed way of counting fails the test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from processes.complaints.calendar import BusinessCalendar
from processes.complaints.sla import SEVERITIES, SlaPolicy

W, C, H, WK = "working_days", "calendar_days", "hours", "weeks"
# stage -> (low/medium, high, critical) for the default profile.
DEFAULT = {
    "acknowledge": ((1, W), (4, H), (1, H)),
    "details": ((2, W), (1, W), (4, H)),
    "accept": ((3, W), (2, W), (1, W)),
    "respond": ((5, W), (2, W), (1, W)),
    "resolve": ((10, C), (7, C), (3, C)),
    "mediation": ((30, W), (20, W), (10, W)),
    "survey": ((5, W), (5, W), (5, W)),
}


def _all(limit):
    return (limit, limit, limit)


PROFILES = {
    "default": ("CN", DEFAULT),
    "SAMR": ("CN", {**DEFAULT, "accept": _all((7, W)), "mediation": _all((45, W))}),
    "CBIRC": ("CN", {**DEFAULT, "resolve": ((15, C), (30, C), (30, C))}),
    "FCA": ("GB", {**DEFAULT, "respond": _all((3, W)), "resolve": _all((8, WK))}),
    "CFPB": ("US", {**DEFAULT, "respond": _all((15, C)), "resolve": _all((60, C))}),
}
ZONES = {"CN": ZoneInfo("Asia/Shanghai"), "GB": ZoneInfo("Europe/London"), "US": ZoneInfo("America/New_York")}
CALENDARS = {country: BusinessCalendar.for_country(country, years=[2026]) for country in ZONES}


def _expected(amount: int, unit: str, start: datetime, calendar: BusinessCalendar) -> datetime:
    if unit == H:
        return start + timedelta(hours=amount)
    if unit in (C, WK):
        return start + timedelta(days=amount * (7 if unit == WK else 1))
    moment, left = start, amount
    while left:  # the start day never counts; each following working day is one
        moment += timedelta(days=1)
        left -= calendar.is_working_day(moment.date())
    return moment


@pytest.mark.parametrize("profile", PROFILES)
def test_each_deadline_of_each_severity_to_the_minute(profile):
    country, table = PROFILES[profile]
    policy, calendar = SlaPolicy.profile(profile), CALENDARS[country]
    start = datetime(2026, 2, 13, 10, 17, tzinfo=ZONES[country])
    wrong = {}
    for stage, limits in table.items():
        for severity in SEVERITIES:
            amount, unit = limits[max(0, SEVERITIES.index(severity) - 1)]  # low and medium share "default"
            expected = _expected(amount, unit, start, calendar).astimezone(UTC)
            deadline = policy.deadline(stage, severity, start, calendar)
            if deadline != expected or deadline.utcoffset() != timedelta(0):
                wrong[f"{stage}/{severity}"] = (deadline.isoformat(), expected.isoformat())
    assert wrong == {}


def test_the_chinese_calendar_around_the_spring_festival_is_the_one_the_table_counts_on():
    cn = CALENDARS["CN"]
    assert cn.is_working_day(date(2026, 2, 14)) and cn.is_working_day(date(2026, 2, 28))  # make-up Saturdays
    assert not any(cn.is_working_day(date(2026, 2, d)) for d in range(15, 24))  # Spring Festival
    assert not cn.is_working_day(date(2026, 3, 1)) and cn.is_working_day(date(2026, 2, 24))


@pytest.mark.parametrize(("profile", "stage", "severity", "local"), [
    ("default", "accept", "medium", (2026, 2, 25, 10, 17)),    # Sat 14 (make-up), Tue 24, Wed 25
    ("default", "accept", "critical", (2026, 2, 14, 10, 17)),  # the make-up Saturday counts
    ("default", "respond", "low", (2026, 2, 27, 10, 17)),      # 14, 24, 25, 26, 27
    ("default", "resolve", "medium", (2026, 2, 23, 10, 17)),   # calendar days run through the holiday
    ("SAMR", "accept", "low", (2026, 3, 2, 10, 17)),           # 14, 24-27, 28 (make-up), Mon 2 Mar
    ("default", "acknowledge", "critical", (2026, 2, 13, 11, 17)),
])
def test_hand_counted_deadlines(profile, stage, severity, local):
    shanghai = ZONES["CN"]
    start = datetime(2026, 2, 13, 10, 17, tzinfo=shanghai)
    deadline = SlaPolicy.profile(profile).deadline(stage, severity, start, CALENDARS["CN"])
    assert deadline == datetime(*local, tzinfo=shanghai)
