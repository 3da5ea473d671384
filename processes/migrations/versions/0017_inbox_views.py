"""inbox: escalation level on human tasks, sort and filter indexes, saved views

Revision ID: 0017
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

import processes.engine.models

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_human_open_created", ["status", "created_at"]),
    ("ix_human_open_reference", ["status", "business_key"]),
    ("ix_human_open_level", ["status", "escalation_level", "priority", "due_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="1"))
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)
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
    with op.batch_alter_table("human_tasks") as batch_op:
        for name, _columns in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_column("escalation_level")
