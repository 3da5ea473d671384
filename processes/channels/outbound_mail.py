"""E-mail to customers: written inside the process step's transaction, sent after it commits.

The complaint process writes a `notifications` row (recipient_type "customer") whenever it
tells the customer something: acknowledgement, request_details, mediation_proposal, response,
survey. An observer of the runtime turns each such row into an `outbound_messages` row in the
same transaction (a transactional outbox), rendered in the customer's language with a fresh
private tracking link. After the commit the message is sent over SMTP (`REDRESS_SMTP_URL`,
smtp://[user:password@]host:port, smtps:// for TLS, ?starttls=1 to upgrade); a failed send is
retried later with back-off and never touches the process. Without an SMTP server the message
stays in the outbox (status "outbox") for an administrator to read and forward.
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import event, exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, object_session

from processes.channels import mail_templates
from processes.channels.mail_templates import TEMPLATES
from processes.channels.portal_models import (
    IntakeExtras,
    OutboundMessage,
    add_token,
    customer_language,
    new_token,
    pending_extras,
    store_extras,
)
from processes.complaints.money import format_money
from processes.complaints.records import Complaint, Notification, complaint_by_reference
from processes.engine.database import Database
from processes.engine.models import utcnow

log = logging.getLogger(__name__)

PROCESS_KEY = "complaint_handling"
DEFAULT_SENDER = "Redress <complaints@localhost>"
DEFAULT_LINK_BASE = "http://127.0.0.1:5000/"
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
           timedelta(hours=6))
LEASE = timedelta(minutes=5)  # a message being sent is claimed this long; a crashed sender's claim lapses
RETRY_EVERY = 30.0  # seconds between opportunistic retries of due messages
TRACK_PATH = "portal/track/{reference}/{token}"
_LINK = re.compile(r"(/portal/track/[A-Za-z0-9-]+/)[A-Za-z0-9_-]{20,}")

# -- templates, per language ---------------------------------------------------------

FIELD_NAMES = {
    "customer_name": {"zh-CN": "您的姓名", "en": "your name"},
    "contact": {"zh-CN": "联系电话或电子邮箱", "en": "a phone number or e-mail address"},
    "customer_phone": {"zh-CN": "联系电话", "en": "phone number"},
    "customer_email": {"zh-CN": "电子邮箱", "en": "e-mail address"},
    "customer_address": {"zh-CN": "地址", "en": "address"},
    "subject": {"zh-CN": "投诉主题", "en": "subject"},
    "description": {"zh-CN": "问题描述", "en": "description of what happened"},
    "remedy_sought": {"zh-CN": "您的诉求", "en": "the remedy you seek"},
    "product": {"zh-CN": "产品或服务", "en": "product or service"},
    "order_number": {"zh-CN": "订单号", "en": "order number"},
    "occurred_at": {"zh-CN": "发生时间", "en": "when it happened"},
    "occurred_where": {"zh-CN": "发生地点", "en": "where it happened"},
}

GENERIC = {
    "zh-CN": ("{subject}", "{name}您好:\n\n{text}\n\n查看您的投诉 {reference}:\n{link}\n"),
    "en": ("{subject}", "Dear {name},\n\n{text}\n\nSee your complaint {reference}:\n{link}\n"),
}
SIGNATURE = {"zh-CN": "\n——\n客户服务部(此邮件由系统发送,可直接回复,请保留主题中的投诉编号)\n",
             "en": "\n--\nCustomer service (you may reply to this e-mail; keep the reference in the subject)\n"}


def render(template: str, language: str, values: dict, approved: dict | None = None,
           company: str = "") -> tuple[str, str]:
    """Subject and body of one e-mail; `approved`: the reviewed wording in force (mail_templates.in_force);
    `company`: the company's name for the signature (the company_name setting)."""
    subject, body = TEMPLATES.get(template, GENERIC).get(language) or TEMPLATES.get(template, GENERIC)["zh-CN"]
    if approved:
        language_used = language if language in TEMPLATES.get(template, {}) else "zh-CN"
        subject = approved.get(f"{template}.{language_used}.subject", subject)
        body = approved.get(f"{template}.{language_used}.body", body)
    subject = subject.format(**values)
    signature = SIGNATURE.get(language, SIGNATURE["zh-CN"])
    if company:
        signature = (signature.replace("\n——\n", f"\n——\n{company} ", 1) if signature.startswith("\n——")
                     else signature.replace("\n--\nCustomer service", f"\n--\n{company} customer service", 1))
    return subject[:300], body.format(**values) + signature


def company_name(session: Session) -> str:
    """The company's name for the signature (the company_name setting in force)."""
    return _company(session)


