"""The configurable values of the complaint process.

The runtime puts a dict of these into the start data as the process variable
`settings`; BPMN timers, gateways and service-task parameters read them as
`settings["key"]`. Durations are ISO 8601 durations ("P3D", "PT2H", "PT5S" in
tests), amounts are in the currency of the ledger (CNY by default).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from processes.complaints.sla import deployment_profile, profile_names
from processes.engine.errors import N_
from processes.engine.spiff import timer_value_problem

_ISO_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")

# key: (default, description)
SETTINGS: dict[str, tuple[Any, str]] = {
    "details_timeout": (
        "P7D",
        "How long to wait for the customer's missing details before closing the complaint as incomplete.",
    ),
    "response_timeout": (
        "P7D",
        "How long to wait for the customer's answer to a response before it is deemed accepted.",
    ),
    "follow_up_wait": ("P3D", "Wait after the response is accepted before the satisfaction survey is sent."),
    "survey_timeout": (
        "P5D",
        "How long to wait for the survey answer before customer service calls the customer.",
    ),
    "mediation_response_timeout": (
        "P5D",
        "How long the customer has to answer a mediation proposal; no answer sends the case to management.",
    ),
    "max_mediation_rounds": (3, "Proposals exchanged with the customer before management decides."),
    "compensation_approval_threshold": (
        500,
        "Compensation above this amount needs management approval.",
    ),
    "default_monthly_budget": (
        20000,
        "A department's monthly compensation budget when no budget row is set for the month.",
    ),
    "duplicate_window_days": (
        30,
        "Earlier complaints of the same customer within this many days are compared.",
    ),
    "improvement_due_days": (30, "Days the responsible department has to complete an improvement action."),
    "required_fields": (
        ["customer_name", "contact", "subject", "description", "remedy_sought"],
        "Fields a complaint needs before it is acknowledged; 'contact' means a phone number or an email.",
    ),
    "repeat_window_days": (
        180,
        "A customer with another complaint within this many days is a repeat complainant: a senior agent handles it.",
    ),
    "agent_channels": (
        ["phone", "walk_in", "letter"],
        "Channels whose complaints an agent registers by hand; others (web, email, api, social) arrive filled in.",
    ),
    "hotline": ("", ("The customer service phone number the portal shows when it cannot take a complaint "
                     "(empty: REDRESS_HOTLINE).")),
    "company_name": ("", "The company's name in the signature of customer e-mails (empty: none)."),
    # The shipped value is the deployment's (REDRESS_SLA_PROFILE), filled in by default_settings().
    "sla_profile": ("", ("The SLA profile whose limits set every deadline: default, SAMR, CBIRC, FCA or CFPB "
                         "(docs/sla.md); a complaint keeps the profile it started with.")),
}


def default_settings() -> dict[str, Any]:
    """The settings a complaint process starts with unless the deployment overrides them."""
    values = {key: (list(value) if isinstance(value, list) else value) for key, (value, _doc) in SETTINGS.items()}
    # Until a reviewed version chooses a profile, the environment's applies (a fresh install).
    values["sla_profile"] = deployment_profile()
    return values


def describe_settings() -> dict[str, str]:
    """Key → description, for the designer and the docs."""
    return {key: doc for key, (_value, doc) in SETTINGS.items()}


# -- validation of a changed set ---------------------------------------------------------

# What kind of value each setting holds; the settings page renders and checks it by kind.
KINDS: dict[str, str] = {
    "details_timeout": "duration",
    "response_timeout": "duration",
    "follow_up_wait": "duration",
    "survey_timeout": "duration",
    "mediation_response_timeout": "duration",
    "max_mediation_rounds": "count",
    "compensation_approval_threshold": "amount",
    "default_monthly_budget": "amount",
    "duplicate_window_days": "count",
    "improvement_due_days": "count",
    "required_fields": "fields",
    "agent_channels": "channels",
    "hotline": "phone",
    "company_name": "text",
    "repeat_window_days": "count",
    "sla_profile": "profile",
}
# Fields a complaint may be required to have ("contact": a phone number or an e-mail address).
REQUIRABLE_FIELDS = ("customer_name", "contact", "subject", "description", "remedy_sought", "product",
                     "order_number", "occurred_at", "customer_address")
COUNT_LIMIT = 3650
AMOUNT_LIMIT = Decimal(100000000)
DURATION_LIMIT = 40  # characters; "P1Y2M3DT4H5M6S" is 14

# A refusal: an English template (marked N_ for the catalog) and its parameters.
Problem = tuple[str, dict]


def _duration(raw: Any) -> tuple[Any, Problem | None]:
    text = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(text, str) or not text:
        return raw, (N_("Enter a duration in ISO 8601, for example P7D (7 days) or PT4H (4 hours)."), {})
    if len(text) > DURATION_LIMIT or not _ISO_DURATION.fullmatch(text.upper()) \
            or timer_value_problem("timeDuration", text.upper()):
        return raw, (N_("%(value)s is not an ISO 8601 duration; write for example P7D (7 days) or PT4H (4 hours)."),
                     {"value": text[:DURATION_LIMIT]})
    return text.upper(), None


def _count(raw: Any) -> tuple[Any, Problem | None]:
    text = str(raw).strip() if raw is not None else ""
    if isinstance(raw, bool) or not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= COUNT_LIMIT:
        return raw, (N_("Enter a whole number from 1 to %(limit)s."), {"limit": COUNT_LIMIT})
    return int(text), None


def _amount(raw: Any) -> tuple[Any, Problem | None]:
    text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
    try:
        value = Decimal(text) if len(text) <= 20 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        return raw, (N_("Enter an amount, for example 500 or 499.50."), {})
    if value <= 0 or value >= AMOUNT_LIMIT or value != value.quantize(Decimal("0.01")):
        return raw, (N_("The amount must be above 0 and below %(limit)s, with at most two decimals."),
                     {"limit": f"{AMOUNT_LIMIT:,}"})
    return (int(value) if value == value.to_integral_value() else float(value)), None


_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,28}[0-9]")


def _phone(raw: Any) -> tuple[Any, Problem | None]:
    text = raw.strip() if isinstance(raw, str) else None
    if text is None or (text and not _PHONE.fullmatch(text)):
        return raw, (N_("Enter a phone number (digits, spaces, + - and brackets), or leave it empty."), {})
    return text, None


def _text(raw: Any) -> tuple[Any, Problem | None]:
    text = raw.strip() if isinstance(raw, str) else None
    if text is None or len(text) > 100 or any(ord(ch) < 32 for ch in text):
        return raw, (N_("At most %(limit)s characters on one line."), {"limit": 100})
    return text, None


def _choices(allowed: tuple[str, ...]):
    def check(raw: Any) -> tuple[Any, Problem | None]:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            return raw, (N_("Choose from the list."), {})
        unknown = [i for i in items if i not in allowed]
        if unknown:
            return raw, (N_("Unknown: %(names)s. Choose from the list."), {"names": ", ".join(unknown[:5])[:200]})
        if not items:
            return raw, (N_("Choose at least one."), {})
        return [i for i in allowed if i in items], None  # the list's own order, each once
    return check


def _profile(raw: Any) -> tuple[Any, Problem | None]:
    text = raw.strip() if isinstance(raw, str) else ""
    names = profile_names()
    match = next((name for name in names if name.lower() == text.lower()), None)
    if match is None:
        return raw, (N_("Choose one of the SLA profiles: %(names)s."), {"names": ", ".join(names)})
    return match, None


def _channels() -> tuple[str, ...]:
    from processes.complaints.registration import CHANNELS

    return CHANNELS


def check_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Problem]]:
    """The changed settings, cleaned, and a refusal per key that is not valid.

    Every known key must be present; unknown keys are refused under their own name."""
    checkers = {"duration": _duration, "count": _count, "amount": _amount, "phone": _phone, "text": _text,
                "fields": _choices(REQUIRABLE_FIELDS), "channels": _choices(_channels()),
                "profile": _profile}
    cleaned: dict[str, Any] = {}
    errors: dict[str, Problem] = {}
    for key in values:
        if key not in SETTINGS:
            errors[key[:60]] = (N_("There is no setting of this name."), {})
    for key, kind in KINDS.items():
        if key not in values:
            errors[key] = (N_("This setting is missing."), {})
            continue
        value, problem = checkers[kind](values[key])
        if problem:
            errors[key] = problem
        else:
            cleaned[key] = value
    return cleaned, errors


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The settings whose value differs, in the settings' order."""
    return [key for key in SETTINGS if old.get(key) != new.get(key)]
