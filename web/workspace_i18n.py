"""Words of the workspace in the chosen language: vocabulary values and BPMN element names.

Vocabulary (categories, severities, channels, departments...) is translated with
gettext; BPMN task and lane names are Chinese in the model with an English
`name_en` property, read from the deployed definitions' files and cached per
deployment.
"""

from __future__ import annotations

import functools
import threading

from flask import g
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from processes.engine.models import ProcessDefinition
from processes.engine.xmlsafe import parse_xml
from web.i18n import ui_language

VOCABULARY = {
    "config_kind": {"settings": _l("Process settings"), "calendar": _l("Business calendar"),
                    "mail_templates": _l("E-mail templates")},
    "mail_status": {"outbox": _l("In the outbox"), "pending": _l("Waiting to be sent"), "sending": _l("Sending"),
                    "sent": _l("Sent"), "failed": _l("Failed"), "skipped": _l("Not sent (no address)"),
                    "discarded": _l("Discarded")},
    "config_status": {"submitted": _l("Awaiting review"), "approved": _l("Approved"), "rejected": _l("Rejected"),
                      "withdrawn": _l("Withdrawn")},
    "category": {
        "product_quality": _l("Product quality"), "service_attitude": _l("Service attitude"),
        "logistics_delivery": _l("Logistics and delivery"), "sales_misrepresentation": _l("Sales misrepresentation"),
        "price_billing": _l("Price and billing"), "technical_fault": _l("Technical fault"),
        "after_sales_repair": _l("After-sales repair"), "other": _l("Other"),
    },
    "severity": {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "critical": _l("Critical")},
    "channel": {
        "phone": _l("Phone"), "email": _l("E-mail"), "web": _l("Web form"), "social_media": _l("Social media"),
        "walk_in": _l("Walk-in"), "letter": _l("Letter"), "api": _l("API"), "portal": _l("Portal"),
        "email+portal": _l("E-mail and portal"),
    },
    "department": {
        "customer_service": _l("Customer service"), "sales": _l("Sales"), "product": _l("Product"),
        "technical": _l("Technical"), "after_sales": _l("After-sales"), "management": _l("Management"),
    },
    "role": {
        "agent": _l("Agent"), "senior_agent": _l("Senior agent"), "department_staff": _l("Department staff"),
        "supervisor": _l("Supervisor"), "manager": _l("Manager"), "process_designer": _l("Process designer"),
        "compliance_reviewer": _l("Compliance reviewer"), "admin": _l("Administrator"),
    },
    "tier": {"standard": _l("Standard"), "silver": _l("Silver"), "gold": _l("Gold"), "vip": _l("VIP")},
    "sla": {"on_time": _l("On time"), "at_risk": _l("At risk"), "breached": _l("Breached")},
    "assignment": {"unassigned": _l("Unassigned"), "assigned": _l("Assigned")},
    "strategy": {"rule_based": _l("Rule-based"), "compensation": _l("Compensation"),
                 "fuzzy_mediation": _l("Fuzzy mediation"), "explanation": _l("Explanation"),
                 "escalation": _l("After escalation")},
    "language": {"zh-CN": _l("Chinese"), "en": _l("English")},
    "responsibility": {"company": _l("The company"), "customer": _l("The customer"), "unclear": _l("Unclear")},
    "status": {
        "registered": _l("Registered"), "awaiting_details": _l("Awaiting details"),
        "acknowledged": _l("Acknowledged"), "classified": _l("Classified"), "investigating": _l("Investigating"),
        "reconciling": _l("Reconciling"), "responded": _l("Responded"), "escalated": _l("Escalated"),
        "follow_up": _l("Follow-up"), "closed": _l("Closed"), "closed_incomplete": _l("Closed (incomplete)"),
        "closed_duplicate": _l("Closed (duplicate)"), "open": _l("Open"), "completed": _l("Completed"),
        "cancelled": _l("Cancelled"), "done": _l("Done"), "awaiting_approval": _l("Awaiting approval"),
        "awaiting_customer": _l("Awaiting the customer"), "awaiting_survey": _l("Awaiting the survey"),
        "error": _l("Stopped by an error"), "running": _l("Running"),
    },
    "audit": {
        "instance_started": _l("Complaint process started"), "instance_completed": _l("Process finished"),
        "instance_error": _l("A process step failed"), "instance_retried": _l("Failed step retried"),
        "instance_changed": _l("Process changed"), "instances_migrated": _l("Moved to a new process version"),
        "migration_undone": _l("Process version change undone"), "task_claimed": _l("Task claimed"),
        "task_unclaimed": _l("Task given back"), "task_reassigned": _l("Task reassigned"),
        "task_completed": _l("Task completed"), "timer_fired": _l("Deadline reached"),
        "message_received": _l("Message received"), "customer_email_received": _l("Customer e-mail received"),
        "logged_in": _l("Logged in"), "duplicate_linked": _l("Linked as duplicate"),
        "duplicate_unlinked": _l("Duplicate link removed"), "note_added": _l("Internal note"),
        "customer_message_sent": _l("Message to the customer"), "attachment_added": _l("Attachment added"),
        "instance_migrated": _l("Moved to a new process version"),
        "instance_migration_undone": _l("Process version change undone"),
        "instance_cancelled": _l("Complaint cancelled"), "instance_start_failed": _l("Process could not start"),
        "skip_requested": _l("Skipping a step requested"), "skip_refused": _l("Skipping a step refused"),
        "step_skipped": _l("Step skipped"),
        # the process designer and its review
        "draft_saved": _l("Process draft saved"), "draft_submitted": _l("Process draft submitted for review"),
        "draft_approved": _l("Process draft approved"), "draft_rejected": _l("Process draft rejected"),
        "draft_deployed": _l("Process draft deployed"), "draft_deploy_failed": _l("Process draft deployment failed"),
        "draft_discarded": _l("Process draft discarded"), "draft_rebased": _l("Process draft rebased"),
        "definition_deployed": _l("Process version deployed"),
        "definition_deploy_forced": _l("Process version deployed without review"),
        # settings, calendar and e-mail templates under review
        "config_submitted": _l("Configuration change submitted"), "config_approved": _l("Configuration change approved"),
        "config_rejected": _l("Configuration change rejected"), "config_withdrawn": _l("Configuration change withdrawn"),
        "budget_set": _l("Compensation budget set"), "response_template_saved": _l("Answer template saved"),
        "mail_resent": _l("E-mail sent again"), "mail_discarded": _l("E-mail discarded"),
        "archive_reviewed": _l("Archive review note"), "regulatory_return_exported": _l("Regulatory return exported"),
        # staff accounts
        "user_created": _l("Account created"), "user_changed": _l("Account changed"),
        "user_deactivated": _l("Account deactivated"), "user_reactivated": _l("Account reactivated"),
        "password_changed": _l("Password changed"), "password_reset": _l("Password reset"),
        "sessions_ended": _l("Sessions ended"), "token_created": _l("API token created"),
        "tokens_revoked": _l("API tokens revoked"),
    },
    "notification": {
        "task_assigned": _l("Task assigned to you"), "sla_breach": _l("SLA breached"),
        "sla_at_risk": _l("SLA about to breach"), "escalation": _l("Escalation"),
        "compensation_escalation": _l("Compensation escalation"), "critical_complaint": _l("Critical complaint"),
        "improvement_overdue": _l("Improvement action overdue"), "acknowledgement": _l("Acknowledgement"),
        "request_details": _l("Details requested"), "response": _l("Response"), "survey": _l("Survey"),
        "mediation_proposal": _l("Mediation proposal"), "notice": _l("Notice"),
        "duplicate_closed": _l("Handled under the original complaint"), "staff_message": _l("Message from staff"),
        "mention": _l("You were mentioned in a note"),
    },
    "escalation_reason": {
        "rejected": _l("Customer rejected the answer"), "survey_dissatisfied": _l("Customer dissatisfied"),
        "sla_breach": _l("Deadline breached"), "critical": _l("Critical complaint"),
    },
    "message": {
        "customer_details": _l("Customer sent missing details"), "customer_response": _l("Customer answered"),
        "survey_answer": _l("Customer answered the survey"),
    },
    "compensation": {"points": _l("Points"), "coupon": _l("Coupon"), "refund": _l("Refund"), "cash": _l("Cash")},
    # the case summary (issue 12): the values the forms record
    "warranty": {"in_warranty": _l("In warranty"), "out_of_warranty": _l("Out of warranty"),
                 "return_period": _l("Within the 7-day return period"), "not_applicable": _l("Not applicable")},
    "legitimacy": {"justified": _l("Justified"), "unjustified": _l("Unjustified"),
                   "shared": _l("Shared responsibility")},
    "remedy": {"repair": _l("Repair"), "replace": _l("Replace"), "refund": _l("Refund"),
               "explanation": _l("Explanation"), "paid_service": _l("Paid service"),
               "compensation": _l("Compensation"), "settlement": _l("Settlement")},
    "approval": {"approve": _l("Approve"), "change_amount": _l("Approve a changed amount"), "refuse": _l("Refuse")},
    "conversation_kind": {
        "complaint": _l("The complaint"), "email": _l("E-mail"), "files": _l("Files"),
        "customer_details": _l("Details supplied"), "customer_response": _l("Answer to our proposal"),
        "survey_answer": _l("Survey answer"), "survey_call": _l("Survey call"),
        "acknowledgement": _l("Acknowledgement"), "request_details": _l("Request for details"),
        "mediation_proposal": _l("Mediation proposal"), "response": _l("Our answer"), "survey": _l("Survey"),
        "duplicate_closed": _l("Handled under the original complaint"), "staff_message": _l("Message from staff"),
    },
    "delivery": {"pending": _l("e-mail waiting to be sent"), "sending": _l("e-mail being sent"),
                 "sent": _l("e-mail sent"), "failed": _l("e-mail failed"), "outbox": _l("e-mail in the outbox"),
                 "skipped": _l("no e-mail address: portal only")},
    "field": {"customer_name": _l("Name"), "customer_phone": _l("Phone"), "customer_email": _l("E-mail"),
              "customer_address": _l("Address"), "subject": _l("Subject"), "description": _l("Description"),
              "remedy_sought": _l("Remedy sought"), "product": _l("Product or service"),
              "order_number": _l("Order number"), "occurred_at": _l("When it happened"),
              "occurred_where": _l("Where it happened")},
    # the kinds of BPMN element the review's semantic diff lists
    "bpmn_kind": {
        "task": _l("Task"), "userTask": _l("User task"), "serviceTask": _l("Service task"),
        "scriptTask": _l("Script task"), "businessRuleTask": _l("Business rule task"), "manualTask": _l("Manual task"),
        "sendTask": _l("Send task"), "receiveTask": _l("Receive task"), "callActivity": _l("Call activity"),
        "subProcess": _l("Sub-process"), "exclusiveGateway": _l("Exclusive gateway"),
        "parallelGateway": _l("Parallel gateway"), "inclusiveGateway": _l("Inclusive gateway"),
        "eventBasedGateway": _l("Event-based gateway"), "startEvent": _l("Start event"), "endEvent": _l("End event"),
        "intermediateCatchEvent": _l("Intermediate catch event"),
        "intermediateThrowEvent": _l("Intermediate throw event"), "boundaryEvent": _l("Boundary event"),
        "sequenceFlow": _l("Sequence flow"), "messageFlow": _l("Message flow"), "lane": _l("Lane"),
    },
    "customer_decision": {"accept": _l("Accepted the proposal"), "reject": _l("Rejected the proposal"),
                 "counter": _l("Made a counter-proposal")},
    # Who did something (person()): actors that are not a person are named for what they are.
    "machine_actor": {
        "system": _l("System"), "timer": _l("System (deadline)"), "worker": _l("System"),
        "cli": _l("Administrator (command line)"), "customer": _l("The customer"),
        "customer-portal": _l("The customer (portal)"), "mail-intake": _l("The customer (e-mail)"),
    },
}


