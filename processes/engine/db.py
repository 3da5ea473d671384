"""Database engine and sessions: SQLite by default, PostgreSQL via REDRESS_DATABASE_URL."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
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
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


# A pooled connection that sat unused this long is tested before use (the server or a proxy
# may have closed it); one in steady use is not, which saves a round trip per checkout.
IDLE_BEFORE_PING = 10.0


def _ping_after_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, but only for connections idle longer than IDLE_BEFORE_PING."""

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:
            # The pool discards the connection and checks out another (SQLAlchemy's recipe).
            raise DisconnectionError() from exc


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
