"""`redress user …` and `redress token …`: staff accounts and API tokens from the shell.

The commands act as the administrator "cli" through the same services as /admin/users, so the
rules (roles, departments, the password policy, what ends sessions) and the audit are the same."""

from __future__ import annotations

import click

from processes.engine.actors import Actor
from web.cli_context import database

CLI = Actor("cli", None, "admin")


def _run(action):
    """One transaction; a refusal becomes the command's error message and a non-zero exit."""
    from processes.engine.errors import RuntimeProblem

    try:
        with database().write_session.begin() as s:
            return action(s)
    except RuntimeProblem as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("list")
@click.option("--search", "-s", default="", help="Part of the user name, display name or e-mail.")
@click.option("--active-only", is_flag=True)
def user_list(search: str, active_only: bool) -> None:
    """One line per account: user name, department, role, status, display name."""
    from processes.engine.users import list_users

    with database().session() as s:
        rows = list_users(s, search, include_inactive=not active_only, limit=10_000)
    for u in rows:
        status = "active" if u.active else "deactivated"
        if u.must_change_password:
            status += ",must-change-password"
        click.echo(f"{u.username}\t{u.department}\t{u.role}\t{status}\t{u.display_name}\t{u.email or ''}")


@user.command("add")
@click.argument("username")
@click.option("--department", "-d", required=True)
@click.option("--role", "-r", required=True)
@click.option("--password", "-p", default=None, help="Prompted for when left out; --temporary makes one.")
@click.option("--temporary", is_flag=True, help="Print a temporary password the user must change at first login.")
@click.option("--name", default="", help="Display name.")
@click.option("--email", default=None)
@click.option("--locale", default=None, type=click.Choice(["zh_CN", "en"]))
def user_add(username: str, department: str, role: str, password: str | None, temporary: bool, name: str,
             email: str | None, locale: str | None) -> None:
    """Add a staff account (the password must meet the policy)."""
    from processes.engine.users import create_account

    if password is None and not temporary:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _user, made = _run(lambda s: create_account(s, CLI, username, department, role, display_name=name,
                                                email=email, locale=locale, password=password))
    click.echo(f"user {username} added ({department}, {role})")
    if made:
        click.echo(f"temporary password (must be changed at first login): {made}")


@user.command("edit")
@click.argument("username")
@click.option("--department", "-d", default=None)
@click.option("--role", "-r", default=None)
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--email", default=None)
@click.option("--locale", default=None, type=click.Choice(["zh_CN", "en"]))
def user_edit(username: str, **options) -> None:
    """Change an account's department, role, display name, e-mail or language."""
    from processes.engine.users import edit_account

    changes = {field: value for field, value in options.items() if value is not None}
    changed = _run(lambda s: edit_account(s, CLI, username, **changes))
    for field, (old, new) in changed.items():
        click.echo(f"{field}: {old} -> {new}")
    if not changed:
        click.echo("nothing changed")


@user.command("deactivate")
@click.argument("username")
@click.option("--reactivate", is_flag=True, help="Make a deactivated account active again.")
def user_deactivate(username: str, reactivate: bool) -> None:
    """Deactivate an account: its sessions end and its tokens are revoked at once."""
    from processes.engine.users import set_active

    _run(lambda s: set_active(s, CLI, username, reactivate))
    click.echo(f"user {username} {'reactivated' if reactivate else 'deactivated'}")


@user.command("reset-password")
@click.argument("username")
def user_reset_password(username: str) -> None:
    """Print a temporary password the user must change at the next login; their sessions end."""
    from processes.engine.users import reset_password

    made = _run(lambda s: reset_password(s, CLI, username))
    click.echo(f"temporary password for {username} (must be changed at next login): {made}")


@click.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("username")
@click.option("--label", default="")
def token_create(username: str, label: str) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is stored)."""
    from processes.engine import audit
    from processes.engine.users import create_token

    def create(s):
        value = create_token(s, username, label)
        audit.append(s, "cli", "token_created", detail={"username": username, "label": label})
        return value

    click.echo(f"token for {username}: {_run(create)}")


@token.command("list")
@click.option("--user", "username", default=None)
def token_list(username: str | None) -> None:
    """One line per token: id, user, label, created, revoked (the token itself is never stored)."""
    from processes.engine.users import list_tokens

    with database().session() as s:
        rows = list_tokens(s, username)
    for t, owner in rows:
        revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        click.echo(f"{t.id}\t{owner}\t{t.label or '-'}\t{t.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@token.command("revoke")
@click.argument("username")
@click.option("--id", "token_id", type=click.IntRange(1, 2**31 - 1), default=None, help="One token (see `token list`); default all.")
def token_revoke(username: str, token_id: int | None) -> None:
    """Revoke a user's tokens (all, or one by id)."""
    from processes.engine.users import revoke_tokens

    count = _run(lambda s: revoke_tokens(s, CLI, username, token_id))
    click.echo(f"{count} token(s) revoked")


def register(main: click.Group) -> None:
    main.add_command(user)
    main.add_command(token)
