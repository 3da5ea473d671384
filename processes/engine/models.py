"""The database schema (Alembic migrations in processes/migrations create it)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from processes.engine.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class TZDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use timezone-aware UTC values")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    department: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # Set by an administrator's reset: the temporary password works once, to choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class StaffSession(Base):
    """A signed-in browser. The cookie holds only a random key whose sha256 is stored here, so
    ending a row (logout, password change, deactivation, force sign-out) ends that browser at once."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_session_user_open", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(40))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Only the sha256 of a token is stored; the token itself is shown once.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class ProcessDefinition(Base):
    """One immutable, numbered version of a process and the files it was made of."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        Index("ix_definition_key_sha", "process_key", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # {filename: text} for every BPMN, DMN and form file of the version.
    files: Mapped[dict] = mapped_column(JSON)
    # BpmnWorkflowSerializer's dicts for the spec and its called subprocess specs.
    spec: Mapped[dict] = mapped_column(JSON)
    subprocess_specs: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    deployed_by: Mapped[str] = mapped_column(String(80), default="system")
    deployed_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (Index("ix_instance_key_status", "business_key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str] = mapped_column(String(100))
    parent_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    # running, completed, error, cancelled
    status: Mapped[str] = mapped_column(String(20), default="running")
    # Bumped on every write: the optimistic lock that turns a lost update into a conflict.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Workflow-level state (data, subprocess headers); tasks live in instance_tasks.
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    # Message names the instance waits for now.
    awaiting: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    error_task_id: Mapped[str | None] = mapped_column(String(36))
    # The numbered settings version the instance started with (None: the shipped defaults); it keeps them.
    settings_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it at class creation


class OperationRequest(Base):
    """An operator's request that needs a second person (four eyes): skipping a failed step.

    pending until another operator confirms (the step is skipped) or refuses it."""

    __tablename__ = "operation_requests"
    __table_args__ = (Index("ix_operation_request_status", "status", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="skip")
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    # The BPMN id of the step to skip, as it was when the request was made.
    step: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(80))
    # pending, confirmed, refused
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class TaskData(Base):
    """Content-addressed task data: identical data is stored once."""

    __tablename__ = "task_data"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class InstanceTask(Base):
    """One engine task of an instance: only tasks that changed are written."""

    __tablename__ = "instance_tasks"
    # A step loads only the live tree: rows of tasks compacted out of it are the history.
    __table_args__ = (Index("ix_instance_task_live", "instance_id", "compacted"),)

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # "" for the top workflow, else the id of the task that owns the subprocess.
    workflow_id: Mapped[str] = mapped_column(String(36), default="")
    body: Mapped[dict] = mapped_column(JSON)
    data_sha256: Mapped[str] = mapped_column(ForeignKey("task_data.sha256"))
    # A finished task spliced out of the tree a step works on (engine.compaction); its row
    # keeps its original links, so the whole history can still be put back together.
    compacted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class HumanTask(Base):
    """A READY user or manual task, denormalised so the inbox never loads a workflow."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_open_department", "status", "department", "assignee", "due_at"),
        Index("ix_human_open_assignee", "status", "assignee", "due_at"),
        # With the arrival time, so the SLA filters (at risk past 80 % of the time allowed) and
        # their counts are answered from the index alone (migration 0023).
        Index("ix_human_open_due", "status", "due_at", "created_at"),
        Index("ix_human_instance", "instance_id", "status"),
        # Urgency first: priority (1 most urgent), then time left; one index per inbox scope.
        # Urgency, the default order, in full: priority, those with a deadline first, time left, id
        # (one index the page reads in order, with or without the filters, on both databases).
        Index("ix_human_open_urgency", "status", "priority", text("(due_at IS NULL)"), "due_at", "id"),
        # The same order within "my department, unassigned" and "my tasks".
        Index("ix_human_open_department_urgency", "status", "department", "assignee", "priority",
              text("(due_at IS NULL)"), "due_at", "id"),
        Index("ix_human_open_assignee_urgency", "status", "assignee", "priority", text("(due_at IS NULL)"), "due_at",
              "id"),
        # Other sortable columns and the escalation-level filter, read off an index (migration 0017).
        Index("ix_human_open_created", "status", "created_at"),
        Index("ix_human_open_reference", "status", "business_key"),
        Index("ix_human_open_level", "status", "escalation_level", "priority", "due_at"),
        # A level's queue ("level 2, unassigned") with the other filters' columns: its counts are
        # answered from the index alone (migration 0025).
        Index("ix_human_open_level_queue", "status", "escalation_level", "assignee", "department", "severity",
              "category", "channel", "due_at", "created_at"),
        Index("ix_human_open_name", "status", "name", "due_at"),
        # "My department, unassigned" in the order of each sortable column, of the unassigned tasks
        # only: PostgreSQL reads an index in order only past columns fixed by "=", not by "IS NULL"
        # (migration 0025).
        *(Index(f"ix_human_queue_{name}", "status", "department", *columns, sqlite_where=text("assignee IS NULL"),
                postgresql_where=text("assignee IS NULL"))
          for name, columns in (("urgency", ("priority", text("(due_at IS NULL)"), "due_at", "id")),
                                ("due", ("due_at", "created_at")), ("created", ("created_at",)),
                                ("reference", ("business_key",)), ("name", ("name", "due_at")),
                                ("category", ("category", "due_at")), ("channel", ("channel", "due_at")),
                                ("level", ("escalation_level", "priority", "due_at")))),
        # The process heatmap reads one period's tasks of a process.
        Index("ix_human_process_created", "process_key", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    business_key: Mapped[str] = mapped_column(String(100), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(40))
    form: Mapped[str | None] = mapped_column(String(200))
    candidate_group: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(80))
    # open, completed, cancelled
    status: Mapped[str] = mapped_column(String(20), default="open")
    # Complaint facts copied for inbox filters.
    category: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(String(300))
    draft: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    # 1 (most urgent) .. 5; set by the task decorators the composition root installs.
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # The complaint's escalation level when the row was written (1 = first line).
    escalation_level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(80))
    # Four eyes: the person who may not complete this task (who wrote what it approves).
    not_by: Mapped[str | None] = mapped_column(String(80))


class SavedView(Base):
    """A named inbox filter: one person's, or shared with a department by a supervisor."""

    __tablename__ = "saved_views"
    __table_args__ = (
        Index("ix_saved_view_owner", "owner", "name"),
        Index("ix_saved_view_department", "department", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(80))
    # Set when shared: everyone of this department sees the view.
    department: Mapped[str | None] = mapped_column(String(40))
    # The inbox URL arguments: scope, sort and the filters.
    query: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class Timer(Base):
    """A waiting timer event and when it is due; the worker fires due rows."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timer_due", "status", "due_at"),
        UniqueConstraint("instance_id", "task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(TZDateTime())
    # waiting, fired, cancelled, failed (its runs failed too often: parked until a retry)
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    fired_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    # Failed runs so far; each pushes the next one further out (runtime.TIMER_BACKOFF).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only, hash-chained log of everything that changed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last hash in one row, locked by each writer, so appends serialise."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
