"""Alembic owns the schema: one chain of migrations, and after upgrading the database matches the
models exactly."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import processes.channels.portal_models
import processes.complaints.answer_templates
import processes.complaints.indexes
import processes.complaints.records
import processes.engine.models
import processes.governance.models
from processes.engine.db import Base, database_url
from processes.engine.schema import MIGRATIONS, alembic_config
from processes.engine.task_search import is_search_table

ENV = (MIGRATIONS / "env.py").read_text()


def include_name(name, type_, parent_names) -> bool:
    return not (type_ == "table" and is_search_table(name))  # SQLite's FTS table (migration 0023)


def test_migrations_create_exactly_the_models(db):
    engine = create_engine(database_url(db.url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_one_chain_of_migrations():
    """`alembic heads` is exactly one: a second head means two branches nobody merged."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()}; merge them"


def test_new_migrations_are_numbered_in_order():
    """Each migration file starts with its number, higher than the numbers of those it follows."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))

    def number(script) -> int:
        return int(re.match(r"(\d{4})_", Path(script.path).name).group(1))

    revisions = list(scripts.walk_revisions())
    assert len({number(s) for s in revisions}) == len(revisions), "two migrations share a number"
    for script in revisions:
        for earlier in script._all_down_revisions:
            assert number(script) > number(scripts.get_revision(earlier)), script.path


def test_migrations_see_every_module_with_tables():
    """The environment imports each module that declares tables, so autogenerate misses none."""
    root = Path(processes.engine.models.__file__).resolve().parents[2]
    declaring = sorted(
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in (root / "processes").rglob("*.py")
        if "migrations" not in path.parts and re.search(r"^class \w+\(Base\):|^\w+_INDEXES = \(", path.read_text(), re.MULTILINE)
    )
    missing = [module for module in declaring if f"import {module}" not in ENV]
    assert missing == []
