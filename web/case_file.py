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
        from processes.complaints.sla import load_policy

        return load_policy().deadline("resolve", complaint.severity or "medium", complaint.received_at)
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
