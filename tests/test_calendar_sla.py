"""Business calendar and SLA policy: the deadlines a compliance officer signs off on.

Times in China are Asia/Shanghai (UTC+8, no DST): 10:00 local is 02:00 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from processes.complaints.calendar import BusinessCalendar, CalendarConfigError
from processes.complaints.sla import SEVERITIES, SLA_HELPERS, STAGES, SlaConfigError, SlaPolicy, load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def cn() -> BusinessCalendar:
    return BusinessCalendar.for_country("CN", years=[2025, 2026, 2027])


@pytest.fixture(scope="module")
def gb() -> BusinessCalendar:
    return BusinessCalendar.for_country("GB", years=[2025, 2026, 2027])


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# ---------------------------------------------------------------- calendar basics


def test_seven_working_days_from_friday_skips_weekends(cn):
    # Fri 6 Mar 2026 (no holidays nearby): Mon 9 .. Fri 13 are 1-5, Mon 16 is 6, Tue 17 is 7.
    assert cn.add_working_days(cst(2026, 3, 6, 10), 7) == cst(2026, 3, 17, 10)
    assert cn.add_working_days(cst(2026, 3, 6, 10), 1) == cst(2026, 3, 9, 10)


def test_start_on_weekend_gives_no_extra_time(cn):
    # Documented rule: the start day never counts, so Saturday behaves like Friday.
    assert cn.add_working_days(cst(2026, 3, 7, 10), 1) == cst(2026, 3, 9, 10)
    assert cn.add_working_days(cst(2026, 3, 8, 23, 30), 1) == cst(2026, 3, 9, 23, 30)


def test_zero_and_negative_working_days(cn):
    start = cst(2026, 3, 9, 10)
    assert cn.add_working_days(start, 0) == start
    assert cn.add_working_days(start, -1) == cst(2026, 3, 6, 10)  # Monday -> Friday


def test_naive_datetime_is_calendar_local_and_aware_input_is_converted(cn):
    assert cn.add_working_days(datetime(2026, 3, 6, 10), 1) == cst(2026, 3, 9, 10)
    # 20:00 UTC on Fri 13 Feb 2026 is already Sat 14 Feb 04:00 in Shanghai.
    result = cn.add_working_days(datetime(2026, 2, 13, 20, tzinfo=UTC), 1)
    assert result == cst(2026, 2, 24, 4)
    assert result.tzinfo is not None


def test_calendar_and_week_arithmetic_keep_local_time(cn, gb):
    assert cn.add_calendar_days(cst(2026, 9, 30, 10), 15) == cst(2026, 10, 15, 10)
    # Across the UK clock change (29 Mar 2026) the deadline stays at 09:00 local.
    start = datetime(2026, 3, 2, 9, tzinfo=LONDON)
    assert gb.add_weeks(start, 8) == datetime(2026, 4, 27, 9, tzinfo=LONDON)
    assert gb.add_weeks(start, 8).astimezone(UTC) == datetime(2026, 4, 27, 8, tzinfo=UTC)


# ---------------------------------------------------------------- Chinese holidays and 调休


def test_2026_spring_festival_holidays_and_makeup_saturdays(cn):
    # State Council notice for 2026: 15-23 Feb off; Sat 14 Feb and Sat 28 Feb are working days.
    for day in range(15, 24):
        assert not cn.is_working_day(date(2026, 2, day)), f"2026-02-{day} should be a holiday"
    assert cn.is_working_day(date(2026, 2, 14))
    assert cn.is_working_day(date(2026, 2, 28))


def test_seven_working_days_across_2026_spring_festival(cn):
    # Fri 13 Feb: Sat 14 (1, make-up), holiday to Mon 23, Tue 24-Fri 27 (2-5), Sat 28 (6), Mon 2 Mar (7).
    assert cn.add_working_days(cst(2026, 2, 13, 10), 7) == cst(2026, 3, 2, 10)
    assert cn.working_days_between(date(2026, 2, 13), date(2026, 3, 2)) == 7


def test_2026_national_day_and_makeup_sunday(cn):
    for day in range(1, 8):
        assert not cn.is_working_day(date(2026, 10, day))
    sunday = date(2026, 9, 20)
    assert sunday.weekday() == 6 and cn.is_working_day(sunday)
    assert cn.is_working_day(date(2026, 10, 10))  # make-up Saturday
    # The make-up Sunday counts: Friday + 1 working day is that Sunday.
    assert cn.add_working_days(cst(2026, 9, 18, 10), 1) == cst(2026, 9, 20, 10)
    # Wed 30 Sep + 1 working day jumps the Golden Week to Thu 8 Oct.
    assert cn.add_working_days(cst(2026, 9, 30, 10), 1) == cst(2026, 10, 8, 10)


def test_2025_spring_festival(cn):
    assert cn.is_working_day(date(2025, 1, 26))  # make-up Sunday
    assert not any(cn.is_working_day(date(2025, 1, 28) + timedelta(days=i)) for i in range(8))  # 28 Jan-4 Feb
    assert cn.is_working_day(date(2025, 2, 8))  # make-up Saturday


def test_working_days_between_inverts_add_working_days(cn):
    start = cst(2026, 9, 1, 9)
    for offset in range(0, 60, 3):
        s = start + timedelta(days=offset)
        for n in (1, 5, 15):
            assert cn.working_days_between(s, cn.add_working_days(s, n)) == n
    assert cn.working_days_between(date(2026, 3, 17), date(2026, 3, 6)) == -7


def test_uk_bank_holidays(gb):
    assert not gb.is_working_day(date(2026, 4, 3))  # Good Friday
    assert not gb.is_working_day(date(2026, 4, 6))  # Easter Monday
    assert gb.is_working_day(date(2026, 4, 7))


def test_custom_holidays_and_workdays_from_config():
    calendar = BusinessCalendar.from_config(
        {
            "country": "CN",
            "years": [2026],
            "holidays": ["2026-03-09", "2026-02-28"],
            "workdays": ["2026-02-23"],
        }
    )
    assert not calendar.is_working_day(date(2026, 3, 9))  # company day off
    assert not calendar.is_working_day(date(2026, 2, 28))  # custom holiday beats the make-up Saturday
    assert calendar.is_working_day(date(2026, 2, 23))  # custom workday beats the statutory holiday
    assert calendar.is_working_day(date(2026, 2, 14))  # statutory make-up day still there


def test_plain_calendar_without_country():
    calendar = BusinessCalendar(weekend_days=(4, 5), timezone="Asia/Dubai")
    assert not calendar.is_working_day(date(2026, 3, 6))  # Friday
    assert calendar.is_working_day(date(2026, 3, 8))  # Sunday


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"holidays": ["2026-02-30"]}, "not a YYYY-MM-DD date"),
        ({"holidays": "2026-02-01"}, "must be a list"),
        ({"holidays": ["2026-05-06"], "workdays": ["2026-05-06"]}, "both holiday and workday"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"weekend_days": [0, 1, 2, 3, 4, 5, 6]}, "whole week"),
        ({"country": "XX"}, "no holiday data"),
        ({"holiday": []}, "unknown calendar key"),
    ],
)
def test_invalid_calendar_config(config, message):
    with pytest.raises(CalendarConfigError, match=message):
        BusinessCalendar.from_config(config)


# ---------------------------------------------------------------- regulatory profiles


def test_samr_accept_within_seven_working_days(cn):
    policy = SlaPolicy.profile("SAMR")
    deadline = policy.deadline("accept", "medium", cst(2026, 2, 13, 10), cn)
    assert deadline == datetime(2026, 3, 2, 2, tzinfo=UTC)
    assert deadline.tzinfo is UTC
    assert "7 working days" in policy.limit("accept", "low").basis


def test_samr_mediation_ends_after_45_working_days(cn):
    # Accepted Tue 1 Sep 2026; counting through Mid-Autumn (25 Sep), Golden Week and the
    # make-up days 20 Sep and 10 Oct, the 45th working day is Mon 9 Nov.
    deadline = SlaPolicy.profile("SAMR").deadline("mediation", "low", cst(2026, 9, 1, 10), cn)
    assert deadline == cst(2026, 11, 9, 10)
    assert cn.working_days_between(date(2026, 9, 1), deadline) == 45


def test_cbirc_15_days_and_30_for_complex_cases(cn):
    policy = SlaPolicy.profile("CBIRC")
    start = cst(2026, 9, 28, 10)
    # Calendar days: Golden Week counts.
    assert policy.deadline("resolve", "low", start, cn) == cst(2026, 10, 13, 10)
    assert policy.deadline("resolve", "medium", start, cn) == cst(2026, 10, 13, 10)
    assert policy.deadline("resolve", "high", start, cn) == cst(2026, 10, 28, 10)
    assert policy.deadline("resolve", "critical", start, cn) == cst(2026, 10, 28, 10)


def test_fca_final_response_within_eight_weeks(gb):
    policy = SlaPolicy.profile("FCA")
    start = datetime(2026, 3, 2, 9, tzinfo=LONDON)
    assert policy.deadline("resolve", "low", start, gb) == datetime(2026, 4, 27, 8, tzinfo=UTC)
    assert policy.limit("resolve", "critical").basis.startswith("FCA DISP 1.6")


def test_fca_summary_resolution_by_third_business_day_skips_easter(gb):
    # Received Thu 2 Apr 2026: Good Friday and Easter Monday are not business days.
    start = datetime(2026, 4, 2, 11, tzinfo=LONDON)
    deadline = SlaPolicy.profile("FCA").deadline("respond", "medium", start, gb)
    assert deadline == datetime(2026, 4, 9, 11, tzinfo=LONDON)


def test_cfpb_15_and_60_days():
    policy = SlaPolicy.profile("CFPB")  # US calendar, America/New_York
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 2, 10, tzinfo=new_york)
    # Calendar days keep the local hour, also across the US clock change on 8 Mar 2026.
    assert policy.deadline("respond", "high", start) == datetime(2026, 3, 17, 10, tzinfo=new_york)
    assert policy.deadline("resolve", "high", start) == datetime(2026, 5, 1, 10, tzinfo=new_york)


def test_default_profile_is_complete_and_critical_is_fastest(cn):
    policy = SlaPolicy.profile("default")
    start = cst(2026, 3, 9, 10)
    assert policy.deadline("acknowledge", "critical", start, cn) == start + timedelta(hours=1)
    assert policy.deadline("acknowledge", "low", start, cn) == cst(2026, 3, 10, 10)
    for stage in STAGES:
        deadlines = [policy.deadline(stage, severity, start, cn) for severity in SEVERITIES]
        assert deadlines == sorted(deadlines, reverse=True), (
            f"{stage}: higher severity must not get more time"
        )


@pytest.mark.parametrize("name", ["default", "SAMR", "CBIRC", "FCA", "CFPB"])
def test_every_profile_covers_every_stage_and_severity(name):
    policy = SlaPolicy.profile(name)
    for stage in STAGES:
        for severity in SEVERITIES:
            assert policy.limit(stage, severity).basis


def test_regulatory_profiles_are_not_looser_than_internal_targets_where_unregulated():
    # Stages a regulator does not set fall back to the internal default targets.
    assert SlaPolicy.profile("SAMR").limit("acknowledge", "critical") == SlaPolicy.profile("default").limit(
        "acknowledge", "critical"
    )


def test_profile_names_are_case_insensitive_and_unknown_is_clear():
    assert SlaPolicy.profile("samr").name == "SAMR"
    with pytest.raises(SlaConfigError, match="unknown SLA profile 'PBOC'.*SAMR"):
        SlaPolicy.profile("PBOC")


def test_unknown_stage_or_severity():
    policy = SlaPolicy.profile("default")
    with pytest.raises(ValueError, match="unknown stage 'closing'"):
        policy.deadline("closing", "low", datetime(2026, 3, 9, tzinfo=UTC))
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        policy.deadline("resolve", "urgent", datetime(2026, 3, 9, tzinfo=UTC))


# ---------------------------------------------------------------- SLA state


def test_state_on_time_at_risk_breached():
    policy = SlaPolicy.profile("default")
    started = datetime(2026, 3, 9, 0, tzinfo=UTC)
    deadline = started + timedelta(hours=100)
    assert policy.state(started, deadline, started + timedelta(hours=50)) == "on_time"
    assert policy.state(started, deadline, started + timedelta(hours=80)) == "on_time"  # exactly 80%
    assert policy.state(started, deadline, started + timedelta(hours=80, minutes=1)) == "at_risk"
    assert policy.state(started, deadline, deadline) == "at_risk"
    assert policy.state(started, deadline, deadline + timedelta(seconds=1)) == "breached"


def test_state_threshold_is_configurable_and_inputs_are_checked():
    policy = SlaPolicy.from_config({"at_risk_ratio": 0.5})
    started = datetime(2026, 3, 9, tzinfo=UTC)
    deadline = started + timedelta(days=10)
    assert policy.state(started, deadline, started + timedelta(days=6)) == "at_risk"
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.state(datetime(2026, 3, 9), deadline, started)
    with pytest.raises(ValueError, match="not after start"):
        policy.state(deadline, started, started)


# ---------------------------------------------------------------- configuration


def test_config_overrides_limits_on_top_of_a_profile(cn):
    policy = SlaPolicy.from_config(
        {
            "profile": "SAMR",
            "limits": {
                "accept": {"critical": "3 working_days"},
                "acknowledge": {"default": "2 hours", "critical": {"amount": 0.5, "unit": "hours"}},
                "survey": "2 weeks",
            },
            "calendar": {"country": "CN", "years": [2026]},
        }
    )
    start = cst(2026, 3, 6, 10)
    assert policy.name == "SAMR"
    assert policy.deadline("accept", "critical", start) == cst(2026, 3, 11, 10)
    assert policy.limit("accept", "critical").basis == "configured"
    assert policy.deadline("accept", "low", start) == cst(2026, 3, 17, 10)  # SAMR's 7 kept
    assert policy.deadline("acknowledge", "low", start) == start + timedelta(hours=2)
    assert policy.deadline("acknowledge", "critical", start) == start + timedelta(minutes=30)
    assert policy.deadline("survey", "high", start) == cst(2026, 3, 20, 10)
    assert policy.deadline("mediation", "low", cst(2026, 9, 1, 10)) == cst(2026, 11, 9, 10)


def test_config_calendar_holidays_move_deadlines():
    policy = SlaPolicy.from_config(
        {"profile": "SAMR", "calendar": {"country": "CN", "years": [2026], "holidays": ["2026-03-09"]}}
    )
    # Mon 9 Mar is now a day off, so Friday + 7 working days ends a day later.
    assert policy.deadline("accept", "low", cst(2026, 3, 6, 10)) == cst(2026, 3, 18, 10)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"limits": {"accept": "7 days"}}, r"unknown unit 'days'.*calendar_days or working_days"),
        ({"limits": {"accept": "7 fortnights"}}, "unknown unit 'fortnights'"),
        ({"limits": {"accept": "seven working_days"}}, "'seven' is not a number"),
        ({"limits": {"accept": "-1 hours"}}, "positive number"),
        ({"limits": {"accept": "1.5 working_days"}}, "whole number"),
        ({"limits": {"accept": 7}}, r"limits\.accept: expected a limit"),
        ({"limits": {"closing": "1 hour"}}, "unknown stage 'closing'"),
        ({"limits": {"accept": {"urgent": "1 hour"}}}, r"unknown severity \['urgent'\]"),
        ({"limits": {"accept": {"amount": 1}}}, "expected keys 'amount' and 'unit'"),
        ({"profile": "ACCC"}, "unknown SLA profile"),
        ({"at_risk_ratio": 1.5}, "between 0 and 1"),
        ({"limit": {}}, r"unknown SLA config key\(s\) \['limit'\]"),
        ({"calendar": {"holidays": ["9 March"]}}, "not a YYYY-MM-DD date"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_invalid_config_gives_clear_error(config, message):
    with pytest.raises(SlaConfigError, match=message):
        SlaPolicy.from_config(config)


# ---------------------------------------------------------------- environment and helpers


@pytest.fixture
def sla_env(monkeypatch, tmp_path):
    for name in ("REDRESS_SLA_PROFILE", "REDRESS_SLA_COUNTRY", "REDRESS_SLA_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def configure(config=None, **env):
        if config is not None:
            path = tmp_path / "sla.json"
            path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
            monkeypatch.setenv("REDRESS_SLA_CONFIG", str(path))
        for name, value in env.items():
            monkeypatch.setenv(f"REDRESS_SLA_{name.upper()}", value)

    return configure


def test_load_policy_defaults(sla_env):
    sla_env()
    policy = load_policy()
    assert policy.name == "default"
    assert policy.calendar is not None and policy.calendar.timezone == "Asia/Shanghai"


def test_load_policy_profile_country_and_file(sla_env):
    sla_env({"limits": {"accept": "5 working_days"}, "calendar": {"years": [2026]}}, profile="fca")
    policy = load_policy()
    assert policy.name == "FCA"
    assert policy.calendar.timezone == "Europe/London"  # FCA's business days are UK ones
    assert not policy.calendar.is_working_day(date(2026, 4, 3))
    assert policy.limit("accept", "low").amount == 5

    sla_env(profile="FCA", country="CN")
    assert load_policy().calendar.timezone == "Asia/Shanghai"


def test_load_policy_reports_bad_files(sla_env, tmp_path):
    sla_env("{not json")
    with pytest.raises(SlaConfigError, match="invalid JSON at line 1"):
        load_policy()
    sla_env({"limits": {"accept": "7 days"}})
    with pytest.raises(SlaConfigError, match=r"sla\.json: limits\.accept: unknown unit 'days'"):
        load_policy()
    sla_env({"profile": "SAMR"}, profile="CBIRC")
    with pytest.raises(SlaConfigError, match="contradicts"):
        load_policy()
    with pytest.raises(SlaConfigError, match="cannot be read"):
        load_policy({"REDRESS_SLA_CONFIG": str(tmp_path / "missing.json")})


def test_helpers_return_iso_utc_strings(sla_env):
    sla_env({"calendar": {"years": [2026]}}, profile="SAMR")
    sla_deadline, sla_state = SLA_HELPERS["sla_deadline"], SLA_HELPERS["sla_state"]
    # 02:00Z on Fri 13 Feb 2026 is 10:00 in Shanghai.
    assert sla_deadline("accept", "low", "2026-02-13T02:00:00Z") == "2026-03-02T02:00:00+00:00"
    assert sla_deadline("accept", "low", "2026-02-13T10:00:00+08:00") == "2026-03-02T02:00:00+00:00"
    assert sla_deadline("accept", "low", "2026-02-13T02:00:00") == "2026-03-02T02:00:00+00:00"  # naive = UTC
    assert datetime.fromisoformat(sla_deadline("acknowledge", "low")) > datetime.now(UTC)

    assert sla_state("2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z") == "breached"
    now = datetime.now(UTC)
    assert sla_state(now.isoformat(), (now + timedelta(days=30)).isoformat()) == "on_time"
    assert (
        sla_state((now - timedelta(days=9)).isoformat(), (now + timedelta(days=1)).isoformat()) == "at_risk"
    )
    with pytest.raises(ValueError, match="ISO 8601"):
        sla_state("yesterday", "2026-01-10T00:00:00Z")


def test_helpers_are_registered_for_bpmn_scripts(sla_env):
    from processes.engine import sandbox, script_helpers

    assert script_helpers.HELPERS["sla_deadline"] is SLA_HELPERS["sla_deadline"]
    assert script_helpers.HELPERS["sla_state"] is SLA_HELPERS["sla_state"]

    sla_env({"calendar": {"years": [2026]}}, profile="SAMR")
    env = sandbox.SandboxEnvironment(script_helpers.HELPERS)
    result = env.evaluate(
        'sla_deadline("accept", "low", received_at)', {"received_at": "2026-02-13T02:00:00Z"}
    )
    assert result == "2026-03-02T02:00:00+00:00"
