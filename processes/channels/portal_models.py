"""What the customer-facing channels keep: tracking tokens, attachments, in- and outbound mail,
and the hits of the public rate limiter.

Also the few helpers that belong to these rows: minting and checking tracking tokens (only
their sha256 is stored), the database-backed rate limiter, and the "intake extras" a channel
hands to the transaction that registers a complaint (see `intake_extras`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from processes.complaints.customer_answers import CUSTOMER_MESSAGES
from processes.engine import inputsafe
from processes.engine.db import Base
from processes.engine.models import TZDateTime, utcnow

LANGUAGES = ("zh-CN", "en")
TOKEN_DAYS = 400  # a tracking link outlives the complaint's follow-up by a comfortable margin


class TrackingToken(Base):
    """A private tracking link of one complaint; the token itself is never stored."""

    __tablename__ = "tracking_tokens"
    __table_args__ = (Index("ix_tracking_reference", "reference", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The language the customer used; their e-mails are written in it.
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class Attachment(Base):
    """A file a customer sent with a complaint, checked for type and size before it was stored."""

    __tablename__ = "complaint_attachments"
    __table_args__ = (Index("ix_attachment_reference", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # web, email, api
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class OutboundMessage(Base):
    """An e-mail to a customer: written in the step's transaction, sent after it commits.

    status: pending (to send), sending (claimed by a sender), sent, failed (gave up after
    retries), outbox (no SMTP server configured: kept here for an administrator)."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_due", "status", "next_attempt_at"),
        Index("ix_outbound_reference", "reference", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The in-app notification this e-mail was made from (notifications.id), if any.
    notification_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    reference: Mapped[str | None] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class InboundMessage(Base):
    """A customer's e-mail about an existing complaint (a reply carrying its reference)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_reference", "reference", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20), default="email")
    sender: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class MailReceipt(Base):
    """An e-mail already taken in (registered or attached), by its Message-ID, or by the sha256
    of its bytes when it has none: reading the same mbox twice registers nothing twice."""

    __tablename__ = "mail_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(300), unique=True)
    reference: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class RateLimitHit(Base):
    """One request counted against a bucket ("portal-submit:203.0.113.7")."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


# -- tracking tokens ----------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


# A code an agent reads out on the phone: no 0/O, 1/I/L; 10 characters are about 50 bits, and the
# page that takes it is rate-limited per address.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def new_tracking_code() -> str:
    """A tracking code such as K7QX3-MPA9R, stored (hashed) like a tracking link's token."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normal_tracking_code(text: str) -> str | None:
    """What a customer typed, in the stored form ("k7qx3 mpa9r" -> "K7QX3-MPA9R"); None if it cannot be one."""
    raw = "".join(ch for ch in (text or "")[:40].upper() if ch.isalnum())
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"


def add_token(session: Session, reference: str, token: str, language: str = "zh-CN",
              days: int = TOKEN_DAYS) -> TrackingToken:
    row = TrackingToken(reference=reference, token_sha256=token_hash(token),
                        language=language if language in LANGUAGES else "zh-CN",
                        expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    return row


def token_matches(session: Session, reference: str, token: str, now: datetime | None = None) -> bool:
    """Whether `token` opens `reference` now. Wrong, expired, revoked and unknown all say no."""
    if not token or len(token) > 200 or not reference or len(reference) > 40:
        return False
    row = session.scalar(select(TrackingToken).where(TrackingToken.token_sha256 == token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= (now or utcnow()):
        return False
    return hmac.compare_digest(row.reference.encode(), reference.encode())


def customer_language(session: Session, reference: str) -> str:
    """The language of the customer's latest tracking link, else Chinese."""
    language = session.scalar(select(TrackingToken.language).where(TrackingToken.reference == reference)
                              .order_by(TrackingToken.created_at.desc(), TrackingToken.id.desc()).limit(1))
    return language or "zh-CN"


# -- rate limiting -----------------------------------------------------------------


def rate_limited(session: Session, bucket: str, limit: int, window: timedelta,
                 now: datetime | None = None) -> bool:
    """Count one hit on `bucket`; True when it is over `limit` hits within `window`.

    A sliding window kept in the database, so it holds across processes and restarts; old
    hits of the bucket are pruned as it goes. The caller commits."""
    now = now or utcnow()
    since = now - window
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.at < since))
    count = session.scalar(select(func.count()).select_from(RateLimitHit)
                           .where(RateLimitHit.bucket == bucket, RateLimitHit.at >= since)) or 0
    if count >= limit:
        return True
    session.add(RateLimitHit(bucket=bucket[:200], at=now))
    return False


def over_limit(session: Session, bucket: str, limit: int, window: timedelta, now: datetime | None = None) -> bool:
    """Whether `bucket` already has `limit` hits within `window`, counting nothing; pair with
    `count_hit` when only what succeeded should count."""
    now = now or utcnow()
    count = session.scalar(select(func.count()).select_from(RateLimitHit)
                           .where(RateLimitHit.bucket == bucket, RateLimitHit.at >= now - window)) or 0
    return count >= limit


