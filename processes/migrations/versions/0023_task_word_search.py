"""inbox word search: an FTS5 trigram table of the open tasks' references and summaries (SQLite);
the due-time index holds the arrival time too (the SLA filters read it alone)

Revision ID: 0023
Revises: 0022
"""
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# What a task's words are: its reference and its summary, a line apart (a search is one line, so a
# match never spans the two). Open tasks only: the inbox searches nothing else.
WORDS = "coalesce({row}.business_key, '') || char(10) || coalesce({row}.summary, '')"
# Kept in step by triggers, in the same transaction as every write to human_tasks, whoever writes
# it (the engine's upserts, the bench's bulk insert, an operator's UPDATE). Keyed by the task row's
# rowid, which SQLite keeps for a row's life (no VACUUM runs on this database). A later migration
# that rebuilds human_tasks in batch mode (copy and rename) drops the triggers: it must make them again.
STATEMENTS = (
    "CREATE VIRTUAL TABLE human_tasks_fts USING fts5(words, tokenize = 'trigram')",
    f"""CREATE TRIGGER human_tasks_fts_insert AFTER INSERT ON human_tasks WHEN new.status = 'open'
    BEGIN INSERT INTO human_tasks_fts(rowid, words) VALUES (new.rowid, {WORDS.format(row="new")}); END""",
    f"""CREATE TRIGGER human_tasks_fts_update AFTER UPDATE OF business_key, summary, status ON human_tasks
    BEGIN
      DELETE FROM human_tasks_fts WHERE rowid = old.rowid;
      INSERT INTO human_tasks_fts(rowid, words) SELECT new.rowid, {WORDS.format(row="new")} WHERE new.status = 'open';
    END""",
    """CREATE TRIGGER human_tasks_fts_delete AFTER DELETE ON human_tasks
    BEGIN DELETE FROM human_tasks_fts WHERE rowid = old.rowid; END""",
    f"""INSERT INTO human_tasks_fts(rowid, words)
    SELECT human_tasks.rowid, {WORDS.format(row="human_tasks")} FROM human_tasks WHERE status = 'open'""",
)


def upgrade() -> None:
    op.drop_index("ix_human_open_due", table_name="human_tasks")
    op.create_index("ix_human_open_due", "human_tasks", ["status", "due_at", "created_at"], unique=False)
    # PostgreSQL answers the same search from the pg_trgm GIN indexes of migration 0007.
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_human_open_due", table_name="human_tasks")
    op.create_index("ix_human_open_due", "human_tasks", ["status", "due_at"], unique=False)
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS human_tasks_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS human_tasks_fts")
