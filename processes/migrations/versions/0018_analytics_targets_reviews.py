"""analytics: KPI targets, archive review notes, and the index the process heatmap reads (issue 16)

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.create_index("ix_human_process_created", ["process_key", "created_at"], unique=False)
    op.create_table(
        "kpi_targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kpi", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("target", sa.Numeric(14, 4), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(40), nullable=True),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("last_value", sa.Numeric(16, 4), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "archive_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cycle", sa.String(7), nullable=False),
        sa.Column("business_key", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("cycle", "business_key", name="uq_archive_review"),
    )


def downgrade() -> None:
    op.drop_table("archive_reviews")
    op.drop_table("kpi_targets")
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_index("ix_human_process_created")
