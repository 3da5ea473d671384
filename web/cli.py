"""The `redress` command: set-up, users, tokens, serving, the worker, audits and benchmarks."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import click

from web import cli_guard
from web.cli_context import command_runtime, database, models_dir, settings


@click.group()
def main() -> None:
    """Redress: complaint handling on a BPMN engine. Reads REDRESS_DATABASE_URL (default: SQLite in instance/)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The engine library logs every state change at INFO; that is debugging detail here.
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
@click.option("--history-days", default=365, show_default=True, type=click.IntRange(0, 730),
              help="Days of complaint history run through the process for the dashboards (0: none).")
def demo(history_days: int) -> None:
    """Demo users for every department and role, demo complaints in different stages, and a year of
    history for the dashboards (idempotent)."""
    import time

    from processes.complaints.demo_history import load_history
    from processes.engine.errors import RuntimeProblem
    from processes.governance.demo_settings import load_demo

    runtime = command_runtime()
    try:
        lines = load_demo(runtime)
    except RuntimeProblem as exc:  # e.g. a settings change awaits review: the demo's own cannot be made
        raise click.ClickException(exc.message) from exc
    for line in lines:
        click.echo(line)
    if history_days:
        started = time.monotonic()
        # A year takes a minute or two on a small machine; say so before the terminal goes quiet.
        click.echo(f"history: running {history_days} days of complaints through the process "
                   "(once; a minute or two for a year)...")
        loaded = load_history(runtime, history_days)
        if loaded:
            click.echo(f"history: {loaded} complaints over {history_days} days ({time.monotonic() - started:.0f} s)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Web processes (gunicorn, preforked); more than one needs PostgreSQL.")
