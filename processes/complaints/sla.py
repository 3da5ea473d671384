"""SLA policy: how long each complaint-handling stage may take, per severity.

A policy maps (stage, severity) to a :class:`Limit` such as "7 working_days". Ready-made
profiles encode regulators' limits (see docs/sla.md for the legal sources); stages a regulator
does not regulate fall back to the internal ``default`` targets, and every limit records its
``basis`` so a report can tell a legal deadline from an internal one.

Deployment picks a policy through the environment (see :func:`load_policy`):

* ``REDRESS_SLA_PROFILE`` - ``default``, ``SAMR``, ``CBIRC``, ``FCA`` or ``CFPB``;
* ``REDRESS_SLA_COUNTRY`` - holiday calendar, ``CN``/``GB``/``US`` (default: the profile's country);
* ``REDRESS_SLA_CONFIG``  - optional JSON file overriding limits and holidays.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from processes.complaints.calendar import BusinessCalendar, CalendarConfigError
from processes.engine.script_helpers import register_helper

__all__ = [
    "SEVERITIES",
    "SLA_HELPERS",
    "STAGES",
    "UNITS",
    "Limit",
    "SlaConfigError",
    "SlaPolicy",
    "load_policy",
    "sla_deadline",
    "sla_state",
]

SEVERITIES = ("low", "medium", "high", "critical")
STAGES = ("acknowledge", "accept", "respond", "resolve", "mediation", "survey", "details")
UNITS = ("hours", "working_hours", "calendar_days", "working_days", "weeks")
SlaState = Literal["on_time", "at_risk", "breached"]

ENV_PROFILE = "REDRESS_SLA_PROFILE"
ENV_COUNTRY = "REDRESS_SLA_COUNTRY"
ENV_CONFIG = "REDRESS_SLA_CONFIG"

_CONFIG_KEYS = {"profile", "limits", "calendar", "at_risk_ratio"}


class SlaConfigError(ValueError):
    """The SLA configuration (profile name, limits, calendar, JSON file) is invalid."""


@dataclass(frozen=True)
class Limit:
    """A time limit, e.g. ``Limit(7, "working_days")``."""

    amount: int | float
    unit: str
    basis: str = ""  # legal source or "internal target"; shown to compliance, not used in arithmetic

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"

    def add_to(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        """The deadline for a clock started at ``start``, as a UTC datetime."""
        local = calendar.localize(start)
        if self.unit == "hours":
            # Elapsed time, not business hours: "within 1 hour" means 60 real minutes.
            end = local.astimezone(UTC) + timedelta(hours=self.amount)
        elif self.unit == "working_hours":
            # Business hours: only the opening hours of working days count (the company calendar's).
            end = calendar.add_working_hours(local, self.amount)
        elif self.unit == "calendar_days":
            end = calendar.add_calendar_days(local, int(self.amount))
        elif self.unit == "working_days":
            end = calendar.add_working_days(local, int(self.amount))
        else:  # weeks
            end = calendar.add_weeks(local, int(self.amount))
        return end.astimezone(UTC)

    @classmethod
    def parse(cls, value: Any, where: str, basis: str = "configured") -> Limit:
        """Read ``"7 working_days"`` / ``"1 hour"`` or ``{"amount": 7, "unit": "working_days"}``."""
        if isinstance(value, Limit):
            return value
        if isinstance(value, str):
            parts = value.split()
            if len(parts) != 2:
                raise SlaConfigError(
                    f"{where}: expected '<amount> <unit>' such as '7 working_days', got {value!r}"
                )
            amount_text, unit = parts
            try:
                amount: Any = float(amount_text) if "." in amount_text else int(amount_text)
            except ValueError:
                raise SlaConfigError(f"{where}: {amount_text!r} is not a number") from None
        elif isinstance(value, Mapping):
            extra = set(value) - {"amount", "unit", "basis"}
            if extra or not {"amount", "unit"} <= set(value):
                raise SlaConfigError(
                    f"{where}: expected keys 'amount' and 'unit' (optional 'basis'), got {sorted(value)}"
                )
            amount, unit = value["amount"], value["unit"]
            basis = value.get("basis", basis)
        else:
            raise SlaConfigError(
                f"{where}: expected a string like '7 working_days' or an object, got {value!r}"
            )

        if not isinstance(unit, str):
            raise SlaConfigError(f"{where}: unit must be a string, got {unit!r}")
        if unit not in UNITS and unit + "s" in UNITS:  # accept "1 hour", "1 working_day"
            unit += "s"
        if unit not in UNITS:
            hint = (
                " ('days' is ambiguous: use calendar_days or working_days)" if unit in ("day", "days") else ""
            )
            raise SlaConfigError(f"{where}: unknown unit {unit!r}{hint}; use one of {', '.join(UNITS)}")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise SlaConfigError(f"{where}: amount must be a positive number, got {amount!r}")
        if unit not in ("hours", "working_hours") and amount != int(amount):
            raise SlaConfigError(f"{where}: {unit} must be a whole number, got {amount!r}")
        return cls(amount, unit, basis)


# ---------------------------------------------------------------------------- profiles
# Same shape as the "limits" part of a config file: stage -> limit for all severities, or
# stage -> {"default": limit, "<severity>": limit}.

_INTERNAL = "internal target"

_DEFAULT_LIMITS: dict[str, Any] = {
    "acknowledge": {"default": "1 working_day", "high": "4 hours", "critical": "1 hour"},
    "details": {"default": "2 working_days", "high": "1 working_day", "critical": "4 hours"},
    "accept": {"default": "3 working_days", "high": "2 working_days", "critical": "1 working_day"},
    "respond": {"default": "5 working_days", "high": "2 working_days", "critical": "1 working_day"},
    # Calendar days so a holiday week cannot push resolution past CBIRC's 15 days.
    "resolve": {"default": "10 calendar_days", "high": "7 calendar_days", "critical": "3 calendar_days"},
    "mediation": {"default": "30 working_days", "high": "20 working_days", "critical": "10 working_days"},
    "survey": "5 working_days",
}

_SAMR = "SAMR 市场监督管理投诉举报处理暂行办法 (2020)"
_CBIRC = "CBIRC 银行业保险业消费投诉处理管理办法 (2020)"

# name -> (home country for the calendar, limits overriding the default profile)
_PROFILES: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("CN", {}),
    "SAMR": (
        "CN",
        {
            "accept": {
                "amount": 7,
                "unit": "working_days",
                "basis": f"{_SAMR}: accept or reject within 7 working days of receipt",
            },
            "mediation": {
                "amount": 45,
                "unit": "working_days",
                "basis": f"{_SAMR}: mediation ends 45 working days after acceptance",
            },
        },
    ),
    "CBIRC": (
        "CN",
        {
            "resolve": {
                "default": {
                    "amount": 15,
                    "unit": "calendar_days",
                    "basis": f"{_CBIRC}: decision within 15 days of receipt",
                },
                # "情况复杂的" cases may be extended to 30 days; complex is modelled as high/critical.
                "high": {"amount": 30, "unit": "calendar_days", "basis": f"{_CBIRC}: complex case, 30 days"},
                "critical": {
                    "amount": 30,
                    "unit": "calendar_days",
                    "basis": f"{_CBIRC}: complex case, 30 days",
                },
            },
        },
    ),
    "FCA": (
        "GB",
        {
            "respond": {
                "amount": 3,
                "unit": "working_days",
                "basis": "FCA DISP 1.5: summary resolution by close of the 3rd business day",
            },
            "resolve": {
                "amount": 8,
                "unit": "weeks",
                "basis": "FCA DISP 1.6.2R: final response within 8 weeks",
            },
        },
    ),
    "CFPB": (
        "US",
        {
            "respond": {
                "amount": 15,
                "unit": "calendar_days",
                "basis": "CFPB: company response within 15 days",
            },
            "resolve": {
                "amount": 60,
                "unit": "calendar_days",
                "basis": "CFPB: final response within 60 days",
            },
        },
    ),
}


def _apply_limits(
    base: Mapping[str, Mapping[str, Limit]], overrides: Any, where: str, basis: str
) -> Mapping[str, Mapping[str, Limit]]:
    """``base`` with the stage/severity limits in ``overrides`` replaced."""
    if not isinstance(overrides, Mapping):
        raise SlaConfigError(f"{where} must be an object mapping stage to limit, got {overrides!r}")
    limits = {stage: dict(by_severity) for stage, by_severity in base.items()}
    for stage, spec in overrides.items():
        if stage not in STAGES:
            raise SlaConfigError(f"{where}: unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        by_severity = limits.setdefault(stage, {})
        is_limit_object = isinstance(spec, Mapping) and ("amount" in spec or "unit" in spec)
        if isinstance(spec, str) or is_limit_object:
            one = Limit.parse(spec, f"{where}.{stage}", basis)
            by_severity.update(dict.fromkeys(SEVERITIES, one))
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"default", *SEVERITIES}
            if unknown:
                raise SlaConfigError(
                    f"{where}.{stage}: unknown severity {sorted(unknown)}; use 'default' or {', '.join(SEVERITIES)}"
                )
            if "default" in spec:
                one = Limit.parse(spec["default"], f"{where}.{stage}.default", basis)
                by_severity.update(dict.fromkeys(SEVERITIES, one))
            for severity in SEVERITIES:
                if severity in spec:
                    by_severity[severity] = Limit.parse(spec[severity], f"{where}.{stage}.{severity}", basis)
        else:
            raise SlaConfigError(f"{where}.{stage}: expected a limit or a per-severity object, got {spec!r}")
    # Read-only: profile tables are cached and shared between policies.
    return MappingProxyType({stage: MappingProxyType(by_severity) for stage, by_severity in limits.items()})


@functools.cache
def _profile_limits(name: str) -> Mapping[str, Mapping[str, Limit]]:
    default = _apply_limits({}, _DEFAULT_LIMITS, "profile default", _INTERNAL)
    if name == "default":
        return default
    return _apply_limits(default, _PROFILES[name][1], f"profile {name}", name)


def _profile_name(name: str) -> str:
    matches = [known for known in _PROFILES if known.lower() == str(name).strip().lower()]
    if not matches:
        raise SlaConfigError(f"unknown SLA profile {name!r}; known profiles: {', '.join(_PROFILES)}")
    return matches[0]


# ---------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class SlaPolicy:
    name: str
    limits: Mapping[str, Mapping[str, Limit]]  # stage -> severity -> limit
    country: str = "CN"  # calendar used when neither the call nor the policy supplies one
    at_risk_ratio: float = 0.8
    calendar: BusinessCalendar | None = field(default=None, compare=False)

    @classmethod
    def profile(cls, name: str) -> SlaPolicy:
        """A ready-made profile: ``default``, ``SAMR``, ``CBIRC``, ``FCA`` or ``CFPB`` (any case)."""
        canonical = _profile_name(name)
        return cls(canonical, _profile_limits(canonical), _PROFILES[canonical][0])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SlaPolicy:
        """A profile with overrides; see docs/sla.md. Raises :class:`SlaConfigError` when invalid.

        ``{"profile": "SAMR", "limits": {...}, "calendar": {...}, "at_risk_ratio": 0.8}``
        """
        if not isinstance(config, Mapping):
            raise SlaConfigError(f"SLA config must be a JSON object, got {type(config).__name__}")
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise SlaConfigError(
                f"unknown SLA config key(s) {sorted(unknown)}; allowed: {sorted(_CONFIG_KEYS)}"
            )
        base = cls.profile(config.get("profile") or "default")
        limits = _apply_limits(base.limits, config.get("limits", {}), "limits", "configured")

        ratio = config.get("at_risk_ratio", base.at_risk_ratio)
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio < 1:
            raise SlaConfigError(f"at_risk_ratio must be a number between 0 and 1, got {ratio!r}")

        try:
            calendar = BusinessCalendar.from_config(config.get("calendar", {}), default_country=base.country)
        except CalendarConfigError as exc:
            raise SlaConfigError(str(exc)) from exc
        return cls(base.name, limits, base.country, float(ratio), calendar)

    def limit(self, stage: str, severity: str) -> Limit:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; severities are {', '.join(SEVERITIES)}")
        try:
            return self.limits[stage][severity]
        except KeyError:
            raise ValueError(f"SLA policy {self.name!r} has no limit for {stage}/{severity}") from None

    def deadline(
        self, stage: str, severity: str, start: datetime, calendar: BusinessCalendar | None = None
    ) -> datetime:
        """When ``stage`` must be done for a clock started at ``start``, as an aware UTC datetime.

        ``start`` is when that stage's clock starts (receipt for most stages, acceptance for
        ``mediation``, closure for ``survey``). A naive ``start`` is the calendar's local time.
        """
        calendar = calendar or self.calendar or BusinessCalendar.for_country(self.country)
        return self.limit(stage, severity).add_to(start, calendar)

    def state(self, started: datetime, deadline: datetime, now: datetime | None = None) -> SlaState:
        """``breached`` after the deadline, ``at_risk`` once more than ``at_risk_ratio`` (80%) of the
        time from start to deadline has elapsed, otherwise ``on_time``. Elapsed wall-clock time
        is used, also for working-day limits. All datetimes must be timezone-aware.
        """
        now = now or datetime.now(UTC)
        for label, value in (("started", started), ("deadline", deadline), ("now", now)):
            if value.tzinfo is None:
                raise ValueError(f"{label} must be timezone-aware, got naive {value.isoformat()}")
        if deadline <= started:
            raise ValueError(f"deadline {deadline.isoformat()} is not after start {started.isoformat()}")
        if now > deadline:
            return "breached"
        if now - started > (deadline - started) * self.at_risk_ratio:
            return "at_risk"
        return "on_time"

    def with_calendar(self, calendar: BusinessCalendar) -> SlaPolicy:
        return replace(self, calendar=calendar)


# ---------------------------------------------------------------------------- environment


def load_policy(environ: Mapping[str, str] | None = None, profile: str | None = None) -> SlaPolicy:
    """The deployment's policy and calendar, from ``REDRESS_SLA_*`` environment variables.

    ``REDRESS_SLA_COUNTRY`` defaults to the profile's country: CN for default/SAMR/CBIRC,
    GB for FCA, US for CFPB (business days must be those of the regulator's jurisdiction).
    Environment values and the config file must agree where both name a profile or country.
    ``profile``: the one a complaint's settings chose (the ``sla_profile`` process setting); it
    replaces the environment's and the file's, whose limit overrides and calendar still apply.
    """
    policy = _environment_policy(environ, profile)
    if _company_calendar is None:
        return policy
    version, closures, workdays, hours = _company_calendar()
    if version is None:
        return policy
    return _with_company_days(policy, version, closures, workdays, hours)


def _environment_policy(environ: Mapping[str, str] | None, profile: str | None) -> SlaPolicy:
    """The policy the environment (and a complaint's chosen profile) make, without the company's days."""
    env = os.environ if environ is None else environ
    path = env.get(ENV_CONFIG) or None
    mtime = None
    if path:
        try:
            mtime = os.stat(path).st_mtime_ns  # part of the cache key: an edited file is re-read
        except OSError as exc:
            raise SlaConfigError(f"{ENV_CONFIG}={path!r} cannot be read: {exc.strerror}") from exc
    return _load_policy(
        profile or env.get(ENV_PROFILE) or None, env.get(ENV_COUNTRY) or None, path, mtime, datetime.now().year,
        chosen=bool(profile),
    )


# The approved company calendar (closures, extra working days, working hours), installed by the
# composition root: () -> (version, closures, workdays, (opening, closing) minutes). See company_calendar.py.
_company_calendar: Any = None


def install_company_calendar(source) -> None:
    global _company_calendar
    _company_calendar = source


_COMPANY_POLICIES: dict[tuple, SlaPolicy] = {}


def _with_company_days(policy: SlaPolicy, version: int, closures: frozenset, workdays: frozenset,
                       hours: tuple[int, int]) -> SlaPolicy:
    # Policies come from the lru_cache above, so their id is stable; the days are part of the key.
    key = (id(policy), version, closures, workdays, hours)
    found = _COMPANY_POLICIES.get(key)
    if found is None:
        if len(_COMPANY_POLICIES) > 32:
            _COMPANY_POLICIES.clear()
        base = policy.calendar or BusinessCalendar.for_country(policy.country)
        found = policy.with_calendar(base.with_custom_days(closures, workdays).with_working_hours(*hours))
        _COMPANY_POLICIES[key] = found
    return found


@functools.lru_cache(maxsize=8)
def _load_policy(
    profile: str | None, country: str | None, path: str | None, _mtime: int | None, _year: int,
    chosen: bool = False,
) -> SlaPolicy:
    config: dict[str, Any] = {}
    if path:
        try:
            config = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SlaConfigError(
                f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        except OSError as exc:
            raise SlaConfigError(f"{ENV_CONFIG}={path!r} cannot be read: {exc.strerror}") from exc
        if not isinstance(config, dict):
            raise SlaConfigError(f"{path}: the SLA config must be a JSON object")
        config = dict(config)

    if profile:
        if not chosen and config.get("profile") and _profile_name(config["profile"]) != _profile_name(profile):
            raise SlaConfigError(
                f"{ENV_PROFILE}={profile!r} contradicts profile {config['profile']!r} in {path}"
            )
        config["profile"] = profile
    if country:
        calendar = config.get("calendar", {})
        if not isinstance(calendar, dict):
            raise SlaConfigError(f"{path}: 'calendar' must be an object")
        if calendar.get("country") and str(calendar["country"]).upper() != country.upper():
            raise SlaConfigError(f"{ENV_COUNTRY}={country!r} contradicts calendar.country in {path}")
        config["calendar"] = {**calendar, "country": country}
    try:
        return SlaPolicy.from_config(config)
    except SlaConfigError as exc:
        raise SlaConfigError(f"{path}: {exc}" if path else str(exc)) from exc


def profile_names() -> tuple[str, ...]:
    """The ready-made profiles, in the order docs/sla.md lists them."""
    return tuple(_PROFILES)


def deployment_profile() -> str:
    """The profile the environment names (``REDRESS_SLA_PROFILE`` or the config file's): the
    ``sla_profile`` setting's value until a reviewed settings version chooses one. The company
    calendar does not change the name, so it is not read (it belongs to whichever database was
    installed last: reading it opened a session there)."""
    return _environment_policy(None, None).name


def policy_for(settings: Mapping[str, Any] | None) -> SlaPolicy:
    """The policy of a complaint: the profile of the settings it started with, else the deployment's."""
    chosen = (settings or {}).get("sla_profile") if isinstance(settings, Mapping) else None
    return load_policy(profile=chosen if isinstance(chosen, str) and chosen else None)


# ---------------------------------------------------------------------------- BPMN helpers


def _parse_iso(value: str, label: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"{label} must be an ISO 8601 date-time string, got {value!r}") from None
    # Same rule as processes.engine.script_helpers: a string without offset is UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sla_deadline(stage: str, severity: str, start_iso: str | None = None, profile: str | None = None) -> str:
    """Deadline for an SLA stage as an ISO 8601 UTC string, e.g. sla_deadline("accept", "high",
    received_at, settings.get("sla_profile")). Uses the SLA profile given (the complaint's
    settings; none: the deployment's) and the holiday calendar; start defaults to now, and a start
    without offset is UTC. Stages: acknowledge, accept, respond, resolve, mediation, survey,
    details; severities: low, medium, high, critical; profiles: default, SAMR, CBIRC, FCA, CFPB."""
    start = _parse_iso(start_iso, "start_iso") if start_iso else datetime.now(UTC)
    policy = load_policy(profile=profile) if profile else load_policy()
    return policy.deadline(stage, severity, start).isoformat(timespec="seconds")


def sla_state(started_iso: str, deadline_iso: str) -> str:
    """SLA state now for a clock started at started_iso with deadline deadline_iso (ISO 8601;
    no offset means UTC): "on_time", "at_risk" (more than 80% of the time used, configurable)
    or "breached"."""
    started = _parse_iso(started_iso, "started_iso")
    return load_policy().state(started, _parse_iso(deadline_iso, "deadline_iso"))


SLA_HELPERS = {"sla_deadline": sla_deadline, "sla_state": sla_state}

for _name, _func in SLA_HELPERS.items():
    register_helper(_name)(_func)
