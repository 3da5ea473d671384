"""Alembic owns the schema: after upgrading, the database matches the models exactly."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import processes
from processes.db import Base, database_url


def test_migrations_create_exactly_the_models(db):
    for module in pkgutil.iter_modules(processes.__path__):
        if module.name.endswith(("models", "records")):
            importlib.import_module(f"processes.{module.name}")
    engine = create_engine(database_url(db.url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