def count_hit(session: Session, bucket: str, window: timedelta, now: datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.at < now - window))
    session.add(RateLimitHit(bucket=bucket[:200], at=now))


# -- what a channel hands to the registering transaction ----------------------------


@dataclass
class IncomingFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class IntakeExtras:
    """Stored in the same transaction as the complaint it comes with (nothing half-stored).

    `processes.complaints.registration.register` knows nothing of tokens and files; a channel sets these
    around its call, and the outbound-mail observer (which runs inside that transaction)
    stores them for the new complaint."""

    channel: str
    language: str = "zh-CN"
    token: str | None = None
    code: str | None = None  # a tracking code read out on the phone (opens the tracking page like a link)
    files: list[IncomingFile] = field(default_factory=list)
    message_key: str | None = None  # an e-mail's Message-ID (see MailReceipt)
    reference: str | None = None  # set once stored


_pending: ContextVar[IntakeExtras | None] = ContextVar("redress_intake_extras", default=None)


@contextmanager
def intake_extras(extras: IntakeExtras) -> Iterator[IntakeExtras]:
    marker = _pending.set(extras)
    try:
        yield extras
    finally:
        _pending.reset(marker)


def pending_extras() -> IntakeExtras | None:
    return _pending.get()


def store_extras(session: Session, reference: str, extras: IntakeExtras) -> None:
    if extras.token:
        add_token(session, reference, extras.token, extras.language)
    if extras.code:
        add_token(session, reference, extras.code, extras.language)
    for f in extras.files:
        session.add(Attachment(reference=reference, filename=f.filename[:200], content_type=f.content_type,
                               size=len(f.data), sha256=hashlib.sha256(f.data).hexdigest(), data=f.data,
                               channel=extras.channel))
    if extras.message_key:
        session.add(MailReceipt(message_key=extras.message_key, reference=reference, outcome="registered"))
    extras.reference = reference


# -- attachments: checked before anything is stored ---------------------------------

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
# Recognised by their first bytes, never by the name or the type the sender claims.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"GIF87a", "image/gif", (".gif",)),
    (b"GIF89a", "image/gif", (".gif",)),
    (b"%PDF-", "application/pdf", (".pdf",)),
)
FILE_ERRORS = {
    "too_many": {"zh-CN": "最多可上传 {n} 个附件。", "en": "At most {n} attachments."},
    "too_big": {"zh-CN": "附件“{name}”超过 {mb} MB。", "en": "“{name}” is larger than {mb} MB."},
    "empty": {"zh-CN": "附件“{name}”是空文件。", "en": "“{name}” is empty."},
    "type": {"zh-CN": "附件“{name}”的类型不支持(支持 JPG、PNG、GIF、PDF、TXT)。",
             "en": "“{name}” is not a supported type (JPG, PNG, GIF, PDF, TXT)."},
}


def sniff_type(filename: str, data: bytes) -> str | None:
    """The content type of an allowed file whose bytes match its extension, else None."""
    lower = filename.lower()
    for magic, content_type, extensions in _MAGIC:
        if data.startswith(magic) and lower.endswith(extensions):
            return content_type
    if lower.endswith(".txt") and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def safe_filename(name: str) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip().strip(".")
    return name[-200:] or "attachment"


