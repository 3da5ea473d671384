"""Fixtures: every test gets a fresh database (SQLite, or PostgreSQL when
REDRESS_TEST_DATABASE_URL is set) with the schema made by the migrations."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import processes.app  # noqa: F401 - registers the service-task handlers, as the app does
from processes.complaints.settings import default_settings as default_process_settings
from processes.engine.actors import Actor
from processes.engine.database import Database
from processes.engine.definitions import read_files
from processes.engine.runtime import Runtime
from processes.engine.schema import upgrade

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("REDRESS_TEST_DATABASE_URL")


def _pg_database(base_url: str) -> tuple[str, callable]:
    """A database of its own for one test, dropped afterwards."""
    name = f"redress_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base_url.rsplit("/", 1)[0] + "/" + name

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """Every database test runs on SQLite, and again on PostgreSQL when REDRESS_TEST_DATABASE_URL is set."""
    if request.param == "postgresql":
        url, drop = _pg_database(PG_URL)
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'redress.db'}"


@pytest.fixture
def db(database_url):
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def runtime(db):
    return Runtime(db, settings={**default_process_settings(), "handle_sla": "PT1H"})


@pytest.fixture
def standin_files():
    return read_files(ROOT / "processes" / "benchmarks" / "standin")


@pytest.fixture
def product_staff():
    return Actor("li.product", "product", "department_staff")


@pytest.fixture
def agent():
    return Actor("wang.agent", "customer_service", "agent")


@pytest.fixture
def app(database_url, tmp_path):
    from web import create_app

    upgrade(database_url)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False,
                      "PROCESS_SETTINGS": {**default_process_settings(), "handle_sla": "PT1H"}})
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Create a user; returns (username, bearer token)."""
    from processes.engine.users import add_user, create_token

    def make(username, department, role, password="pw-12345678"):
        with app.extensions["redress.db"].write_session.begin() as s:
            add_user(s, username, department, role, password)
            return username, create_token(s, username)

    return make


@pytest.fixture
def client_for_db(db, tmp_path):
    """A test client on the same database as the `db` fixture."""
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db.url, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    yield app.test_client()
    app.extensions["redress.db"].dispose()
