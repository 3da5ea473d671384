"""Fixtures: every test gets a fresh database (SQLite, or PostgreSQL when
REDRESS_TEST_DATABASE_URL is set) with the schema made by the migrations.

The migrations run once per session into a template; each test gets a copy of it (a file copy on SQLite,
`CREATE DATABASE ... TEMPLATE` on PostgreSQL), which is what keeps the suite fast."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

import processes.app  # noqa: F401 - registers the service-task handlers, as the app does
from processes.complaints.settings import default_settings as default_process_settings
from processes.engine import users
from processes.engine.actors import Actor
from processes.engine.database import Database
from processes.engine.definitions import read_files
from processes.engine.runtime import Runtime
from processes.engine.schema import upgrade
from tests import app_reuse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("REDRESS_TEST_DATABASE_URL")

# Production hashing costs ~60 ms and 64 MiB per password; thousands of logins and accounts in the suite
# do not need it. test_staff_accounts checks that production keeps the real cost.
users._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
app_reuse.install()  # templates and URL builders compiled once per process, not once per test app


def busy() -> float:
    """How much busier than its cores the machine is (1: not at all): the factor a test's bound on wall
    time grows by, so that a runaway still fails and a loaded machine does not."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def _pg_admin(base_url: str):
    return create_engine(base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def _pg_url(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template():
    """A PostgreSQL database migrated once, copied for every test; dropped at the end of the session."""
    name = f"redress_tpl_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(_pg_url(PG_URL, name))  # alembic disposes its engine: no session left on the template
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An SQLite file migrated once per session."""
    path = tmp_path_factory.mktemp("template") / "redress.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def sqlite_shipped(sqlite_template, tmp_path_factory):
    """The migrated SQLite file with the shipped model deployed, once per session."""
    path = tmp_path_factory.mktemp("shipped") / "redress.db"
    shutil.copyfile(sqlite_template, path)
    deploy_shipped(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_shipped(pg_template):
    """The migrated PostgreSQL template with the shipped model deployed, once per session."""
    name = f"redress_shp_{uuid.uuid4().hex[:12]}"
    _pg_run(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    deploy_shipped(_pg_url(PG_URL, name))
    yield name
    _pg_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def needs_shipped_model(fixture_function):
    """Marks a fixture (put it under @pytest.fixture) that works on the shipped model: every test using it,
    from any module, gets a database with bpmn/ and forms/ already deployed (see `database_url`)."""
    fixture_function.needs_shipped_model = True
    return fixture_function


def pytest_collection_modifyitems(config, items):
    for item in items:
        chosen = getattr(item, "_fixtureinfo", None)
        if chosen is None:
            continue
        if any(getattr(defs[-1].func, "needs_shipped_model", False)
               for name in item.fixturenames if (defs := chosen.name2fixturedefs.get(name))):
            item.add_marker("shipped_model")
    # A backend-neutral module (docs/postgresql.md, "Which tests run on PostgreSQL") runs on SQLite only.
    neutral = [item for item in items if item.get_closest_marker("backend_neutral") is not None
               and getattr(getattr(item, "callspec", None), "params", {}).get("database_url") == "postgresql"]
    if neutral:
        config.hook.pytest_deselected(items=neutral)
        dropped = set(neutral)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A fresh, migrated database for one test: on SQLite, and again on PostgreSQL when
    REDRESS_TEST_DATABASE_URL is set. Tests marked `shipped_model` find the shipped bpmn/ and forms/
    already deployed, as `redress init` leaves them (a copy of a per-session snapshot)."""
    shipped = request.node.get_closest_marker("shipped_model") is not None
    if request.param == "postgresql":
        template = request.getfixturevalue("pg_shipped" if shipped else "pg_template")
        name = f"redress_t_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin(PG_URL)
        with admin.connect() as conn:
            _execute_copy(conn, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield _pg_url(PG_URL, name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "redress.db"
        shutil.copyfile(request.getfixturevalue("sqlite_shipped" if shipped else "sqlite_template"), path)
        yield f"sqlite:///{path}"


@pytest.fixture
@needs_shipped_model
def shipped_url(database_url):
    """`database_url`, already holding the shipped model."""
    return database_url


def deploy_shipped(url: str) -> None:
    """The shipped model (bpmn/ and forms/) deployed into `url`, as `redress init` does."""
    from processes.app import build_runtime

    db = Database(url)
    try:
        build_runtime(db=db, mail=False).deploy(read_files(ROOT, "bpmn", "forms"))
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def _snapshots():
    """Databases filled once per session by `snapshot_copy`: (backend, name) -> SQLite file or PostgreSQL name."""
    made: dict[tuple[str, str], str] = {}
    yield made
    names = [name for (backend, _), name in made.items() if backend == "postgresql"]
    if names:
        admin = _pg_admin(PG_URL)
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def snapshot_copy(database_url, _snapshots, tmp_path):
    """snapshot_copy(name, build) -> this test's database URL, now holding what `build(url)` writes.

    The first test that asks builds it in its own fresh database and keeps a copy; later tests get
    their database replaced by a copy of that (a file copy on SQLite, `CREATE DATABASE ... TEMPLATE`
    on PostgreSQL) instead of building it again. `build` must leave no connection open, and so must
    the caller: dispose any engine on the test's database first."""

    def copy(name: str, build) -> str:
        backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
        kept = _snapshots.get((backend, name))
        own = database_url.rsplit("/", 1)[1]
        if kept is None:
            build(database_url)
            if backend == "sqlite":
                kept = str(tmp_path.parent / f"snapshot-{name}-{uuid.uuid4().hex[:8]}.db")
                shutil.copyfile(database_url.removeprefix("sqlite:///"), kept)
            else:
                kept = f"redress_s_{uuid.uuid4().hex[:12]}"
                _pg_run(f'CREATE DATABASE "{kept}" TEMPLATE "{own}"')  # `build` and the caller left no session
            _snapshots[(backend, name)] = kept
        elif backend == "sqlite":
            shutil.copyfile(kept, database_url.removeprefix("sqlite:///"))
        else:
            _pg_run(f'DROP DATABASE "{own}" WITH (FORCE)', f'CREATE DATABASE "{own}" TEMPLATE "{kept}"')
        return database_url

    return copy


def fill_with_demo(url: str) -> None:
    """The shipped model and the demo's complaints (`redress demo`), for snapshot_copy("demo", ...)."""
    from processes.app import build_runtime
    from processes.governance.demo_settings import load_demo

    db = Database(url)
    try:
        runtime = build_runtime(db=db, mail=False)
        runtime.deploy(read_files(ROOT, "bpmn", "forms"))
        load_demo(runtime)
    finally:
        db.dispose()


@pytest.fixture
def demo_app(app, snapshot_copy):
    """`app` on the demo's complaints (`redress demo`), loaded once per session and copied for each test."""
    app.extensions["redress.db"].dispose()  # the database is replaced under the app
    snapshot_copy("demo", fill_with_demo)
    return app


def _pg_run(*statements: str) -> None:
    admin = _pg_admin(PG_URL)
    with admin.connect() as conn:
        for statement in statements:
            _execute_copy(conn, statement)
    admin.dispose()


def _execute_copy(conn, statement: str) -> None:
    """Run `statement`. A copy from a template fails when a session is still on the template
    (PostgreSQL itself waits five seconds for autovacuum and for sessions that are ending): then the
    error names those sessions, so that whoever left one open closes it instead of the copy ending it."""
    from sqlalchemy.exc import OperationalError

    try:
        conn.execute(text(statement))
    except OperationalError as error:
        if "TEMPLATE" not in statement or "being accessed by other users" not in str(error):
            raise
        source = statement.rsplit("TEMPLATE", 1)[1].strip().strip('"')
        left = conn.execute(text("SELECT pid, application_name, state, query FROM pg_stat_activity "
                                 "WHERE datname = :name"), {"name": source}).all()
        raise AssertionError(f"a session is still open on the template {source}: {left}") from error


@pytest.fixture(autouse=True)
def _needs_postgresql(request):
    """Tests marked `postgres` prove something SQLite cannot (it runs writers one after the other):
    skipped on SQLite, and with no PostgreSQL configured they fail under CI instead of passing silently."""
    if request.node.get_closest_marker("postgres") is None:
        return
    backend = getattr(getattr(request.node, "callspec", None), "params", {}).get("database_url")
    if backend == "postgresql":
        return
    if PG_URL:
        pytest.skip("runs on PostgreSQL only")
    if os.environ.get("CI"):
        pytest.fail("needs PostgreSQL: set REDRESS_TEST_DATABASE_URL (CI is set)")
    pytest.skip("needs PostgreSQL")


@pytest.fixture(autouse=True)
def _no_company_calendar_left_over():
    """An app installs its database's approved company calendar for the SLA clocks; the next test starts
    without it (its database is gone)."""
    yield
    from processes.complaints import sla

    sla.install_company_calendar(None)


@pytest.fixture
def db(database_url):
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
