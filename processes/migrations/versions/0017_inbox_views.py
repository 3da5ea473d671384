"""inbox: escalation level on human tasks, sort and filter indexes, saved views

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

import processes.engine.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_human_open_created", ["status", "created_at"]),
    ("ix_human_open_reference", ["status", "business_key"]),
    ("ix_human_open_level", ["status", "escalation_level", "priority", "due_at"]),
    ("ix_human_open_name", ["status", "name", "due_at"]),
)


# The default order in full, tasks without a deadline after the others (an expression index,
# which SQLite and PostgreSQL both read in order).
# The same within a department's and a person's tasks, replacing 0013's *_priority indexes.
URGENCY_INDEXES = (
    ("ix_human_open_urgency", ["status", "priority", sa.text("(due_at IS NULL)"), "due_at", "id"]),
    ("ix_human_open_department_urgency",
     ["status", "department", "assignee", "priority", sa.text("(due_at IS NULL)"), "due_at", "id"]),
    ("ix_human_open_assignee_urgency", ["status", "assignee", "priority", sa.text("(due_at IS NULL)"), "due_at", "id"]),
)
REPLACED = (
    ("ix_human_open_priority", ["status", "priority", "due_at"]),
    ("ix_human_open_department_priority", ["status", "department", "assignee", "priority", "due_at"]),
    ("ix_human_open_assignee_priority", ["status", "assignee", "priority", "due_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="1"))
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)
        for name, _columns in REPLACED:
            batch_op.drop_index(name)
    for name, columns in URGENCY_INDEXES:
        op.create_index(name, "human_tasks", columns, unique=False)
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", processes.engine.models.TZDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_view_owner", "saved_views", ["owner", "name"], unique=False)
    op.create_index("ix_saved_view_department", "saved_views", ["department", "name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_saved_view_department", table_name="saved_views")
    op.drop_index("ix_saved_view_owner", table_name="saved_views")
    op.drop_table("saved_views")
    for name, _columns in reversed(URGENCY_INDEXES):
        op.drop_index(name, table_name="human_tasks")
    with op.batch_alter_table("human_tasks") as batch_op:
        for name, columns in REPLACED:
            batch_op.create_index(name, columns, unique=False)
        for name, _columns in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_column("escalation_level")
