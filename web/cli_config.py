"""`redress settings …`, `redress calendar …` and `redress budget …`: the reviewed configuration and
the budgets from the shell.

A change is made as a named person (`--as USER`, an active account) through the same services as
/admin/settings, /admin/calendar and /admin/budgets, so the roles, the four eyes, the checks and the
audit are theirs. A refused value is a usage error naming the option or the key, and nothing changes."""

from __future__ import annotations

import click

from processes.engine.actors import Actor
from web.cli_context import database

READER = Actor("cli", None, "admin")  # reading needs no named person: an operator at the shell
AS_USER = click.option("--as", "as_user", required=True, metavar="USER",
                       help="The person making the change (an active account); their role is checked.")


def _actor(session, username: str) -> Actor:
    from sqlalchemy import select

    from processes.engine.models import User
    from processes.engine.users import actor_for

    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.BadParameter(f"there is no active account {username!r}", param_hint="--as")
    return actor_for(user)


def _run(action, fields: tuple[type, ...] = ()):
    """One transaction as the named person; a refusal is the command's error and nothing is kept.
    `fields`: refusals with a message per field, left to the caller to name the option."""
    from processes.engine.errors import RuntimeProblem

    try:
        with database().write_session.begin() as s:
            return action(s)
    except fields:
        raise
    except RuntimeProblem as exc:
        raise click.ClickException(exc.message) from exc


def _refused(problems: dict, hints: dict[str, str]) -> click.UsageError:
    """The first refusal, named as the person typed it (`--note`, `KEY=VALUE` …), as a usage error."""
    lines = [f"{hints.get(field, field)}: {template % params if params else template}"
             for field, (template, params) in problems.items()]
    return click.UsageError("; ".join(lines) + " (nothing was changed)")


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v['date']} {v.get('name', '')}".strip() if isinstance(v, dict) else str(v)
                         for v in value) or "-"
    return "-" if value in (None, "") else str(value)


def _propose(kind: str, as_user: str, change, note: str, hints: dict[str, str]) -> None:
    from processes.governance import config_review

    def propose(s):
        _version, values = config_review.in_force(s, kind)
        report = config_review.settings_test_run(s) if kind == "settings" else None
        draft = config_review.propose(s, _actor(s, as_user), kind, change(values), note, report=report)
        return draft.id, [(c.key, _shown(c.old), _shown(c.new)) for c in config_review.changes(s, draft)]

    try:
        draft_id, rows = _run(propose, (config_review.ConfigRefused,))
    except config_review.ConfigRefused as exc:
        raise _refused(exc.problems, {"note": "--note", **hints}) from exc
    for key, old, new in rows:
        click.echo(f"{key}: {old} -> {new}")
    click.echo(f"change {draft_id} awaits a compliance reviewer (`redress {kind} review approve {draft_id}`)")


def _review_group(kind: str) -> click.Group:
    """`review list|show|approve|reject|withdraw` for one kind of configuration."""
    group = click.Group("review", help=f"Changes of the {kind} awaiting review and decided.")

    @group.command("list")
    def review_list() -> None:
        """One line per change, newest first: id, status, author, approved version, note."""
        from processes.governance import config_review

        with database().session() as s:
            for d in config_review.drafts(s, kind):
                click.echo(f"{d.id}\t{d.status}\t{d.author}\t{d.approved_version or '-'}\t{d.note[:80]}")

    @group.command("show")
    @click.argument("change_id", type=click.IntRange(1, 2**31 - 1))
    def review_show(change_id: int) -> None:
        """What the change changes, old beside new, as the reviewer sees it."""
        from processes.engine.errors import RuntimeProblem
        from processes.governance import config_review

        with database().session() as s:
            try:
                draft = config_review.get(s, change_id, kind)
            except RuntimeProblem as exc:
                raise click.ClickException(exc.message) from exc
            click.echo(f"change {draft.id} ({draft.status}) by {draft.author}: {draft.note}")
            for c in config_review.changes(s, draft):
                click.echo(f"{c.key}: {_shown(c.old)} -> {_shown(c.new)}")

    @group.command("approve")
    @click.argument("change_id", type=click.IntRange(1, 2**31 - 1))
    @click.option("--comment", default="")
    @AS_USER
    def review_approve(change_id: int, comment: str, as_user: str) -> None:
        """Approve a change (a compliance reviewer who did not propose it): the next numbered version."""
        from processes.governance import config_review

        version = _run(lambda s: config_review.approve(s, _actor(s, as_user), change_id, comment, kind=kind).version)
        click.echo(f"change {change_id} approved: {kind} version {version} is in force for what starts now")

    @group.command("reject")
    @click.argument("change_id", type=click.IntRange(1, 2**31 - 1))
    @click.option("--note", required=True, help="Why the change is rejected (the author reads it).")
    @AS_USER
    def review_reject(change_id: int, note: str, as_user: str) -> None:
        """Reject a change with a reason (a compliance reviewer who did not propose it)."""
        from processes.governance import config_review

        try:
            _run(lambda s: config_review.reject(s, _actor(s, as_user), change_id, note, kind=kind),
                 (config_review.ConfigRefused,))
        except config_review.ConfigRefused as exc:
            raise _refused(exc.problems, {"comment": "--note"}) from exc
        click.echo(f"change {change_id} rejected")

    @group.command("withdraw")
    @click.argument("change_id", type=click.IntRange(1, 2**31 - 1))
    @AS_USER
    def review_withdraw(change_id: int, as_user: str) -> None:
        """Withdraw a change awaiting review (its author, or an administrator)."""
        from processes.governance import config_review

        _run(lambda s: config_review.withdraw(s, _actor(s, as_user), change_id, kind=kind))
        click.echo(f"change {change_id} withdrawn")

    return group


