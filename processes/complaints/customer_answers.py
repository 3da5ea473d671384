"""What the customer may answer now, and by when.

The complaint process waits for the customer at event-based gateways; this module reads the
instance so that the portal and the e-mail channel never name BPMN elements themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.engine.models import ProcessInstance, Timer

PROCESS_KEY = "complaint_handling"
# The messages a customer may send into the complaint process.
CUSTOMER_MESSAGES = ("customer_details", "customer_response", "survey_answer")
# Timer rows that bound a customer's answer -> what the customer is asked for. A row names the
# event-based gateway that waits for the answer (or the timer event itself).
ANSWER_TIMERS = {
    "Gateway_Await_Details": "details", "Event_Details_Timeout": "details",
    "Gateway_Await_Response": "response", "Event_Response_Timeout": "response",
    "Gateway_Await_Mediation": "mediation", "Event_Mediation_Timeout": "mediation",
    "Gateway_Await_Survey": "survey", "Event_Survey_Timeout": "survey",
}


@dataclass(frozen=True)
class AnswerDeadline:
    kind: str  # details | response | mediation | survey
    due_at: datetime


@dataclass(frozen=True)
class OpenAnswers:
    messages: list[str]  # the customer messages the process waits for now
    deadlines: list[AnswerDeadline]


def open_answers(session: Session, instance: ProcessInstance | None) -> OpenAnswers:
    """What the complaint's process waits for from the customer, with the deadlines."""
    if instance is None:
        return OpenAnswers([], [])
    messages = [m for m in (instance.awaiting or []) if m in CUSTOMER_MESSAGES]
    timers = session.scalars(select(Timer).where(Timer.instance_id == instance.id, Timer.status == "waiting",
                                                 Timer.bpmn_id.in_(list(ANSWER_TIMERS))))
    return OpenAnswers(messages, [AnswerDeadline(ANSWER_TIMERS[t.bpmn_id], t.due_at) for t in timers])
