"""Indexes the staff workspace's queries need (tables are defined in processes/models.py).

Declared here so Alembic's autogenerate knows them; created by migration
workspace01. Each one lets an inbox filter read its rows in due order straight
off an index, and the complaint search find a customer by name.
"""

from __future__ import annotations

from sqlalchemy import Index

from processes.complaints.records import Complaint
from processes.engine.models import HumanTask

INBOX_FILTER_INDEXES = (
    Index("ix_human_open_category", HumanTask.status, HumanTask.category, HumanTask.due_at),
    # Severity is sorted through the priority, so its index may hold the other filters' columns:
    # a count of severity with a department, an SLA state or a level reads no table row (0025).
    Index("ix_human_open_severity", HumanTask.status, HumanTask.severity, HumanTask.due_at, HumanTask.created_at,
          HumanTask.department, HumanTask.assignee, HumanTask.escalation_level, HumanTask.category,
          HumanTask.channel),
    Index("ix_human_open_channel", HumanTask.status, HumanTask.channel, HumanTask.due_at),
    # Covers the text filter: words are matched on the index entries, in due order.
    Index("ix_human_open_due_text", HumanTask.status, HumanTask.due_at, HumanTask.business_key, HumanTask.summary),
)
# "Contains these words" (ILIKE '%...%'): trigram GIN indexes on PostgreSQL. SQLite has no
# such index; there the migration makes plain ones of the same names (the inbox's word filter
# reads ix_human_open_due_text instead).
TRIGRAM_INDEXES = (
    # Without a pending list (fastupdate), which every search would read in full (migration 0025).
    Index("ix_human_open_summary_trgm", HumanTask.summary, postgresql_using="gin",
          postgresql_ops={"summary": "gin_trgm_ops"}, postgresql_with={"fastupdate": "off"}),
    Index("ix_human_open_key_trgm", HumanTask.business_key, postgresql_using="gin",
          postgresql_ops={"business_key": "gin_trgm_ops"}, postgresql_with={"fastupdate": "off"}),
    Index("ix_complaint_subject_trgm", Complaint.subject, postgresql_using="gin",
          postgresql_ops={"subject": "gin_trgm_ops"}),
)
COMPLAINT_SEARCH_INDEXES = (
    Index("ix_complaint_customer_name", Complaint.customer_name),
    Index("ix_complaint_received", Complaint.received_at),
)
