"""Every `redress` command checks its arguments with the same input guards as the web entries
(issue 11: input that cannot hurt, at every entry, CLI included).

Before, only `ingest-mail` checked what it read: a NUL or bytes that are not UTF-8 in a user
name reached the database (a traceback on PostgreSQL), a 30-digit `--limit` or `--idle-poll
nan` went through, and `serve --port 999999` served on another port. Now a refused value is
a usage error naming the option, exit status 2, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from web.cli import main


def _leaves(group: click.Group, path=()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield (*path, name), command


def _argv(command: click.Command, target: click.Parameter, bad: str, tmp_path: Path) -> list[str]:
    """Arguments that parse, except `bad` given to `target`."""
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    args, options = [], []
    for param in command.params:
        if param is target:
            value = bad
        elif param.required or isinstance(param, click.Argument):
            value = str(existing) if isinstance(param.type, click.Path | click.File) else \
                "1" if isinstance(param.type, click.types.IntParamType) else "x"
        else:
            continue
        if isinstance(param, click.Argument):
            args.append(value)
        else:
            options += [param.opts[0], value]
    return options + args


def _text_params():
    """(command path, command, parameter) for every parameter that takes free text."""
    for path, command in _leaves(main):
        for param in command.params:
            if isinstance(param.type, click.types.StringParamType) and not getattr(param, "is_flag", False):
                yield path, command, param


TEXT_PARAMS = list(_text_params())


def test_every_command_with_text_is_covered():
    commands = {path for path, _, _ in TEXT_PARAMS}
    # The commands that take a name, an address, a note, a search: all of them are driven below.
    assert {("user", "add"), ("user", "edit"), ("user", "list"), ("token", "create"), ("deploy",)} <= commands
    print(f"\n{len(TEXT_PARAMS)} text parameters in {len(commands)} commands")


@pytest.mark.parametrize("bad", ["nul\x00here", "lone\udcffbyte", "x" * 5000],
                         ids=["nul", "not-utf8", "too-long"])
@pytest.mark.parametrize(("path", "command", "param"), TEXT_PARAMS,
                         ids=["-".join(p) + ":" + param.name for p, _, param in TEXT_PARAMS])
def test_bad_text_is_a_usage_error_naming_the_parameter(path, command, param, bad, tmp_path):
    result = CliRunner().invoke(main, [*path, *_argv(command, param, bad, tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output
    shown = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    assert shown in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("argv", [
    ["mail", "outbox", "--limit", "9" * 40],
    ["mail", "outbox", "--limit", "0"],
    ["mail", "outbox", "--status", "bogus"],
    ["worker", "--idle-poll", "nan"],
    ["worker", "--idle-poll", "0"],
    ["serve", "--port", "999999"],
    ["serve", "--threads", "100000"],
    ["token", "revoke", "someone", "--id", "9" * 40],
    ["user", "edit", "someone", "--locale", "xx"],
])
def test_numbers_and_choices_outside_their_range_are_usage_errors(argv):
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and "Traceback" not in result.output


def test_the_real_command_refuses_bytes_that_are_not_utf8_without_a_traceback(tmp_path):
    redress = Path(sys.executable).with_name("redress")
    env = {**os.environ, "REDRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
           "REDRESS_INSTANCE": str(tmp_path)}
    done = subprocess.run([str(redress).encode(), b"user", b"add", b"bad\xffname", b"-d", b"customer_service",
                           b"-r", b"agent", b"-p", b"a-long-pass-4471"], check=False, env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"Invalid value for 'USERNAME'" in done.stderr and b"Traceback" not in done.stderr
    assert not (tmp_path / "r.db").exists() or (tmp_path / "r.db").stat().st_size == 0  # nothing touched