def label(kind: str, value) -> str:
    """The translated word for a stored value; the value itself when it is not in the vocabulary."""
    if value in (None, ""):
        return "—"
    cache = g.setdefault("vocabulary_words", {})  # a page repeats the same few words many times
    key = (kind, value)
    if key not in cache:
        word = VOCABULARY.get(kind, {}).get(value)
        cache[key] = str(word) if word is not None else str(value)
    return cache[key]


class ElementNames:
    """bpmn_id -> {"zh-CN": name, "en": name_en} over every deployed definition, reloaded on deploy."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._names: dict[str, dict[str, str]] = {}

    def table(self, session) -> dict[str, dict[str, str]]:
        stamp = session.execute(select(func.max(ProcessDefinition.id), func.count(ProcessDefinition.id))).one()
        with self._lock:
            if stamp != self._stamp:
                self._names = self._load(session)
                self._stamp = tuple(stamp)
            return self._names

    def _load(self, session) -> dict[str, dict[str, str]]:
        names: dict[str, dict[str, str]] = {}
        # Oldest first, so the newest version's wording wins.
        for files in session.scalars(select(ProcessDefinition.files).order_by(ProcessDefinition.id)):
            for filename, text in (files or {}).items():
                if filename.endswith(".bpmn"):
                    names.update(_names_in(text, filename))
        return names


def _names_in(text: str, filename: str) -> dict[str, dict[str, str]]:
    try:
        root = parse_xml(text.encode("utf-8"), filename)
    except Exception:  # noqa: BLE001 - a model we cannot read just keeps its Chinese names
        return {}
    found = {}
    for element in root.iter():
        element_id, name = element.get("id"), element.get("name")
        if not element_id or not name:
            continue
        english = own_name_en(element)
        found[element_id] = {"zh-CN": name, "en": english or name}
    return found


ELEMENT_NAMES = ElementNames()


def element_name(session, bpmn_id: str, fallback: str) -> str:
    """A task's or lane's name in the chosen language."""
    if "element_names" not in g:  # one look at the definitions per request
        g.element_names = ELEMENT_NAMES.table(session)
    return g.element_names.get(bpmn_id, {}).get(ui_language()) or fallback


def pick(texts, fallback: str = "") -> str:
    """One language's text of a {"zh-CN": ..., "en": ...} mapping (or a plain string)."""
    if isinstance(texts, dict):
        lang = ui_language()
        return texts.get(lang) or texts.get("zh-CN") or texts.get("en") or fallback
    return texts or fallback


