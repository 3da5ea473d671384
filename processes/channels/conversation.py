"""The conversation with the customer, as one thread on the complaint file.

Every message in and out, in order, each with its channel, time and who: the complaint as it
came in, e-mails and replies (with their files), details the customer supplied, answers to
proposals with their comments, survey answers (portal or the agent's call), and what we sent:
acknowledgements, requests, proposals, answers and the messages staff wrote from the file.
Staff write to the customer with `send_to_customer`: an e-mail (when there is an address) and the
portal thread, recorded and audited like everything the process sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.channels.outbound_mail import Mailer
from processes.channels.portal_models import Attachment, InboundMessage, OutboundMessage
from processes.complaints.privacy import mask_data, mask_email, sees_personal_data
from processes.complaints.records import Complaint, Notification
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Forbidden, ValidationFailed
from processes.engine.inputsafe import value_problems
from processes.engine.models import AuditEntry, utcnow

MAX_SUBJECT = 200
MAX_BODY = 5000
# The service accounts customer channels act as, and the channel each stands for.
CHANNEL_OF_ACTOR = {"customer-portal": "portal", "mail-intake": "email"}
_FILE_WINDOW = timedelta(minutes=2)
# Messages whose text a person wrote (answers, proposals, messages from the file); the others are
# the process's standard notices, named by their kind.
WRITTEN_BY_PEOPLE = ("staff_message", "response", "mediation_proposal")  # files stored with a message belong to it
# The field of a task's data that became the text of a message the process sends.
TEXT_FIELDS = {"response": "answer", "mediation_proposal": "proposal"}


@dataclass
class Message:
    at: datetime
    direction: str  # in (from the customer) | out (to the customer)
    channel: str  # portal, email, phone, web, api, ...
    who: str  # "customer", a staff user name, or "system"
    kind: str  # complaint, email, customer_details, customer_response, survey_answer, survey_call, or a template
    subject: str = ""
    text: str = ""
    data: dict = field(default_factory=dict)
    delivery: str | None = None  # for messages out: the e-mail's status (sent, outbox, skipped, ...)
    files: list = field(default_factory=list)  # (id, filename, content_type, size) of the customer's files
    approved_by: str | None = None  # for an answer: who approved it in the quality check (four eyes)


def thread(session: Session, complaint: Complaint, who: Actor, history: list[AuditEntry]) -> list[Message]:
    """The whole conversation of `complaint`, oldest first, masked as `who` may see it."""
    reference = complaint.reference
    clear = sees_personal_data(who)
    messages = [Message(complaint.received_at, "in", complaint.channel,
                        "customer" if complaint.channel not in ("phone", "walk_in", "letter")
                        else (complaint.created_by or "customer"),
                        "complaint", complaint.subject, complaint.description,
                        data=mask_data({"remedy_sought": complaint.remedy_sought}, who))]
    for entry in history:
        detail = entry.detail or {}
        if entry.action == "message_received":
            channel = CHANNEL_OF_ACTOR.get(entry.actor, "api")
            messages.append(Message(entry.at, "in", channel, "customer", str(detail.get("message")),
                                    data=mask_data(detail.get("data") or {}, who)))
        elif entry.action == "task_completed" and detail.get("task") == "Task_Survey_Call":
            messages.append(Message(entry.at, "in", "phone", entry.actor, "survey_call",
                                    data=mask_data(detail.get("data") or {}, who)))
    for mail in session.scalars(select(InboundMessage).where(InboundMessage.reference == reference)
                                .order_by(InboundMessage.id)):
        sender = mail.sender if clear else mask_email(mail.sender)
        messages.append(Message(mail.received_at, "in", mail.channel, sender or "customer", "email",
                                mail.subject, mail.body))
    writers = None  # read from the audit log only when a message needs it
    sent = {m.notification_id: m for m in session.scalars(
        select(OutboundMessage).where(OutboundMessage.reference == reference))}
    for note in session.scalars(select(Notification).where(Notification.business_key == reference,
                                                           Notification.recipient_type == "customer")
                                .order_by(Notification.id)):
        mail = sent.get(note.id)
        payload = note.payload or {}
        by, approved_by = _person(payload.get("by")), _person(payload.get("approved_by"))
        if by is None and note.template in TEXT_FIELDS:
            # Sent before the process recorded its author with it: the audit log knows.
            writers = _writers(history) if writers is None else writers
            by, approved_by = writers.get((TEXT_FIELDS[note.template], note.body or ""), (None, None))
        messages.append(Message(
            note.created_at, "out", "email+portal" if mail is not None and mail.status != "skipped" else "portal",
            # Who wrote it (and who approved it): the process records them with the answer it sends.
            by or "system", note.template,
            # The subject as the customer got it (in their language); the text a person wrote. Never
            # the e-mail's body as sent: it holds the customer's private tracking link.
            mail.subject if mail is not None and mail.subject else note.subject,
            (note.body or payload.get("proposal") or "") if note.template in WRITTEN_BY_PEOPLE else "",
            data={k: v for k, v in payload.items() if k in ("proposal_amount", "compensation_amount", "round",
                                                           "original", "missing_fields")},
            delivery=mail.status if mail is not None else None, approved_by=approved_by))
    messages.sort(key=lambda m: m.at)
    _attach_files(session, reference, messages)
    return messages


def _person(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _writers(history: list[AuditEntry]) -> dict[tuple[str, str], list]:
    """From the audit log, in one pass: (field, text) -> [who last completed a task with exactly that
    text, who approved it in a quality check before anyone wrote another]."""
    writers: dict[tuple[str, str], list] = {}
    latest = None
    for entry in history:
        if entry.action != "task_completed":
            continue
        data = (entry.detail or {}).get("data") or {}
        written = [(f, data[f]) for f in TEXT_FIELDS.values() if isinstance(data.get(f), str)]
        for key in written:
            writers[key] = [entry.actor, None]
            latest = key
        if not written and latest is not None and data.get("qc_decision") == "approve":
            writers[latest][1] = entry.actor
    return writers


def _attach_files(session: Session, reference: str, messages: list[Message]) -> None:
    """Each customer file goes with the message from the customer it came with (stored together)."""
    rows = session.execute(select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
                                  Attachment.created_at, Attachment.channel)
                           .where(Attachment.reference == reference).order_by(Attachment.id)).all()
    incoming = [m for m in messages if m.direction == "in"]
    for row in rows:
        near = [m for m in incoming if abs(m.at - row.created_at) <= _FILE_WINDOW]
        # The nearest in time, on the channel the file came by (an e-mail's file with that e-mail).
        target = min(near, key=lambda m: (m.channel != row.channel, abs(m.at - row.created_at))) if near else None
        if target is None:
            target = Message(row.created_at, "in", row.channel, "customer", "files")
            messages.append(target)
            incoming.append(target)
        target.files.append(row)
    messages.sort(key=lambda m: m.at)


# -- writing to the customer ---------------------------------------------------------


def may_write(who: Actor) -> bool:
    """Customer service speaks to the customer: those who see their contact details in clear."""
    return sees_personal_data(who)


def _refuse(name: str, message: str, **params) -> ValidationFailed:
    return ValidationFailed({name: message}, message, **params)


def send_to_customer(session: Session, mailer: Mailer, reference: str, who: Actor, subject: str,
                     body: str) -> Notification:
    """A message a person wrote, to the customer's e-mail (if any) and their portal thread, in the
    caller's transaction; the caller runs `mailer.deliver_due()` after the commit."""
    if not may_write(who):
        raise Forbidden(N_("Only customer service writes to the customer."))
    complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if complaint is None:
        raise Forbidden(N_("Only customer service writes to the customer."))
    subject, body = (subject or "").strip(), (body or "").strip()
    if not body:
        raise _refuse("body", N_("Write the message first; nothing was sent."))
    if len(body) > MAX_BODY:
        raise _refuse("body", N_("A message holds at most %(max)s characters; this one has %(n)s."),
                      max=MAX_BODY, n=len(body))
    if len(subject) > MAX_SUBJECT:
        raise _refuse("subject", N_("A subject holds at most %(max)s characters; this one has %(n)s."),
                      max=MAX_SUBJECT, n=len(subject))
    if value_problems({"subject": subject, "body": body}):
        raise _refuse("body", N_("This text contains characters that cannot be stored."))
    note = Notification(recipient_type="customer",
                        recipient=complaint.customer_email or complaint.customer_phone or "portal",
                        business_key=reference, template="staff_message", subject=subject or reference,
                        body=body, payload={"by": who.username}, sent_at=utcnow())
    session.add(note)
    session.flush()
    mailer.queue(session, reference)
    audit.append(session, who.username, "customer_message_sent", business_key=reference,
                 detail={"notification_id": note.id, "subject": note.subject})
    return note
