"""The `redress` command: set-up, users, tokens, serving, the worker, audits and benchmarks."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import click

from web.cli_context import command_runtime, database, models_dir, settings


@click.group()
def main() -> None:
    """Redress: complaint handling on a BPMN engine. Reads REDRESS_DATABASE_URL (default: SQLite in instance/)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # SpiffWorkflow logs every state change at INFO; that is debugging detail here.
    for name in ("spiff", "spiff.task", "spiff.workflow", "spiff.metrics"):
        logging.getLogger(name).setLevel(logging.WARNING)


@main.command()
def init() -> None:
    """Create or upgrade the database schema and deploy the models in bpmn/ and forms/."""
    from processes.engine.definitions import read_files
    from processes.engine.schema import upgrade

    upgrade(settings().database_url)
    runtime = command_runtime()
    files = read_files(models_dir(), "bpmn", "forms")
    if not any(name.endswith(".bpmn") for name in files):
        click.echo("schema ready; no BPMN files found to deploy")
        return
    for definition in runtime.deploy(files, note="redress init"):
        click.echo(f"{definition.process_key}: version {definition.version} ({definition.sha256[:12]})")


@main.command()
def demo() -> None:
    """Demo users for every department and role, and demo complaints in different stages (idempotent)."""
    from processes.complaints.demo import load_demo

    for line in load_demo(command_runtime()):
        click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--with-worker", is_flag=True, help="Also fire timers in this process (handy on one machine).")
def serve(host: str, port: int, threads: int, with_worker: bool) -> None:
    """Serve the web application with waitress (a production WSGI server)."""
    import threading

    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app()
    if with_worker:
        from processes.engine.worker import Worker

        w = Worker(app.extensions["redress.runtime"])
        threading.Thread(target=w.run, name="redress-worker", daemon=True).start()
    click.echo(f"Redress is running at http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads, ident="redress")


@main.command()
@click.option("--idle-poll", default=5.0, show_default=True, help="SQLite: seconds between looks when idle.")
def worker(idle_poll: float) -> None:
    """Fire due timers (SLA, waits) and run what follows, until stopped."""
    from processes.engine.worker import Worker

    w = Worker(command_runtime(), idle_poll=idle_poll)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    try:
        w.run()
    except KeyboardInterrupt:
        w.stop()


@main.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--department", "-d", required=True)
@click.option("--role", "-r", required=True)
@click.option("--password", "-p", default=None, help="Prompted for when left out.")
@click.option("--name", default="", help="Display name.")
@click.option("--email", default=None)
def user_add(username: str, department: str, role: str, password: str | None, name: str, email: str | None) -> None:
    from processes.engine import audit
    from processes.engine.users import UserError, add_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    db = database()
    try:
        with db.write_session.begin() as s:
            add_user(s, username, department, role, password, display_name=name, email=email)
            audit.append(s, "cli", "user_added", detail={"username": username, "department": department,
                                                         "role": role})
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username} added ({department}, {role})")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("username")
@click.option("--label", default="")
def token_create(username: str, label: str) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is stored)."""
    from processes.engine import audit
    from processes.engine.users import UserError, create_token

    db = database()
    try:
        with db.write_session.begin() as s:
            value = create_token(s, username, label)
            audit.append(s, "cli", "token_created", detail={"username": username, "label": label})
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token for {username}: {value}")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--note", default="")
def deploy(path: Path, note: str) -> None:
    """Deploy the BPMN, DMN and form files under PATH as new versions (identical content: no-op)."""
    from processes.engine.definitions import read_files
    from processes.engine.errors import DefinitionError

    files = read_files(path)
    try:
        deployed = command_runtime().deploy(files, note=note)
    except DefinitionError as exc:
        raise click.ClickException(exc.message) from exc
    for definition in deployed:
        click.echo(f"{definition.process_key}: version {definition.version} ({definition.sha256[:12]})")


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the whole chain; exits non-zero when an entry was changed or deleted."""
    from processes.engine import audit as audit_log

    with database().session() as s:
        result = audit_log.verify(s)
    if result.ok:
        click.echo(f"audit log intact: {result.checked} entries")
        return
    click.echo(f"audit log BROKEN after {result.checked} good entries: {result.problem}", err=True)
    sys.exit(1)


@main.group()
def bench() -> None:
    """Benchmarks that print figures (not tests)."""


@bench.command("engine")
@click.option("--database-url", default=None, help="Default: a fresh SQLite file.")
@click.option("--lifecycles", default=30, show_default=True)
def bench_engine(database_url: str | None, lifecycles: int) -> None:
    """Persisted lifecycles vs bare SpiffWorkflow in memory, latencies, and cost against history."""
    from processes.benchmarks.engine import run

    click.echo(json.dumps(run(database_url, lifecycles), indent=2))


def _register_area_commands() -> None:
    """Each area keeps its commands in its own module (`register(main)`)."""
    from web import cli_designer, cli_intake, cli_workspace

    for module in (cli_workspace, cli_intake, cli_designer):
        module.register(main)


_register_area_commands()
