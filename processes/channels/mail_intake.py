"""Complaints by e-mail: one RFC 822 message, or an mbox of them, parsed with the stdlib `email`.

A message becomes a complaint (channel "email") with the sender as the customer, the subject,
the plain-text body as the description and its attachments (type and size checked). A reply
whose subject carries the reference of an existing complaint (TS-20261122-7K3QX) is attached
to that complaint instead: kept as an inbound message, its files stored, the handling
department notified and the audit log told.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from processes.channels import mail_limits
from processes.channels.portal_models import (
    Attachment,
    InboundMessage,
    IncomingFile,
    IntakeExtras,
    MailReceipt,
    check_files,
    intake_extras,
)
from processes.complaints.records import Complaint, Notification
from processes.complaints.registration import intake_errors, register
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import RuntimeProblem
from processes.engine.inputsafe import value_problems

log = logging.getLogger(__name__)
MAIL_ACTOR = Actor("mail-intake", "customer_service", "agent")
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
REFERENCE = re.compile(r"\bTS-\d{8}-[2-9A-HJ-NP-Z]{5}\b")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class ParsedMail:
    sender_name: str
    sender_email: str | None
    subject: str
    body: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    message_id: str | None = None

    @property
    def language(self) -> str:
        return "zh-CN" if _CJK.search(self.subject + self.body) else "en"


@dataclass
class IngestResult:
    outcome: str  # registered, attached, duplicate (taken in before), rejected
    reference: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)


# -- parsing ---------------------------------------------------------------------------


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox (mboxo/mboxrd "From " separators); one message if it is not one."""
    if not data.startswith(b"From "):
        return [data] if data.strip() else []
    messages, current = [], []
    previous_blank = True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and previous_blank:
            if current:
                messages.append(b"".join(current))
            current = []
        else:
            # ">From " at the start of a body line was escaped by the writer of the mbox.
            current.append(line[1:] if re.match(rb"^>+From ", line) else line)
        previous_blank = line.strip() == b""
    if current:
        messages.append(b"".join(current))
    return [m for m in messages if m.strip()]


def parse_message(raw: bytes) -> ParsedMail:
    """The parts of a message that matter here; MailRefused when it breaks a limit (mail_limits)."""
    message: EmailMessage = mail_limits.parse(raw)
    try:
        addresses = getaddresses([str(message.get("From", ""))])
    except Exception:  # noqa: BLE001 - a mangled header is as good as no header
        addresses = []
    name, address = addresses[0] if addresses else ("", "")
    address = address.strip() if address and "@" in address and len(address) <= 200 else None
    subject = _header(message, "Subject")
    body, files = _walk(message)
    return ParsedMail(sender_name=name.strip()[:200], sender_email=address, subject=subject,
                      body=body.strip(), files=files, message_id=_header(message, "Message-ID")[:300] or None)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name, "")
    except Exception:  # noqa: BLE001 - undecodable header
        return ""
    return " ".join(str(value).split())


