"""`redress definition validate|diff`: the designer's checks from a shell or CI, without a server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _files(paths: tuple[str, ...]) -> dict[str, str]:
    from processes.engine.definitions import read_files

    files: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.update(read_files(path))
        else:
            files[path.name if path.suffix != ".json" else f"forms/{path.name}"] = path.read_text(encoding="utf-8")
    return files


@click.group("definition")
def definition() -> None:
    """Check and compare process definitions (BPMN, DMN and forms)."""


@definition.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def validate_command(paths: tuple[str, ...], as_json: bool, lang: str) -> None:
    """Validate files or folders as one definition; exits 1 when there are errors."""
    from processes.governance.validation import validate

    report = validate(_files(paths))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for f in report.findings:
            where = ":".join(str(p) for p in (f.file, f.line) if p) or "-"
            click.echo(f"{f.severity:7} {where} {f.element_id or ''} {f.text(lang)}")
        click.echo(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s); "
                   f"processes: {', '.join(report.process_ids) or '-'}")
    sys.exit(0 if report.ok else 1)


@definition.command("diff")
@click.argument("old", type=click.Path(exists=True, file_okay=False))
@click.argument("new", type=click.Path(exists=True, file_okay=False))
def diff_command(old: str, new: str) -> None:
    """The semantic diff of two definition folders, as JSON."""
    from processes.governance.spec_diff import diff_definitions

    click.echo(json.dumps(diff_definitions(_files((old,)), _files((new,))), ensure_ascii=False, indent=2))


def register(main: click.Group) -> None:
    main.add_command(definition)
