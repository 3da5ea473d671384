"""Alembic environment: runs migrations against the URL the caller configured."""

from alembic import context
from sqlalchemy import create_engine

# Every module that declares tables (or indexes) on Base.metadata, room by room.
import processes.channels.portal_models
import processes.complaints.analytics_models
import processes.complaints.answer_templates
import processes.complaints.indexes
import processes.complaints.records
import processes.engine.models
import processes.governance.models  # noqa: F401
from processes.engine.db import Base
from processes.engine.task_search import is_search_table

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, parent_names) -> bool:
    """SQLite's FTS table for the inbox's word search (migration 0023) is no model's table."""
    return not (type_ == "table" and name and is_search_table(name))


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