@click.option("--with-worker", is_flag=True, help="Also fire timers in this process (handy on one machine).")
def serve(host: str, port: int, threads: int, workers: int, with_worker: bool) -> None:
    """Serve the web application: waitress in one process, or gunicorn with N web processes."""
    if workers > 1:
        from web.multiprocess import serve_preforked

        url = settings().database_url
        if url is None or url.startswith("sqlite"):
            raise click.ClickException("SQLite serves one process: drop --workers, or set REDRESS_DATABASE_URL "
                                       "to PostgreSQL for several web processes.")
        if with_worker:
            raise click.ClickException("With several web processes run the timers apart: `redress worker`.")
        click.echo(f"Redress is running at http://{host}:{port}/ ({workers} processes × {threads} threads)")
        serve_preforked(host, port, workers, threads)
        return
    import threading

    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app()
    if with_worker:
        from processes.app import periodic_jobs
        from processes.engine.worker import Worker

        w = Worker(app.extensions["redress.runtime"], jobs=periodic_jobs(app.extensions["redress.runtime"]))
        threading.Thread(target=w.run, name="redress-worker", daemon=True).start()
    click.echo(f"Redress is running at http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads, ident="redress")


@main.command()
@click.option("--idle-poll", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="SQLite: seconds between looks when idle.")
def worker(idle_poll: float) -> None:
    """Fire due timers (SLA, waits) and run what follows, until stopped."""
    from processes.app import periodic_jobs
    from processes.engine.worker import Worker

    rt = command_runtime()
    w = Worker(rt, idle_poll=idle_poll, jobs=periodic_jobs(rt))
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    try:
        w.run()
    except KeyboardInterrupt:
        w.stop()


@main.group()
def tasks() -> None:
    """Human tasks."""


@tasks.command("redecorate")
def tasks_redecorate() -> None:
    """Compute every open task's deadline and priority again (after changing the SLA limits or calendar;
    each complaint keeps its own SLA profile)."""
    count = command_runtime().redecorate_open_tasks()
    click.echo(f"{count} open task(s) recomputed")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--note", default="")
@click.option("--force", is_flag=True,
              help="Deploy although validation found errors (the operator's override; written to the audit log).")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def deploy(path: Path, note: str, force: bool, lang: str) -> None:
    """Validate, then deploy the BPMN, DMN and form files under PATH as new versions (identical content: no-op).

    Refuses a definition with validation errors (exit 1) or an unreadable file (exit 2) unless --force."""
    from processes.engine import audit as audit_log
    from processes.engine.errors import DefinitionError
    from processes.governance.drafts import clean_files
    from processes.governance.validation import validate
    from web.cli_designer import UNREADABLE, Unreadable, exit_status, print_report, read_paths

    try:
        raw = read_paths((str(path),))
    except Unreadable as exc:
        click.echo(f"cannot read: {exc}", err=True)
        sys.exit(2)
    report = validate(raw)
    if not report.ok:
        print_report(report, lang, as_json=False)
        if any(f.code in UNREADABLE for f in report.errors) or not force:
            click.echo("not deployed: fix the errors above" + ("" if exit_status(report) == 2 else
                       ", or deploy anyway with --force"), err=True)
            sys.exit(exit_status(report))
        with database().write_session.begin() as s:
            audit_log.append(s, "cli", "definition_deploy_forced", detail={
                "path": str(path), "note": note, "errors": [
                    {"code": f.code, "file": f.file, "element_id": f.element_id, "message": f.message["en"]}
                    for f in report.errors]})
        click.echo(f"deploying despite {len(report.errors)} error(s) (--force, audited)", err=True)
    try:
        deployed = command_runtime().deploy(clean_files(raw), note=note)
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
@click.option("--database-url", default=None, help="Default: a fresh SQLite file (use an empty database).")
@click.option("--lifecycles", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--samples", default=7, show_default=True, type=click.IntRange(1, 100))
@click.option("--rounds", default="10,500,2000,5000", show_default=True, help="Loop rounds to measure history cost at.")
def bench_engine(database_url: str | None, lifecycles: int, samples: int, rounds: str) -> None:
    """Persisted (warm and cold) against the same engine and the bare engine library in memory, statements per
    completion, and cold completion cost on long loops. Exits 1 when a target is missed."""
    from processes.benchmarks.engine import run

    try:
        levels = tuple(sorted({int(value) for value in rounds.split(",") if value.strip()}))
    except ValueError:
        raise click.BadParameter("comma-separated whole numbers, e.g. 10,500", param_hint="--rounds") from None
    if not levels or min(levels) < 1 or max(levels) > 20000:
        raise click.BadParameter("between 1 and 20000 rounds", param_hint="--rounds")
    result = run(database_url, lifecycles, samples, levels)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    if result["missed_targets"]:
        sys.exit(1)


@bench.command("http")
@click.option("--database-url", default=None, help="A PostgreSQL database to use (default: a fresh one on "
              "postgresql://postgres@127.0.0.1:5432/, dropped afterwards).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--clients", default="8,16", show_default=True, help="Concurrent clients, comma-separated.")
@click.option("--seconds", default=15.0, show_default=True, type=click.FloatRange(2, 600))
def bench_http(database_url: str | None, workers: int, threads: int, clients: str, seconds: float) -> None:
    """The whole task cycle over HTTP (inbox, open, complete) by concurrent client processes against
    `redress serve --workers N` on PostgreSQL. Exits 1 when a target is missed."""
    from processes.benchmarks.http import run

    try:
        levels = tuple(int(value) for value in clients.split(",") if value.strip())
    except ValueError:
        raise click.BadParameter("comma-separated whole numbers", param_hint="--clients") from None
    result = run(database_url, workers, threads, levels, seconds)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    if result["missed_targets"]:
        sys.exit(1)


@bench.command("timers")
@click.option("--database-url", default=None, help="The PostgreSQL server to make fresh databases on "
              "(default: postgresql://postgres@127.0.0.1:5432/test); SQLite uses a temporary file.")
@click.option("--timers", "count", default=200, show_default=True, type=click.IntRange(1, 5000))
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Worker processes on PostgreSQL (SQLite has one writer: one worker).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 50))
def bench_timers(database_url: str | None, count: int, workers: int, rounds: int) -> None:
    """Lateness (p50, p99) of timers all due at one instant, SQLite and PostgreSQL alternating round by
    round. Exits 1 when a side's median p99 is 1 s or more, or a timer did not fire exactly once."""
    from processes.benchmarks.timers import run

    result = run(database_url, count, workers, rounds)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    if result["missed_targets"]:
        sys.exit(1)


def _register_area_commands() -> None:
    """Each area keeps its commands in its own module (`register(main)`)."""
    from web import cli_accounts, cli_analytics, cli_config, cli_designer, cli_intake, cli_workspace

    for module in (cli_accounts, cli_config, cli_workspace, cli_intake, cli_designer, cli_analytics):
        module.register(main)


_register_area_commands()
cli_guard.guard(main)  # last: every command's values pass the input guards
