"""server-side staff sessions; users.must_change_password

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import processes.engine.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", processes.engine.models.TZDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", processes.engine.models.TZDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", processes.engine.models.TZDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", processes.engine.models.TZDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_sha256"),
    )
    op.create_index("ix_staff_session_user_open", "staff_sessions", ["user_id", "ended_at"], unique=False)
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("must_change_password")
    op.drop_index("ix_staff_session_user_open", table_name="staff_sessions")
    op.drop_table("staff_sessions")
