"""inbox: "my department, unassigned" in any order read off a partial index of its own; counts
of severity with other filters answered from the severity index alone; the trigram indexes of
the word search without a pending list (PostgreSQL); an escalation level's queue counted from an
index alone

Revision ID: 0025
Revises: 0024
"""
import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

# The department queue ("my department, unassigned") in the order of each sortable column
# (processes/engine/inbox.py, SORTS), urgency and due time included: the page stops after its rows
# instead of sorting the queue. Partial indexes of the unassigned tasks: PostgreSQL does not count
# "assignee IS NULL" as fixing a column of an index's order (only "="), so an index with assignee
# among its columns is never read in order for this queue there.
QUEUE_INDEXES = (
    ("ix_human_queue_urgency", ["priority", sa.text("(due_at IS NULL)"), "due_at", "id"]),
    ("ix_human_queue_due", ["due_at", "created_at"]),
    ("ix_human_queue_created", ["created_at"]),
    ("ix_human_queue_reference", ["business_key"]),
    ("ix_human_queue_name", ["name", "due_at"]),
    ("ix_human_queue_category", ["category", "due_at"]),
    ("ix_human_queue_channel", ["channel", "due_at"]),
    ("ix_human_queue_level", ["escalation_level", "priority", "due_at"]),
)
UNASSIGNED = "assignee IS NULL"
# An escalation level's queue ("level 2, unassigned", or one person's), with the other filters'
# columns, so its counts read no table row (the level index is in urgency order: a count would
# check each row's assignee, department... in the table).
LEVEL_QUEUE = ["status", "escalation_level", "assignee", "department", "severity", "category", "channel", "due_at",
               "created_at"]
# Severity is no sort key (the priority is), so its index may hold the other filters' columns: a
# count of severity with a department, an SLA state, a level... reads no table row.
SEVERITY_BEFORE = ["status", "severity", "due_at"]
SEVERITY_AFTER = ["status", "severity", "due_at", "created_at", "department", "assignee", "escalation_level",
                  "category", "channel"]
# A GIN index's pending list (fastupdate) is read in full by every search until a vacuum merges
# it: up to 4 MB behind each word search. Without it, each task write updates the index at once.
TRIGRAM_INDEXES = ("ix_human_open_summary_trgm", "ix_human_open_key_trgm")


def _is_gin(bind, name: str) -> bool:
    return bind.execute(sa.text("SELECT 1 FROM pg_indexes WHERE indexname = :name AND indexdef LIKE '%USING gin%'"),
                        {"name": name}).first() is not None


def upgrade() -> None:
    for name, columns in QUEUE_INDEXES:
        op.create_index(name, "human_tasks", ["status", "department", *columns], unique=False,
                        sqlite_where=sa.text(UNASSIGNED), postgresql_where=sa.text(UNASSIGNED))
    op.create_index("ix_human_open_level_queue", "human_tasks", LEVEL_QUEUE, unique=False)
    op.drop_index("ix_human_open_severity", table_name="human_tasks")
    op.create_index("ix_human_open_severity", "human_tasks", SEVERITY_AFTER, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            if _is_gin(bind, name):
                op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
                op.execute(f"SELECT gin_clean_pending_list('{name}')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            if _is_gin(bind, name):
                op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
    op.drop_index("ix_human_open_severity", table_name="human_tasks")
    op.create_index("ix_human_open_severity", "human_tasks", SEVERITY_BEFORE, unique=False)
    op.drop_index("ix_human_open_level_queue", table_name="human_tasks")
    for name, _columns in reversed(QUEUE_INDEXES):
        op.drop_index(name, table_name="human_tasks")
