"""Database engine and sessions: SQLite by default, PostgreSQL via REDRESS_DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from processes import jsoncodec

DEFAULT_SQLITE_PATH = Path("instance") / "redress.db"


class Base(DeclarativeBase):
    pass


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get("REDRESS_DATABASE_URL")
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the driver we support.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, immediate: bool = False, **kwargs) -> Engine:
    """An engine for `url`. On SQLite, `immediate=True` makes every transaction
    take the write lock at BEGIN, so two writers queue instead of failing halfway."""
    url = database_url(url)
    kwargs = {"json_serializer": jsoncodec.dumps, "json_deserializer": jsoncodec.loads, **kwargs}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


_UPSERTS: dict = {}


def upsert_statement(session, name: str, build):
    """An INSERT ... ON CONFLICT statement for the session's database, built once per dialect
    (`build` gets that dialect's `insert`): building one costs more than running it."""
    dialect = session.get_bind().dialect.name
    key = (dialect, name)
    if key not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        _UPSERTS[key] = build(insert)
    return _UPSERTS[key]


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
        from processes import audit

        audit.install(self.session)
        audit.install(self.write_session)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
