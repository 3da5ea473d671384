"""`redress ingest-mail FILE|-` and `redress mail send|outbox`: the e-mail channel from the shell."""

from __future__ import annotations

import sys

import click

from web.cli_context import command_runtime, database


@click.command("ingest-mail")
@click.argument("source", type=click.File("rb"))
def ingest_mail(source) -> None:
    """Register complaints from one RFC 822 message or an mbox (FILE, or - for standard input).

    A reply whose subject carries the reference of an existing complaint is attached to it."""
    from processes.channels.mail_intake import ingest_many

    data = source.read()
    results = ingest_many(command_runtime(), data)
    if not results:
        raise click.ClickException("no message found in the input")
    failed = 0
    for number, result in enumerate(results, 1):
        if result.outcome == "rejected":
            failed += 1
            problems = "; ".join(f"{k}: {v}" for k, v in result.errors.items())
            click.echo(f"message {number}: not registered ({problems})", err=True)
            continue
        if result.outcome == "duplicate":
            click.echo(f"message {number}: already taken in as {result.reference}, skipped")
            continue
        line = f"message {number}: {result.outcome} {result.reference}"
        if result.skipped_files:
            line += f" (attachments refused: {' '.join(result.skipped_files)})"
        click.echo(line)
    if failed:
        sys.exit(1)


@click.group("mail")
def mail() -> None:
    """Outbound customer e-mail."""


@mail.command("send")
def mail_send() -> None:
    """Queue customer notifications not yet turned into mail, then send what is due (new ones and
    retries). Run it from cron as a safety net; the web app and the worker send on their own."""
    runtime = command_runtime()
    with runtime.db.write_session() as session, session.begin():
        queued = runtime.mailer.sweep(session)
    if queued:
        click.echo(f"queued {queued} message(s) that no process step had queued")
    if runtime.mailer.smtp is None:
        raise click.ClickException("REDRESS_SMTP_URL is not set; messages stay in the outbox (redress mail outbox)")
    click.echo(f"sent {runtime.mailer.deliver_due(limit=500)} message(s)")


@mail.command("outbox")
@click.option("--status", default=None,
              type=click.Choice(["pending", "sending", "sent", "failed", "outbox", "skipped"]))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def mail_outbox(status: str | None, limit: int) -> None:
    """List the latest outbound messages."""
    from processes.channels.outbound_mail import outbox

    with database().session() as session:
        for m in outbox(session, status, limit):
            click.echo(f"#{m.id} {m.created_at:%Y-%m-%d %H:%M} {m.status:8} {m.reference or '-'} "
                       f"{m.template} -> {m.to_address}: {m.subject}")


def register(main: click.Group) -> None:
    main.add_command(ingest_mail)
    main.add_command(mail)
