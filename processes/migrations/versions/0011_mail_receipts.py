"""mail receipts: e-mails already taken in, so ingesting an mbox again registers nothing twice

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import processes.engine.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("received_at", processes.engine.models.TZDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_key"),
    )


def downgrade() -> None:
    op.drop_table("mail_receipts")