def _company(session: Session) -> str:
    from processes.complaints import config_versions

    return config_versions.in_force(session, "settings")[1].get("company_name") or ""


def _values(session: Session, note: Notification, language: str, link: str) -> dict:
    complaint = complaint_by_reference(session, note.business_key)
    payload = note.payload or {}
    zh = language == "zh-CN"
    name = (complaint.customer_name if complaint else "") or ("客户" if zh else "customer")
    missing = payload.get("missing_fields") or []
    amount = payload.get("proposal_amount") or payload.get("compensation_amount")
    return {
        "reference": note.business_key or "",
        "name": name,
        "link": link,
        "subject": note.subject or note.business_key or "",
        "text": note.body or payload.get("proposal") or "",
        "round": payload.get("round") or 1,
        "amount": amount_line(amount, language),
        "missing": "\n".join(f"- {FIELD_NAMES.get(m, {}).get(language, m)}" for m in missing),
        "deadline": _deadline_text(complaint, language),
        "original": payload.get("original") or "",
    }


def amount_line(amount, language: str) -> str:
    """The amount under a proposal or answer, as the tracking page shows it too: 金额:¥239.90."""
    if not amount:
        return ""
    money = format_money(amount, language)
    return (f"金额:{money}" if language == "zh-CN" else f"Amount: {money}") + "\n"


def deadline_text(complaint: Complaint | None, language: str) -> str:
    """The {deadline} of an e-mail: the date the complaint must be resolved by."""
    return _deadline_text(complaint, language)


def _deadline_text(complaint: Complaint | None, language: str) -> str:
    due = resolve_deadline(complaint)
    if due is None:
        return "尽快" if language == "zh-CN" else "as soon as we can"
    return due.strftime("%Y-%m-%d")  # a day of the business calendar (resolve_deadline)


def resolve_deadline(complaint: Complaint | None) -> datetime | None:
    """When the complaint must be resolved under the configured SLA profile."""
    if complaint is None:
        return None
    try:
        from processes.complaints.complaint_sla import calendar_zone
        from processes.complaints.complaint_sla import resolve_due as complaint_resolve_due

        # In the calendar's zone: the letters name its days (late evening UTC is the next day in Shanghai).
        return complaint_resolve_due(complaint).astimezone(calendar_zone(complaint))
    except Exception:
        log.warning("no resolve deadline for %s", complaint.reference, exc_info=True)
        return None


# -- SMTP ------------------------------------------------------------------------------