# -- process settings -----------------------------------------------------------------------------


@click.group()
def settings() -> None:
    """The process settings (timeouts, thresholds, SLA profile …), changed under review."""


@settings.command("show")
def settings_show() -> None:
    """The settings in force, one `key<TAB>value` line each (lists comma-separated)."""
    from processes.governance import config_review

    with database().session() as s:
        version, values = config_review.in_force(s, "settings")
        waiting = config_review.pending(s, "settings")
    click.echo(f"version {version}" if version else "version: the shipped defaults (none approved yet)")
    for key, value in values.items():
        click.echo(f"{key}\t{','.join(value) if isinstance(value, list) else value}")
    if waiting is not None:
        click.echo(f"change {waiting.id} by {waiting.author} awaits review")


@settings.command("propose")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--note", required=True, help="Why the change is needed (the reviewer reads it).")
@AS_USER
def settings_propose(assignments: tuple[str, ...], note: str, as_user: str) -> None:
    """Propose new values, e.g. `compensation_approval_threshold=300 sla_profile=CBIRC`; lists are
    comma-separated (`agent_channels=phone,letter`). A compliance reviewer then approves or rejects."""
    from processes.complaints.settings import KINDS

    changes = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="KEY=VALUE")
        key = key.strip()
        listed = KINDS.get(key) in ("fields", "channels")
        changes[key] = [v.strip() for v in value.split(",") if v.strip()] if listed else value
    hints = {key: f"{key}=" for key in changes}
    _propose("settings", as_user, lambda values: {**values, **changes}, note, hints)


settings.add_command(_review_group("settings"))


# -- business calendar ---------------------------------------------------------------------------


@click.group()
def calendar() -> None:
    """The company's closures, extra working days and working hours, changed under review."""


@calendar.command("show")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="Also list this year's statutory days.")
def calendar_show(year: int | None) -> None:
    """The calendar in force; with --year, the statutory holidays and make-up working days too."""
    from processes.complaints import company_calendar
    from processes.complaints.sla import load_policy
    from processes.governance import config_review

    with database().session() as s:
        version, values = config_review.in_force(s, "calendar")
        waiting = config_review.pending(s, "calendar")
    click.echo(f"version {version}" if version else "version: none approved yet")
    click.echo(f"working hours\t{values['opening']}-{values['closing']}")
    for label, key in (("closure", "closures"), ("working day", "workdays")):
        for day in values[key]:
            click.echo(f"{label}\t{day['date']}\t{day['name']}")
    if year:
        country = load_policy().country
        holidays, makeup = company_calendar.statutory(country, year)
        for day, name in holidays:
            click.echo(f"statutory holiday ({country})\t{day.isoformat()}\t{name}")
        for day in makeup:
            click.echo(f"statutory make-up working day ({country})\t{day.isoformat()}")
    if waiting is not None:
        click.echo(f"change {waiting.id} by {waiting.author} awaits review")


def _day_option(name: str, what: str):
    return click.option(name, multiple=True, metavar="YYYY-MM-DD[ NAME]", help=what)


