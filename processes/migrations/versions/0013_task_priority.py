"""human tasks: a priority (1 most urgent .. 5) and the indexes that read urgency first

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_human_open_priority", ["status", "priority", "due_at"]),
    ("ix_human_open_department_priority", ["status", "department", "assignee", "priority", "due_at"]),
    ("ix_human_open_assignee_priority", ["status", "assignee", "priority", "due_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        for name, _columns in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_column("priority")
