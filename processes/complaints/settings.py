"""The configurable values of the complaint process.

The runtime puts a dict of these into the start data as the process variable
`settings`; BPMN timers, gateways and service-task parameters read them as
`settings["key"]`. Durations are ISO 8601 durations ("P3D", "PT2H", "PT5S" in
tests), amounts are in the currency of the ledger (CNY by default).
"""

from __future__ import annotations

from typing import Any

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
}


def default_settings() -> dict[str, Any]:
    """The settings a complaint process starts with unless the deployment overrides them."""
    return {
        key: (list(value) if isinstance(value, list) else value) for key, (value, _doc) in SETTINGS.items()
    }


def describe_settings() -> dict[str, str]:
    """Key → description, for the designer and the docs."""
    return {key: doc for key, (_value, doc) in SETTINGS.items()}