def check_files(files: list[tuple[str, bytes]], language: str = "zh-CN") -> tuple[list[IncomingFile], list[str]]:
    """Accepted files and the problems with the others; nothing is stored here."""
    def say(key: str, **kw) -> str:
        return FILE_ERRORS[key][language if language in LANGUAGES else "zh-CN"].format(**kw)

    accepted: list[IncomingFile] = []
    problems: list[str] = []
    if len(files) > MAX_FILES:
        problems.append(say("too_many", n=MAX_FILES))
    for raw_name, data in files[:MAX_FILES]:
        name = safe_filename(raw_name)
        if len(data) > MAX_FILE_BYTES:
            problems.append(say("too_big", name=name, mb=MAX_FILE_BYTES // (1024 * 1024)))
        elif not data:
            problems.append(say("empty", name=name))
        elif (content_type := sniff_type(name, data)) is None:
            problems.append(say("type", name=name))
        else:
            accepted.append(IncomingFile(name, content_type, data))
    return accepted, problems


# -- the customer's answers (message payloads) ----------------------------------------

MESSAGES = CUSTOMER_MESSAGES
DETAIL_FIELDS = {  # field: max length (customer_details may carry any of these)
    "customer_name": 200, "customer_phone": 40, "customer_email": 200, "customer_address": 500,
    "subject": 300, "description": 20000, "remedy_sought": 5000, "product": 200, "order_number": 100,
    "occurred_at": 40, "occurred_where": 300,
}
_PHONE = re.compile(r"^\+?[0-9 ()-]{5,20}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_TEXT_LIMIT = 5000
ANSWER_ERRORS = {
    "object": {"zh-CN": "内容必须是一个对象。", "en": "The data must be a JSON object."},
    "unknown": {"zh-CN": "不认识的字段。", "en": "Unknown field."},
    "text": {"zh-CN": "请填写文字(不超过 {n} 字)。", "en": "Enter text of at most {n} characters."},
    "nothing": {"zh-CN": "请至少补充一项信息。", "en": "Fill in at least one detail."},
    "phone": {"zh-CN": "电话号码格式不正确。", "en": "This is not a valid phone number."},
    "email": {"zh-CN": "电子邮箱格式不正确。", "en": "This is not a valid e-mail address."},
    "date": {"zh-CN": "日期格式应为 2025-03-01 或 2025-03-01T14:30。", "en": "Use a date like 2025-03-01 or 2025-03-01T14:30."},
    "date_range": {"zh-CN": "请填写 1900 年至今之间的日期(不能晚于明天)。",
                   "en": "Enter a date between 1900 and today (at the latest tomorrow)."},
    "invalid": {"zh-CN": "内容含有无法保存的字符或结构,请检查后重新输入。",
                "en": "The value holds characters or a structure that cannot be stored; check it and enter it again."},
    "decision": {"zh-CN": "请选择接受、拒绝或提出您的方案。", "en": "Choose accept, reject or counter-proposal."},
    "counter": {"zh-CN": "请写下您的方案。", "en": "Describe your counter-proposal."},
    "score": {"zh-CN": "请选择 1 到 5 分。", "en": "Choose a score from 1 to 5."},
    "resolved": {"zh-CN": "请选择问题是否已解决。", "en": "Say whether the problem is resolved."},
}


def answer_errors(name: str, data, language: str = "en") -> dict[str, str]:
    """Field errors of a customer's message payload; empty when it may be correlated."""
    lang = language if language in LANGUAGES else "en"

    def say(key: str, **kw) -> str:
        return ANSWER_ERRORS[key][lang].format(**kw)

    if not isinstance(data, dict):
        return {"__all__": say("object")}
    errors: dict[str, str] = {path.split(".")[0]: say("invalid") for path in inputsafe.value_problems(data)}
    if errors:
        return errors
    allowed = {"customer_details": set(DETAIL_FIELDS),
               "customer_response": {"customer_decision", "comment", "counter_proposal"},
               "survey_answer": {"satisfaction_score", "resolved", "comment"}}[name]
    for key in data:
        if key not in allowed:
            errors[str(key)[:100]] = say("unknown")

    def text(key: str, limit: int, required: bool = False) -> None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                errors[key] = say("text", n=limit)
            return
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            errors[key] = say("text", n=limit)

    if name == "customer_details":
        for key, limit in DETAIL_FIELDS.items():
            text(key, limit)
        if not any(isinstance(data.get(k), str) and data[k].strip() for k in DETAIL_FIELDS):
            errors.setdefault("__all__", say("nothing"))
        phone, email, when = data.get("customer_phone"), data.get("customer_email"), data.get("occurred_at")
        if isinstance(phone, str) and phone and "customer_phone" not in errors and not _PHONE.match(phone):
            errors["customer_phone"] = say("phone")
        if isinstance(email, str) and email and "customer_email" not in errors and not _EMAIL.match(email):
            errors["customer_email"] = say("email")
        if isinstance(when, str) and when and "occurred_at" not in errors:
            parsed = _iso_datetime(when)
            if parsed is None:
                errors["occurred_at"] = say("date")
            elif inputsafe.date_problem(parsed, not_future=True):
                errors["occurred_at"] = say("date_range")
    elif name == "customer_response":
        if data.get("customer_decision") not in ("accept", "reject", "counter"):
            errors["customer_decision"] = say("decision")
        text("comment", _TEXT_LIMIT)
        text("counter_proposal", _TEXT_LIMIT, required=data.get("customer_decision") == "counter")
        if "counter_proposal" in errors and data.get("customer_decision") == "counter" \
                and not data.get("counter_proposal"):
            errors["counter_proposal"] = say("counter")
    elif name == "survey_answer":
        score = data.get("satisfaction_score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            errors["satisfaction_score"] = say("score")
        if not isinstance(data.get("resolved"), bool):
            errors["resolved"] = say("resolved")
        text("comment", _TEXT_LIMIT)
    return errors


def clean_answer(name: str, data: dict) -> dict:
    """The payload as the process receives it: stripped text, empty fields left out,
    a date-only `occurred_at` as an ISO date-time."""
    out = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        out[key] = value
    if name == "customer_details" and "occurred_at" in out:
        out["occurred_at"] = _iso_datetime(out["occurred_at"]).isoformat()
    return out


def _iso_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)
