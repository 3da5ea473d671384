"""the complaint file: internal notes, confirmed duplicate links, customer look-up by e-mail

Revision ID: 0015
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from processes.engine.models import TZDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_notes") as batch_op:
        batch_op.create_index("ix_case_notes_reference", ["reference", "created_at"], unique=False)
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("duplicate_confirmed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("duplicate_confirmed_at", TZDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_complaints_duplicate_of"), ["duplicate_of"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_customer_email"), ["customer_email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_customer_email"))
        batch_op.drop_index(batch_op.f("ix_complaints_duplicate_of"))
        batch_op.drop_column("duplicate_confirmed_at")
        batch_op.drop_column("duplicate_confirmed_by")
    with op.batch_alter_table("case_notes") as batch_op:
        batch_op.drop_index("ix_case_notes_reference")
    op.drop_table("case_notes")
