"""instance tasks: finished loop rounds compacted out of the live tree (kept for the history)

Revision ID: 0020
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance_tasks") as batch_op:
        batch_op.add_column(sa.Column("compacted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_instance_task_live", ["instance_id", "compacted"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("instance_tasks") as batch_op:
        batch_op.drop_index("ix_instance_task_live")
        batch_op.drop_column("compacted")
