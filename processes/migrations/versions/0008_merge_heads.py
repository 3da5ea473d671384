"""Merge the three area branches (portal, designer, workspace) into one chain.

Revision ID: 0008
Revises: 0005_portal, 0006_designer, workspace01
"""

revision = "0008"
down_revision = ("0005_portal", "0006_designer", "workspace01")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
