"""The SLA policy of one complaint: the profile of the settings version it started with.

The profile is a reviewed process setting (`sla_profile`); a complaint keeps the one it started
with, so its deadlines do not move when a later version chooses another. Its analytics fact row
records the profile at the start (analytics_rollup.observe), which is what pages and e-mails read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import object_session

from processes.complaints.analytics_models import ComplaintFact
from processes.complaints.calendar import BusinessCalendar
from processes.complaints.records import Complaint
from processes.complaints.sla import SlaPolicy, load_policy


def complaint_policy(complaint: Complaint) -> SlaPolicy:
    session = object_session(complaint)
    profile = None
    if session is not None:
        profile = session.scalar(select(ComplaintFact.sla_profile).where(ComplaintFact.reference == complaint.reference))
    return load_policy(profile=profile) if profile else load_policy()


def resolve_due(complaint: Complaint) -> datetime:
    """When the complaint must be resolved under its own profile."""
    return complaint_policy(complaint).deadline("resolve", complaint.severity or "medium", complaint.received_at)


def calendar_zone(complaint: Complaint | None):
    """The time zone of the complaint's business calendar, in which its letters name days: deadlines
    are kept in UTC, and late evening UTC is already the next day in Shanghai."""
    policy = complaint_policy(complaint) if complaint is not None else load_policy()
    return (policy.calendar or BusinessCalendar.for_country(policy.country)).tzinfo
