"""Alembic environment: runs migrations against the URL the caller configured."""

import importlib
import pkgutil

from alembic import context
from sqlalchemy import create_engine

import processes
from processes.db import Base

# Every module of processes/ named *models or *records declares tables on Base.metadata.
for _module in pkgutil.iter_modules(processes.__path__):
    if _module.name.endswith(("models", "records")):
        importlib.import_module(f"processes.{_module.name}")

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
