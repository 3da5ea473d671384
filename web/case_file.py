"""What the complaint file and every task page show about a case: the summary (built by the
complaint domain) with its clocks, ready for the `_case_summary.html` partial."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from processes.complaints.case_summary import CaseSummary, summarize
from processes.complaints.records import Complaint
from processes.engine.actors import Actor
from processes.engine.inbox import sla_state
from web.time_words import countdown

log = logging.getLogger(__name__)


def resolve_due(complaint: Complaint) -> datetime | None:
    """When the complaint must be resolved under the SLA policy (None when the policy cannot say)."""
    try:
        from processes.complaints.complaint_sla import resolve_due as complaint_resolve_due

        return complaint_resolve_due(complaint)
    except Exception:
        log.warning("no resolve deadline for %s", complaint.reference, exc_info=True)
        return None


def case_summary(session, complaint: Complaint, who: Actor, history: list | None = None,
                 facts: dict | None = None) -> CaseSummary:
    return summarize(session, complaint, who, history=history, facts=facts, resolve_due=resolve_due(complaint))


def clock_rows(summary: CaseSummary, now: datetime | None = None) -> list[dict]:
    """Each open task's deadline with its state (on time, at risk, breached) and time left."""
    now = now or datetime.now(UTC)
    return [{"clock": c, "state": sla_state(c, now), "left": countdown(c.due_at, now)} for c in summary.clocks]


# -- attachments -----------------------------------------------------------------------

PREVIEWABLE = ("image/jpeg", "image/png", "image/gif", "application/pdf")
# A preview is its own document: no scripts, no forms, no plugins' reach into the app, never HTML.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; object-src 'self'"


def preview_type(filename: str, head: bytes) -> str | None:
    """The content type a file is previewed with, judged by its first bytes and its name; None when
    it may only be downloaded (HTML, scripts, office files, text pretending to be an image...)."""
    from processes.channels.portal_models import sniff_type

    found = sniff_type(filename, head)
    return found if found in PREVIEWABLE else None


def staff_uploaders(history: list) -> dict[str, tuple[str, datetime]]:
    """Stored attachment name -> (who, when): recorded when the file was stored (`attachment_added`),
    else the task completion that brought it."""
    found: dict[str, tuple[str, datetime]] = {}
    for entry in history:
        detail = entry.detail or {}
        if entry.action == "attachment_added" and isinstance(detail.get("file"), str):
            found.setdefault(detail["file"], (entry.actor, entry.at))
        if entry.action != "task_completed":
            continue
        for value in (detail.get("data") or {}).values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and len(item) > 13 and item not in found:
                    found[item] = (entry.actor, entry.at)
    return found
