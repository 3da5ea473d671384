"""Tables of the process designer: definition drafts, their reviews, and migration batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from processes.engine.db import Base
from processes.engine.models import TZDateTime, utcnow

DRAFT_STATUSES = ("draft", "submitted", "approved", "rejected")


class DefinitionDraft(Base):
    """BPMN, DMN and form files edited together until a reviewer approves them.

    `version` is the optimistic lock: a save names the version it started from,
    so two designers editing the same draft get a conflict, not a lost update."""

    __tablename__ = "definition_drafts"
    __table_args__ = (Index("ix_draft_status_updated", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    # The top-level process the files define (known once they parse).
    process_key: Mapped[str | None] = mapped_column(String(100), index=True)
    # {path: text} like ProcessDefinition.files.
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(80))
    # Everyone who saved it: none of them may approve it (four eyes).
    editors: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    change_note: Mapped[str] = mapped_column(Text, default="")
    # The validation report of the last save: {"errors": n, "warnings": n, "findings": [...]}.
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    # The deployed version this draft was copied from, and the one its approval deployed.
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"))
    deployed_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(TZDateTime())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form


class DraftReview(Base):
    """A compliance reviewer's decision on a submitted draft (four eyes: never its author)."""

    __tablename__ = "draft_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("definition_drafts.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(80))
    # approved or rejected
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    # What the reviewer saw: the version compared against and the change note.
    against_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"))
    deployed_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    decided_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ConfigDraft(Base):
    """A proposed change of a reviewed configuration (settings, calendar, e-mail templates):
    its author's note, the version it was based on, and the compliance reviewer's decision."""

    __tablename__ = "config_drafts"
    __table_args__ = (Index("ix_config_draft_kind_status", "kind", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    values: Mapped[dict] = mapped_column(JSON)
    # The version in force when the draft was made (None: the shipped defaults).
    base_version: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    # submitted, approved, rejected, withdrawn
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    # The scenario suite run with the draft's values: [{id, passed, problems}].
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    reviewer: Mapped[str | None] = mapped_column(String(80))
    review_comment: Mapped[str] = mapped_column(Text, default="")
    approved_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class MigrationBatch(Base):
    """Instances moved from one version to another in one go; undone as a whole."""

    __tablename__ = "migration_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    actor: Mapped[str] = mapped_column(String(80))
    # {"moved": [{instance_id, business_key, from_definition_id}], "refused": [{instance_id, business_key, reason}]}
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(80))
    undo_report: Mapped[dict | None] = mapped_column(JSON)


class MigrationItem(Base):
    """One migrated instance and the workflow as it was before, so the batch can be undone."""

    __tablename__ = "migration_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("migration_batches.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    # BpmnWorkflowSerializer.to_dict of the workflow before the migration.
    snapshot: Mapped[dict] = mapped_column(JSON)
    # The audit entry of the migration: anything the instance did after it blocks a plain restore.
    audit_id: Mapped[int | None] = mapped_column(Integer)
