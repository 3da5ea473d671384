"""instance_tasks vacuumed early on PostgreSQL: a row rewritten as compacted leaves its old version in
ix_instance_task_live until a vacuum, and a cold load of a long-lived complaint reads past every one
(docs/deploy.md, "Long-lived complaints"). Autovacuum's default waits for 20 % of the table to be dead.
Nothing to do on SQLite (it updates rows in place).

Revision ID: 0026
Revises: 0025
"""
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# Vacuum after 1 % of the table (plus 1,000 rows) is dead, analyze after 2 % has changed.
UPKEEP = {"autovacuum_vacuum_scale_factor": "0.01", "autovacuum_vacuum_threshold": "1000",
          "autovacuum_analyze_scale_factor": "0.02"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        settings = ", ".join(f"{name} = {value}" for name, value in UPKEEP.items())
        op.execute(f"ALTER TABLE instance_tasks SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE instance_tasks RESET ({', '.join(UPKEEP)})")
