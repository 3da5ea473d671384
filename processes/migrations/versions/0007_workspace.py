"""staff workspace: indexes for inbox filters and complaint search

Revision ID: workspace01
Revises: 0001
"""
from alembic import op
from sqlalchemy import text

revision = "workspace01"
down_revision = "0001"
branch_labels = None
depends_on = None

# Declared in processes/workspace_models.py as well, so autogenerate knows them.
INDEXES = (
    ("ix_human_open_category", "human_tasks", ["status", "category", "due_at"]),
    ("ix_human_open_severity", "human_tasks", ["status", "severity", "due_at"]),
    ("ix_human_open_channel", "human_tasks", ["status", "channel", "due_at"]),
    ("ix_human_open_due_text", "human_tasks", ["status", "due_at", "business_key", "summary"]),
    ("ix_complaint_customer_name", "complaints", ["customer_name"]),
    ("ix_complaint_received", "complaints", ["received_at"]),
)
# Trigram indexes answer "contains these words" (ILIKE '%...%') without a scan on PostgreSQL;
# where pg_trgm is missing (and on SQLite) a plain index of the same name keeps the schema equal
# to the models.
TRIGRAM_INDEXES = (
    ("ix_human_open_summary_trgm", "human_tasks", "summary"),
    ("ix_human_open_key_trgm", "human_tasks", "business_key"),
    ("ix_complaint_subject_trgm", "complaints", "subject"),
)


def _trigrams_available(bind) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    return bind.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first() is not None


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    trigrams = _trigrams_available(op.get_bind())
    if trigrams:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        if trigrams:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")
        else:
            op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _column in TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