class SmtpSettings:
    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"REDRESS_SMTP_URL must look like smtp://host:port, not {url!r}")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")

    def send(self, message: EmailMessage, timeout: float = 10.0) -> None:
        cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with cls(self.host, self.port, timeout=timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


# -- the mailer ------------------------------------------------------------------------

_NEW_CUSTOMER_NOTE = "redress.new_customer_notification"


@event.listens_for(Notification, "after_insert")
def _remember_customer_note(_mapper, _connection, note: Notification) -> None:
    """Mark the session that wrote a customer notification, so the mailer knows to look."""
    if note.recipient_type == "customer":
        session = object_session(note)
        if session is not None:
            session.info[_NEW_CUSTOMER_NOTE] = True


def _wrote_customer_note(session: Session) -> bool:
    flagged = session.info.pop(_NEW_CUSTOMER_NOTE, False)
    return flagged or any(isinstance(obj, Notification) and obj.recipient_type == "customer" for obj in session.new)



class Mailer:
    """Queues customer notifications as e-mails and sends them after commit, with retries."""

    def __init__(self, db: Database, smtp_url: str | None = None, sender: str | None = None,
                 link_base: Callable[[], str] | None = None):
        self.db = db
        self.smtp = SmtpSettings(smtp_url) if smtp_url else None
        self.sender = sender or DEFAULT_SENDER
        self.link_base = link_base or (lambda: DEFAULT_LINK_BASE)
        self._last_sweep = 0.0

    # The runtime observer: runs inside every unit of work, after the engine ran.
    def __call__(self, session: Session, instance, facts: dict, uow) -> None:
        extras = pending_extras()
        if (extras is not None and extras.reference is None and instance.process_key == PROCESS_KEY
                and instance.parent_instance_id is None):
            store_extras(session, instance.business_key, extras)
        # Most units of work write no customer notification: then there is nothing to look up.
        queued = self.queue(session, instance.business_key, extras) if _wrote_customer_note(session) else 0
        if self.smtp is not None and (queued or self._sweep_due()) and self.deliver_due not in uow.after_commit:
            uow.after_commit.append(self.deliver_due)

    def _sweep_due(self) -> bool:
        return time.monotonic() - self._last_sweep > RETRY_EVERY

    def link(self, reference: str, token: str) -> str:
        base = self.link_base().rstrip("/") + "/"
        return base + TRACK_PATH.format(reference=reference, token=token)

    def queue(self, session: Session, business_key: str | None, extras: IntakeExtras | None = None) -> int:
        """Turn the complaint's customer notifications not yet handled into outbound messages."""
        if not business_key:
            return 0
        handled = exists(select(OutboundMessage.id).where(OutboundMessage.notification_id == Notification.id))
        notes = session.scalars(
            select(Notification).where(Notification.business_key == business_key,
                                       Notification.recipient_type == "customer", ~handled)
            .order_by(Notification.id)
        ).all()
        count = 0
        for note in notes:
            count += self._queue_one(session, note, extras if extras and extras.reference == business_key else None)
        if notes:
            session.flush()
        return count

    def _queue_one(self, session: Session, note: Notification, extras: IntakeExtras | None) -> int:
        address = _email_address(note.recipient)
        if address is None:
            complaint = complaint_by_reference(session, note.business_key)
            address = _email_address(complaint.customer_email if complaint else None)
        language = extras.language if extras else customer_language(session, note.business_key)
        if address is None:
            # Only a phone number: nothing to e-mail; keep a trace so it is not looked at again.
            session.add(OutboundMessage(notification_id=note.id, reference=note.business_key, template=note.template,
                                        language=language, to_address=note.recipient[:200], subject=note.subject,
                                        body="", status="skipped", last_error="no e-mail address"))
            return 0
        if extras is not None and extras.token and note.template == "acknowledgement":
            token = extras.token  # the same link the customer saw on the screen
        else:
            token = new_token()
            add_token(session, note.business_key, token, language)
        subject, body = render(note.template, language,
                               _values(session, note, language, self.link(note.business_key, token)),
                               mail_templates.in_force(session), _company(session))
        session.add(OutboundMessage(notification_id=note.id, reference=note.business_key, template=note.template,
                                    language=language, to_address=address, subject=subject, body=body,
                                    status="pending" if self.smtp is not None else "outbox"))
        return 1

    # -- delivery, outside any process transaction -----------------------------------

    def deliver_due(self, limit: int = 50) -> int:
        """Send due messages (new ones and retries); returns how many were sent."""
        if self.smtp is None:
            return 0
        # Claims are atomic in the database, so senders in several threads or processes never
        # send one message twice; no lock is needed here.
        self._last_sweep = time.monotonic()
        sent = 0
        try:
            for _ in range(limit):
                claimed = self._claim_one()
                if claimed is None:
                    break
                sent += self._send(claimed)
        except SQLAlchemyError:  # the database is busy or gone: the rows wait for the next round
            log.exception("delivering outbound mail failed; will try again")
        return sent

    def sweep(self, session: Session, limit: int = 1000) -> int:
        """Queue customer notifications that no observer turned into mail (e.g. written by a
        runtime without this mailer); returns how many were queued."""
        handled = exists(select(OutboundMessage.id).where(OutboundMessage.notification_id == Notification.id))
        keys = session.scalars(select(Notification.business_key).where(
            Notification.recipient_type == "customer", Notification.business_key.is_not(None), ~handled)
            .distinct().limit(limit)).all()
        return sum(self.queue(session, key) for key in keys)

    def _claim_one(self) -> OutboundMessage | None:
        now = utcnow()
        with self.db.write_session() as session, session.begin():
            query = (select(OutboundMessage)
                     .where(OutboundMessage.status.in_(("pending", "sending")), OutboundMessage.next_attempt_at <= now)
                     .order_by(OutboundMessage.next_attempt_at).limit(1))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            row = session.scalars(query).first()
            if row is None:
                return None
            # A conditional update, so two senders never both claim it (SQLite has no SKIP LOCKED).
            result = session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == row.id, OutboundMessage.attempts == row.attempts,
                       OutboundMessage.status == row.status)
                .values(status="sending", attempts=row.attempts + 1, next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            session.expunge(row)
            row.attempts += 1
            return row

    def _send(self, row: OutboundMessage) -> int:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = formataddr(("", row.to_address))
        message["Subject"] = row.subject
        message["Message-ID"] = make_msgid(domain="redress.local")
        if row.reference:
            message["X-Redress-Reference"] = row.reference
        message["Content-Language"] = row.language
        message.set_content(row.body)
        try:
            self.smtp.send(message)
        except Exception as exc:  # noqa: BLE001 - any failure means "try again later"
            log.warning("sending mail %s to %s failed (attempt %d): %s", row.id, row.to_address, row.attempts, exc)
            self._finish(row.id, failed=str(exc)[:2000], attempts=row.attempts)
            return 0
        self._finish(row.id, body=_redact(row.body))
        return 1

    def _finish(self, message_id: int, failed: str | None = None, attempts: int = 0, body: str | None = None) -> None:
        now = utcnow()
        if failed is None:
            values = {"status": "sent", "sent_at": now, "last_error": None, "body": body}
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": failed}
        else:
            values = {"status": "pending", "last_error": failed,
                      "next_attempt_at": now + BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]}
        with self.db.write_session() as session, session.begin():
            session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id).values(**values))

    # -- direct messages (not from a process step) -------------------------------------

    def queue_link(self, session: Session, reference: str, to_address: str, language: str = "zh-CN") -> None:
        """Queue a fresh tracking link for a customer who lost theirs, in the caller's transaction;
        the caller runs `deliver_due` after its commit."""
        token = new_token()
        add_token(session, reference, token, language)
        complaint = complaint_by_reference(session, reference)
        values = {"reference": reference, "name": complaint.customer_name if complaint else "",
                  "link": self.link(reference, token)}
        subject, body = render("tracking_link", language, values, mail_templates.in_force(session),
                               _company(session))
        session.add(OutboundMessage(reference=reference, template="tracking_link", language=language,
                                    to_address=to_address, subject=subject, body=body,
                                    status="pending" if self.smtp is not None else "outbox"))


