"""The reviewed configuration in force: the highest approved version of each kind.

Kinds: "settings" (the process settings, see settings.py), "calendar" (company closures, extra
working days and working hours, see company_calendar.py) and "mail_templates" (the customer
e-mails, see channels/mail_templates.py). Versions are written only by the review
(governance/config_review.py), so what is in force is always what a reviewer approved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.records import ConfigVersion

KINDS = ("settings", "calendar", "mail_templates")


def current(session: Session, kind: str) -> ConfigVersion | None:
    return session.scalar(select(ConfigVersion).where(ConfigVersion.kind == kind)
                          .order_by(ConfigVersion.version.desc()).limit(1))


def get(session: Session, kind: str, version: int) -> ConfigVersion | None:
    return session.scalar(select(ConfigVersion).where(ConfigVersion.kind == kind, ConfigVersion.version == version))


def history(session: Session, kind: str, limit: int = 50) -> list[ConfigVersion]:
    return list(session.scalars(select(ConfigVersion).where(ConfigVersion.kind == kind)
                                .order_by(ConfigVersion.version.desc()).limit(limit)))


def in_force(session: Session, kind: str) -> tuple[int | None, dict[str, Any]]:
    """(version, values) of the kind now; (None, {}) while only the shipped defaults apply."""
    row = current(session, kind)
    return (row.version, dict(row.values)) if row is not None else (None, {})