@calendar.command("propose")
@_day_option("--add-closure", "A day the company is closed, e.g. '2026-02-20 年会'.")
@_day_option("--remove-closure", "A closure to take away (its date).")
@_day_option("--add-workday", "An extra working day, e.g. '2026-03-07 盘点'.")
@_day_option("--remove-workday", "An extra working day to take away (its date).")
@click.option("--opening", default=None, metavar="HH:MM")
@click.option("--closing", default=None, metavar="HH:MM")
@click.option("--note", required=True, help="Why the change is needed (the reviewer reads it).")
@AS_USER
def calendar_propose(add_closure, remove_closure, add_workday, remove_workday, opening, closing, note,
                     as_user) -> None:
    """Propose a change of the calendar; the SLA clocks use it once a compliance reviewer approves."""
    def change(values):
        new = dict(values)
        for key, added, removed, option in (("closures", add_closure, remove_closure, "--remove-closure"),
                                            ("workdays", add_workday, remove_workday, "--remove-workday")):
            dates = {d["date"] for d in values[key]}
            missing = [day for day in removed if day.strip() not in dates]
            if missing:
                raise click.BadParameter(f"{missing[0]!r} is not in the calendar", param_hint=option)
            kept = [f"{d['date']} {d['name']}".strip() for d in values[key] if d["date"] not in
                    {day.strip() for day in removed}]
            new[key] = kept + list(added)
        for key, value in (("opening", opening), ("closing", closing)):
            if value is not None:
                new[key] = value
        return new

    hints = {"closures": "--add-closure", "workdays": "--add-workday", "opening": "--opening",
             "closing": "--closing"}
    _propose("calendar", as_user, change, note, hints)


calendar.add_command(_review_group("calendar"))


# -- budgets ------------------------------------------------------------------------------------


@click.group()
def budget() -> None:
    """Departments' monthly compensation budgets (set by management)."""


@budget.command("list")
@click.option("--month", default=None, metavar="YYYY-MM", help="Default: this month.")
def budget_list(month: str | None) -> None:
    """Every department's budget for the month: department, amount, own or default, spent, remaining."""
    from decimal import Decimal

    from processes.complaints import budgets
    from processes.engine.models import utcnow
    from processes.governance import config_review

    if month is not None and budgets.check_month(month) is None:
        raise click.BadParameter("a month is YYYY-MM, for example 2026-03", param_hint="--month")
    month = month or utcnow().strftime("%Y-%m")
    with database().session() as s:
        default = Decimal(str(config_review.in_force(s, "settings")[1].get("default_monthly_budget") or 0))
        for row in budgets.month_budgets(s, READER, month, default):
            click.echo(f"{row.department}\t{row.month}\t{row.amount}\t{'own' if row.own else 'default'}\t"
                       f"{row.spent}\t{row.remaining}")


@budget.command("history")
@click.option("--department", default=None)
@click.option("--month", default=None, metavar="YYYY-MM")
def budget_history(department: str | None, month: str | None) -> None:
    """Every change, newest first: when, department, month, old, new, by whom, reason."""
    from processes.complaints import budgets

    with database().session() as s:
        for c in budgets.history(s, READER, department, month):
            old = "-" if c.old_amount is None else c.old_amount
            click.echo(f"{c.at:%Y-%m-%d %H:%M}\t{c.department}\t{c.month}\t{old}\t{c.new_amount}\t"
                       f"{c.changed_by}\t{c.note}")


@budget.command("set")
@click.argument("department")
@click.argument("month", metavar="YYYY-MM")
@click.argument("amount")
@click.option("--reason", default="", help="Kept in the history of changes.")
@AS_USER
def budget_set(department: str, month: str, amount: str, reason: str, as_user: str) -> None:
    """Set DEPARTMENT's budget for MONTH to AMOUNT (a manager); the old and new amounts are kept."""
    from processes.complaints import budgets

    try:
        change = _run(lambda s: budgets.set_budget(s, _actor(s, as_user), department, month, amount, reason),
                      (budgets.BudgetRefused,))
    except budgets.BudgetRefused as exc:
        raise _refused(exc.problems, {"department": "DEPARTMENT", "month": "MONTH", "amount": "AMOUNT",
                                      "note": "--reason"}) from exc
    old = "-" if change.old_amount is None else change.old_amount
    click.echo(f"budget {department} {month}: {old} -> {change.new_amount}")


def register(main: click.Group) -> None:
    main.add_command(settings)
    main.add_command(calendar)
    main.add_command(budget)
