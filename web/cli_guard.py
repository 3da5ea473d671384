"""The same input guards for every `redress` command as for every web entry.

After parsing, each command's values are checked with `processes.engine.inputsafe`: text
with a NUL or a lone surrogate (what bytes that are not UTF-8 become in `sys.argv`), text
longer than a command needs, integers too long to be meant, NaN and infinity. A refused
value is a usage error naming the option: a clear message and exit status 2, no traceback.
File paths are left alone (a file's name may be any bytes); the file's content is checked
by the command that reads it (`ingest-mail`, `deploy`).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import PurePath

import click

from processes.engine import inputsafe

MAX_TEXT = 2000  # a name, an e-mail address, a note: far more than any of them needs


def value_problem(value) -> str | None:
    """Why a parsed command-line value cannot be taken, or None."""
    if isinstance(value, PurePath | bool) or value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"The text is longer than {MAX_TEXT} characters."
        return inputsafe.text_problem(value)
    if isinstance(value, int):
        return inputsafe.value_problems(value).get("__all__")
    if isinstance(value, float):
        return None if math.isfinite(value) else inputsafe.NOT_FINITE
    if isinstance(value, datetime):
        return inputsafe.date_problem(value)
    if isinstance(value, list | tuple):
        for item in value:
            problem = value_problem(item)
            if problem:
                return problem
    return None


def _check(ctx: click.Context) -> None:
    for param in ctx.command.params:
        problem = value_problem(ctx.params.get(param.name))
        if problem:
            raise click.BadParameter(problem, ctx=ctx, param=param)


def _guarded(parse_args):
    def parse_and_check(ctx: click.Context, args: list[str]) -> list[str]:
        rest = parse_args(ctx, args)
        _check(ctx)
        return rest

    return parse_and_check


def guard(command: click.Command) -> None:
    """Check the values of this command and of every command under it (call once, when
    every command is registered)."""
    command.parse_args = _guarded(command.parse_args)
    for sub in getattr(command, "commands", {}).values():
        guard(sub)