def _email_address(value: str | None) -> str | None:
    if not value or "@" not in value:
        return None
    address = parseaddr(value)[1]
    return address if address and "@" in address and len(address) <= 200 else None


def _redact(body: str) -> str:
    """Once delivered, the stored copy keeps no usable tracking link (only its hash is kept)."""
    return _LINK.sub(r"\1…", body)


def install(runtime, smtp_url: str | None = None, sender: str | None = None,
            link_base: Callable[[], str] | None = None) -> Mailer:
    """Attach a mailer to the runtime once; returns it (also as `runtime.mailer`)."""
    existing = getattr(runtime, "mailer", None)
    if isinstance(existing, Mailer):
        return existing
    mailer = Mailer(runtime.db, smtp_url or None, sender, link_base)
    runtime.mailer = mailer
    runtime.observers.append(mailer)
    return mailer


def outbox(session: Session, status: str | None = None, limit: int = 100) -> list[OutboundMessage]:
    """The latest outbound messages, for administrators."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboundMessage.status == status)
    return list(session.scalars(query))


# -- operators: resend and discard -------------------------------------------------------------

RESENDABLE = ("failed", "sent", "discarded")
DISCARDABLE = ("outbox", "pending", "failed")


def message(session: Session, actor, message_id: int) -> OutboundMessage:
    """One message with its body, attempts and last error (administrators and supervisors)."""
    from processes.engine.errors import N_, NotFound
    from processes.engine.operations import require_operator

    require_operator(actor)
    row = session.get(OutboundMessage, message_id)
    if row is None:
        raise NotFound(N_("There is no such message."))
    return row


def resend(session: Session, actor, message_id: int, smtp_configured: bool) -> OutboundMessage:
    """Queue the message again, as it was written; the sender picks it up after commit."""
    from processes.engine import audit
    from processes.engine.errors import N_, Conflict

    row = message(session, actor, message_id)
    if not smtp_configured:
        raise Conflict(N_("No mail server is configured (REDRESS_SMTP_URL): the message stays in the outbox to be "
                          "forwarded by hand."))
    if row.status not in RESENDABLE:
        raise Conflict(N_("A message that is %(status)s cannot be sent again."), status=row.status)
    was = row.status
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, utcnow(), None
    audit.append(session, actor.username, "mail_resent", business_key=row.reference,
                 detail={"message": row.id, "was": was})
    return row


def discard(session: Session, actor, message_id: int, reason: str) -> OutboundMessage:
    """Never send this message (a wrong address, a duplicate); the reason is audited."""
    from processes.engine import audit
    from processes.engine.errors import N_, Conflict
    from processes.engine.operations import _reason

    row = message(session, actor, message_id)
    reason = _reason(reason)
    if row.status not in DISCARDABLE:
        raise Conflict(N_("A message that is %(status)s cannot be discarded."), status=row.status)
    was = row.status
    row.status = "discarded"
    audit.append(session, actor.username, "mail_discarded", business_key=row.reference,
                 detail={"message": row.id, "was": was, "reason": reason})
    return row
