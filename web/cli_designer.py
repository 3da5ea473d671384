"""`redress definition validate|diff`: the designer's checks from a shell or CI, without a server.

Exit status of `validate`: 0 the definition is valid (warnings allowed), 1 it has errors,
2 a file could not be read (missing, unreadable bytes, not XML). Never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

# Findings that mean "this file could not be read at all" (exit 2), rather than "it has problems" (exit 1).
UNREADABLE = frozenset({"encoding", "not_well_formed", "too_large"})


class Unreadable(Exception):
    """A path the command could not read; the message says which and why."""


def read_paths(paths: tuple[str, ...]) -> dict[str, bytes]:
    """The definition files under `paths` as bytes, keyed as the designer keys them (forms under forms/).
    Bytes, not text: validation decodes each file by its own XML declaration."""
    from processes.engine.definitions import DEFINITION_SUFFIXES

    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                for item in sorted(path.rglob("*")):
                    if item.is_file() and item.suffix in DEFINITION_SUFFIXES:
                        files[item.relative_to(path).as_posix()] = item.read_bytes()
            else:
                files[path.name if path.suffix != ".json" else f"forms/{path.name}"] = path.read_bytes()
        except OSError as exc:
            raise Unreadable(f"{raw}: {exc.strerror or 'cannot be read'}") from None
    return files


def print_report(report, lang: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    for f in report.findings:
        where = ":".join(str(p) for p in (f.file, f.line) if p) or "-"
        click.echo(f"{f.severity:7} {where} {f.element_id or ''} {f.text(lang)}")
        if f.fix:
            click.echo(f"        {'修改' if lang == 'zh-CN' else 'fix'}: {f.fix['replace']} → {f.fix['with']}")
    for stage in report.stages:
        label = stage["label"].get(lang) or stage["label"]["en"]
        if stage["status"] == "done":
            click.echo(f"{'已检查' if lang == 'zh-CN' else 'checked'}: {label}")
        else:
            reason = stage["reason"].get(lang) or stage["reason"]["en"]
            click.echo(f"{'未检查' if lang == 'zh-CN' else 'not checked'}: {label} ({reason})")
    click.echo(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s); "
               f"processes: {', '.join(report.process_ids) or '-'}")


def exit_status(report) -> int:
    if any(f.code in UNREADABLE for f in report.errors):
        return 2
    return 0 if report.ok else 1


@click.group("definition")
def definition() -> None:
    """Check and compare process definitions (BPMN, DMN and forms)."""


@definition.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def validate_command(paths: tuple[str, ...], as_json: bool, lang: str) -> None:
    """Validate files or folders as one definition: exit 0 valid, 1 errors found, 2 a file could not be read."""
    from processes.governance.validation import validate

    try:
        files = read_paths(paths)
    except Unreadable as exc:
        click.echo(f"{'无法读取' if lang == 'zh-CN' else 'cannot read'}: {exc}", err=True)
        sys.exit(2)
    report = validate(files)
    print_report(report, lang, as_json)
    sys.exit(exit_status(report))


@definition.command("diff")
@click.argument("old", type=click.Path(exists=True, file_okay=False))
@click.argument("new", type=click.Path(exists=True, file_okay=False))
def diff_command(old: str, new: str) -> None:
    """The semantic diff of two definition folders, as JSON."""
    from processes.governance.drafts import clean_files
    from processes.governance.spec_diff import diff_definitions

    try:
        before, after = clean_files(read_paths((old,))), clean_files(read_paths((new,)))
    except (Unreadable, ValueError) as exc:
        click.echo(f"cannot read: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(diff_definitions(before, after), ensure_ascii=False, indent=2))


def register(main: click.Group) -> None:
    main.add_command(definition)
