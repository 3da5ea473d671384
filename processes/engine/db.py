"""Database engine and sessions: SQLite by default, PostgreSQL via REDRESS_DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase

from processes.engine import jsoncodec

DEFAULT_SQLITE_PATH = Path("instance") / "redress.db"


class Base(DeclarativeBase):
    pass


def database_url(url: str | None = None) -> str:
    """The SQLAlchemy URL for `url` (psycopg 3 for PostgreSQL); no URL means the SQLite file
    in instance/ (the deployment's URL comes from `processes.config.Settings`)."""
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


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