def diagram_in_language(xml: str | None, language: str) -> str | None:
    """The BPMN XML with each element's label in ``language``: Chinese is the model's ``name``,
    English its ``name_en`` property (kept as it is where a model has none)."""
    if not xml or language != "en":
        return xml
    return _english_diagram(xml)


@functools.lru_cache(maxsize=16)
def _english_diagram(xml: str) -> str:
    from lxml import etree

    try:
        root = parse_xml(xml.encode("utf-8"), "diagram.bpmn")
    except Exception:  # noqa: BLE001 - a model we cannot read is shown as stored
        return xml
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("name") is None:
            continue
        english = own_name_en(element)
        if english:
            element.set("name", english)
    return etree.tostring(root, encoding="unicode")


def own_name_en(element) -> str | None:
    """The element's own ``name_en`` property (not one of an element nested inside it)."""
    for child in element:
        if isinstance(child.tag, str) and child.tag.endswith("extensionElements"):
            for prop in child.iter("{*}property"):
                if prop.get("name") == "name_en" and prop.get("value"):
                    return prop.get("value")
    return None




def person(actor_id: str | None) -> str:
    """A person's display name for a user name; the system and the customer named as such; the
    demo's stand-ins ("demo.product") as "demo user · Product"."""
    if not actor_id:
        return "—"
    if actor_id in VOCABULARY["machine_actor"]:
        return label("machine_actor", actor_id)
    if actor_id.startswith("demo."):
        return str(_l("Demo user · %(department)s", department=label("department", actor_id[5:])))
    cache = g.setdefault("display_names", {})
    if actor_id not in cache:
        from processes.engine.models import User
        from web.context import database

        with database().session() as s:
            cache[actor_id] = s.scalar(select(User.display_name).where(User.username == actor_id)) or actor_id
    return cache[actor_id]


# The keys of an audit entry's detail that hold a user name (or a machine actor's id).
PERSON_KEYS = frozenset({"actor", "assignee", "author", "by", "changed_by", "confirmed_by", "from", "mentions", "owner",
                         "previous", "requested_by", "reviewer", "to", "user", "username"})


def detail_text(detail) -> str:
    """An audit entry's detail as text: people by display name, characters rather than escapes."""
    import json

    def shown(key, value):
        if key not in PERSON_KEYS:
            return value
        if isinstance(value, list):
            return [person(v) if isinstance(v, str) else v for v in value]
        return person(value) if isinstance(value, str) and value else value

    if not isinstance(detail, dict):
        return json.dumps(detail, ensure_ascii=False, default=str)
    return json.dumps({key: shown(key, value) for key, value in detail.items()}, ensure_ascii=False, default=str)