def _walk(message: EmailMessage) -> tuple[str, list[tuple[str, bytes]]]:
    plain, html, files = [], [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        try:
            if filename or disposition == "attachment":
                files.append((filename or "attachment", part.get_payload(decode=True) or b""))
            elif part.get_content_type() == "text/plain":
                plain.append(_text(part))
            elif part.get_content_type() == "text/html":
                html.append(_html_to_text(_text(part)))
        except Exception:  # one broken part does not lose the rest of the message
            log.warning("skipped an unreadable part of an e-mail", exc_info=True)
    return ("\n\n".join(plain) if plain else "\n\n".join(html)), files


def _text(part) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


class _TextOnly(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def _reply_text(body: str) -> str:
    """The new part of a reply: quoted lines (">") and the quoted original are dropped."""
    lines = []
    for line in body.splitlines():
        if re.match(r"^\s*(-----\s*Original Message|-----\s*原始邮件|On .+ wrote:$|在.+写道[::]$)", line):
            break
        if not line.startswith(">"):
            lines.append(line)
    return "\n".join(lines).strip() or body


# -- turning a message into a complaint -------------------------------------------------


def payload_for(mail: ParsedMail) -> dict:
    name = mail.sender_name or (mail.sender_email.split("@")[0] if mail.sender_email else "")
    subject = mail.subject.strip() or ("(无主题)" if mail.language == "zh-CN" else "(no subject)")
    description = mail.body or subject
    return {
        "channel": "email",
        "customer": {"name": name[:200], "email": mail.sender_email},
        "subject": subject[:300],
        "description": description[:20000],
    }


def ingest(runtime, raw: bytes, actor: Actor = MAIL_ACTOR) -> IngestResult:
    """Register one raw message as a complaint, or attach it to the complaint it replies to.

    A message taken in before (same Message-ID, or same bytes) is a "duplicate" and changes nothing."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return IngestResult("rejected", errors={"message": f"The message is larger than "
                                                           f"{MAX_MESSAGE_BYTES // (1024 * 1024)} MB."})
    try:
        mail = parse_message(raw)
    except mail_limits.MailRefused as exc:
        return IngestResult("rejected", errors={"message": str(exc)})
    if mail.sender_email is None:
        return IngestResult("rejected", errors={"from": "The message has no usable sender address."})
    key = message_key(mail, raw)
    taken = _receipt(runtime, key)
    if taken is not None:
        return IngestResult("duplicate", taken)
    problems = value_problems({"from": mail.sender_email, "subject": mail.subject, "body": mail.body})
    if problems:  # a NUL in the text: PostgreSQL cannot store it, SQLite must not either
        return IngestResult("rejected", errors=problems)
    files, skipped = check_files(mail.files, mail.language)
    try:
        reference = _existing_reference(runtime, mail.subject)
        if reference is not None:
            _attach(runtime, reference, mail, files, actor, key)
            return IngestResult("attached", reference, skipped_files=skipped)
        payload = payload_for(mail)
        errors = intake_errors(payload)
        if errors:
            return IngestResult("rejected", errors=errors)
        with intake_extras(IntakeExtras(channel="email", language=mail.language, files=files, message_key=key)):
            reference = register(runtime, payload, actor)
    except (IntegrityError, RuntimeProblem):
        # Another reader took the same message in at the same moment: its receipt is there now.
        taken = _receipt(runtime, key)
        if taken is None:
            raise
        return IngestResult("duplicate", taken)
    return IngestResult("registered", reference, skipped_files=skipped)


def ingest_many(runtime, data: bytes, actor: Actor = MAIL_ACTOR) -> list[IngestResult]:
    """Each message of an mbox in turn; one that cannot be taken in is reported and skipped."""
    results = []
    for raw in split_mbox(data):
        try:
            results.append(ingest(runtime, raw, actor))
        except Exception as exc:  # one bad message must not stop the rest
            log.exception("an e-mail could not be taken in")
            results.append(IngestResult("rejected", errors={"message": f"{type(exc).__name__}: {exc}"[:300]}))
    return results


def message_key(mail: ParsedMail, raw: bytes) -> str:
    if mail.message_id and not value_problems(mail.message_id):
        return mail.message_id.strip()[:300]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _receipt(runtime, key: str) -> str | None:
    with runtime.db.session() as session:
        return session.scalar(select(MailReceipt.reference).where(MailReceipt.message_key == key))


def _existing_reference(runtime, subject: str) -> str | None:
    candidates = REFERENCE.findall(subject or "")
    if not candidates:
        return None
    with runtime.db.session() as session:
        for reference in candidates:
            if session.scalar(select(Complaint.id).where(Complaint.reference == reference)) is not None:
                return reference
    return None


def _attach(runtime, reference: str, mail: ParsedMail, files: list[IncomingFile], actor: Actor,
            key: str) -> None:
    with runtime.db.write_session() as session, session.begin():
        session.add(MailReceipt(message_key=key, reference=reference, outcome="attached"))
        complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
        body = _reply_text(mail.body)
        message = InboundMessage(reference=reference, channel="email", sender=mail.sender_email or "",
                                 subject=mail.subject[:300], body=body[:20000], message_id=mail.message_id)
        session.add(message)
        for f in files:
            session.add(Attachment(reference=reference, filename=f.filename, content_type=f.content_type,
                                   size=len(f.data), sha256=_sha(f.data), data=f.data, channel="email"))
        sender_matches = bool(complaint.customer_email) and \
            complaint.customer_email.strip().lower() == (mail.sender_email or "").lower()
        # The handling department sees the reply in its notifications; staff act on it.
        session.add(Notification(recipient_type="department", recipient=complaint.department or "customer_service",
                                 business_key=reference, template="customer_email",
                                 subject=f"客户来信 Customer e-mail: {reference}", body=body[:5000],
                                 payload={"reference": reference, "sender_matches": sender_matches,
                                          "attachments": [f.filename for f in files]}))
        session.flush()
        audit.append(session, actor.username, "customer_email_received", business_key=reference,
                     instance_id=complaint.instance_id,
                     detail={"inbound_message_id": message.id, "sender_matches": sender_matches,
                             "attachments": [f.filename for f in files]})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
