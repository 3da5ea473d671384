"""administration: reviewed configuration versions and drafts, budget history, four-eyes
operation requests, and the settings version each instance started with

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from processes.engine.models import TZDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "version"),
    )
    op.create_table(
        "config_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("reviewer", sa.String(length=80), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=False),
        sa.Column("approved_version", sa.Integer(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("decided_at", TZDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_config_draft_kind_status", "config_drafts", ["kind", "status", "id"])
    op.create_table(
        "budget_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("old_amount", sa.Numeric(12, 2), nullable=True),
        sa.Column("new_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_budget_change_department_month", "budget_changes", ["department", "month", "id"])
    op.create_table(
        "operation_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", TZDateTime(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_operation_request_status", "operation_requests", ["status", "instance_id"])
    with op.batch_alter_table("process_instances") as batch_op:
        batch_op.add_column(sa.Column("settings_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_instances") as batch_op:
        batch_op.drop_column("settings_version")
    op.drop_index("ix_operation_request_status", table_name="operation_requests")
    op.drop_table("operation_requests")
    op.drop_index("ix_budget_change_department_month", table_name="budget_changes")
    op.drop_table("budget_changes")
    op.drop_index("ix_config_draft_kind_status", table_name="config_drafts")
    op.drop_table("config_drafts")
    op.drop_table("config_versions")
