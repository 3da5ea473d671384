"""A database: its engines and session factories, with the audit chain attached to them."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from processes.engine import audit
from processes.engine.db import database_url, make_engine


class Database:
    """The engines and session factories of one database.

    `session()` is for reading and simple writes; `write_session()` is what the
    runtime uses for a unit of work on process instances."""

    def __init__(self, url: str | None = None):
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.write_engine = make_engine(self.url, immediate=True) if self.is_sqlite else self.engine
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        # Units of work flush explicitly (and before each handler's savepoint), not before every query.
        self.write_session = sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        audit.install(self.session)
        audit.install(self.write_session)
        # One-statement reads on every request (a bearer token's user, a task's row and form, its
        # data, the API's page of tasks): on PostgreSQL in autocommit, so no BEGIN and ROLLBACK
        # round trips around the one SELECT, and no ROLLBACK to make psycopg drop the statements
        # it has prepared on the connection (it does on every rollback). Never for writes.
        self.read_session = self.session if self.is_sqlite else sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
