"""What each reviewed setting is called on screen, in the interface language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

SETTING_LABELS = {
    "details_timeout": _l("Wait for missing details"),
    "response_timeout": _l("Wait for the customer's answer to a response"),
    "follow_up_wait": _l("Wait before the satisfaction survey"),
    "survey_timeout": _l("Wait for the survey answer"),
    "mediation_response_timeout": _l("Wait for the answer to a mediation proposal"),
    "max_mediation_rounds": _l("Mediation rounds before management decides"),
    "compensation_approval_threshold": _l("Compensation approval threshold"),
    "default_monthly_budget": _l("Default monthly budget of a department"),
    "duplicate_window_days": _l("Duplicate window (days)"),
    "improvement_due_days": _l("Days to complete an improvement action"),
    "required_fields": _l("Fields a complaint needs"),
    "agent_channels": _l("Channels an agent registers by hand"),
    "repeat_window_days": _l("Repeat complainant window (days)"),
    "hotline": _l("Customer service hotline"),
    "company_name": _l("Company name on e-mails"),
    "sla_profile": _l("SLA profile"),
}
SETTING_HELP = {
    "details_timeout": _l("ISO 8601 duration, for example P7D. Then the complaint closes as incomplete."),
    "response_timeout": _l("ISO 8601 duration. No answer by then counts as accepted."),
    "follow_up_wait": _l("ISO 8601 duration, after the response is accepted."),
    "survey_timeout": _l("ISO 8601 duration. Then customer service calls the customer."),
    "mediation_response_timeout": _l("ISO 8601 duration. No answer sends the case to management."),
    "max_mediation_rounds": _l("A whole number."),
    "compensation_approval_threshold": _l("Compensation above this amount (CNY) needs management approval."),
    "default_monthly_budget": _l("CNY, used for a month without a budget of its own."),
    "duplicate_window_days": _l("Earlier complaints of the same customer within this many days are compared."),
    "improvement_due_days": _l("A whole number of days."),
    "required_fields": _l("'Contact' means a phone number or an e-mail address."),
    "agent_channels": _l("Complaints from other channels arrive filled in."),
    "repeat_window_days": _l("A customer with another complaint within this many days is handled by a senior agent."),
    "hotline": _l("Shown to customers when the portal cannot take a complaint. Empty: the deployment's REDRESS_HOTLINE."),
    "company_name": _l("Signs every customer e-mail, for example \"Acme Appliances\". Empty: no name."),
    "sla_profile": _l("The regulator's limits every deadline follows. Complaints already open keep the profile "
                      "they started with."),
}
# What each SLA profile is, beside its name in the choice.
PROFILE_LABELS = {
    "default": _l("default: internal targets"),
    "SAMR": _l("SAMR: market regulation, China"),
    "CBIRC": _l("CBIRC: banking and insurance, China"),
    "FCA": _l("FCA: financial services, United Kingdom"),
    "CFPB": _l("CFPB: consumer finance, United States"),
}
FIELD_LABELS = {
    "customer_name": _l("Customer name"), "contact": _l("Contact (phone or e-mail)"), "subject": _l("Subject"),
    "description": _l("Description"), "remedy_sought": _l("Remedy sought"), "product": _l("Product"),
    "order_number": _l("Order number"), "occurred_at": _l("When it happened"), "customer_address": _l("Address"),
}
