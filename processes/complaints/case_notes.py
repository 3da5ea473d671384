"""Internal notes on a complaint file: for colleagues only, never shown to the customer.

A note may @mention colleagues by user name; each one gets an in-app notification. Bad input is
refused with an error per field and nothing is stored.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.records import CaseNote, Complaint, Notification
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, NotFound, ValidationFailed
from processes.engine.inputsafe import value_problems
from processes.engine.models import User

MAX_NOTE = 2000
MAX_MENTIONS = 10
# @name: the user names accounts use (letters, digits, . _ -).
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9_.-]{1,80})")


def mentioned(body: str) -> list[str]:
    """The user names @mentioned in `body`, once each, in order ("@wang." ends before the full stop)."""
    names: list[str] = []
    for raw in MENTION.findall(body):
        name = raw.rstrip(".-")
        if name and name not in names:
            names.append(name)
    return names


def _refuse(message: str, **params) -> ValidationFailed:
    """An error beside the note's box; the message template carries its parameters."""
    return ValidationFailed({"body": message}, message, **params)


def add_note(session: Session, reference: str, who: Actor, body: str) -> CaseNote:
    """Store a note and notify the colleagues it mentions (in the caller's transaction)."""
    if session.scalar(select(Complaint.id).where(Complaint.reference == reference)) is None:
        raise NotFound(N_("There is no complaint %(reference)s."), reference=reference)
    body = (body or "").strip()
    if not body:
        raise _refuse(N_("Write the note first."))
    if len(body) > MAX_NOTE:
        raise _refuse(N_("A note holds at most %(max)s characters; this one has %(n)s."), max=MAX_NOTE, n=len(body))
    if value_problems({"body": body}):
        raise _refuse(N_("This text contains characters that cannot be stored."))
    names = mentioned(body)
    if len(names) > MAX_MENTIONS:
        raise _refuse(N_("Mention at most %(max)s colleagues in one note."), max=MAX_MENTIONS)
    known = set(session.scalars(select(User.username).where(User.username.in_(names), User.active.is_(True))))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise _refuse(N_("No active colleague is called @%(name)s."), name=unknown[0])
    note = CaseNote(reference=reference, author=who.username, body=body, mentions=names)
    session.add(note)
    session.flush()
    excerpt = body if len(body) <= 120 else body[:119] + "…"
    for name in names:
        if name != who.username:
            session.add(Notification(recipient_type="user", recipient=name, business_key=reference,
                                     template="mention", subject=excerpt,
                                     payload={"by": who.username, "note_id": note.id}))
    audit.append(session, who.username, "note_added", business_key=reference,
                 detail={"note_id": note.id, "mentions": names})
    return note


def notes_of(session: Session, reference: str, limit: int = 200) -> list[CaseNote]:
    return list(session.scalars(select(CaseNote).where(CaseNote.reference == reference)
                                .order_by(CaseNote.created_at, CaseNote.id).limit(limit)))
