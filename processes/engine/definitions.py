"""Deploying process files as immutable, numbered, checksummed versions."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from processes.engine.errors import N_, DefinitionError
from processes.engine.models import ProcessDefinition
from processes.engine.spiff import load_parser, parse_definition, top_level_process_ids
from processes.engine.xmlsafe import UnsafeXmlError

DEFINITION_SUFFIXES = (".bpmn", ".dmn", ".json")


def content_sha256(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def read_files(base: Path, *names: str) -> dict[str, str]:
    """The BPMN, DMN and form files under `base` (or its subfolders `names`), keyed by path below `base`."""
    base = Path(base)
    if base.is_file():
        return {base.name: base.read_text(encoding="utf-8")} if base.suffix in DEFINITION_SUFFIXES else {}
    roots = [base / name for name in names] if names else [base]
    files: dict[str, str] = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_file() and path.suffix in DEFINITION_SUFFIXES:
                files[path.relative_to(base).as_posix()] = path.read_text(encoding="utf-8")
    return files


def latest(session: Session, process_key: str) -> ProcessDefinition | None:
    return session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == process_key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()


def deploy(session: Session, serializer, files: dict[str, str], actor: str, note: str = "") -> list[ProcessDefinition]:
    """Deploy every top-level process in `files`; returns the versions now current.

    A process whose latest version has the same content is left as it is."""
    if not files:
        raise DefinitionError(N_("no BPMN, DMN or form files to deploy"))
    sha = content_sha256(files)
    parsed = _parsed(files, sha, serializer.registry)
    deployed = []
    for process_id, (spec, subprocess_specs) in parsed.items():
        current = latest(session, process_id)
        if current is not None and current.sha256 == sha:
            deployed.append(current)
            continue
        version = (session.scalar(
            select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_key == process_id)
        ) or 0) + 1
        definition = ProcessDefinition(
            process_key=process_id, version=version, sha256=sha, files=files,
            spec=json.loads(spec), subprocess_specs=json.loads(subprocess_specs), note=note, deployed_by=actor,
        )
        session.add(definition)
        session.flush()
        deployed.append(definition)
    return deployed


# The same files parse to the same specs: the last few sets are kept (as JSON text, so no caller can change
# another's copy). `redress init` on every start, and the tests, deploy the same files into many databases.
# The key holds the registered handlers too: a missing handler refuses the set.
_PARSED: OrderedDict[tuple, dict[str, tuple[str, str]]] = OrderedDict()
_PARSED_KEPT = 8
_PARSED_LOCK = threading.Lock()


def _parsed(files: dict[str, str], sha: str, registry) -> dict[str, tuple[str, str]]:
    """{process id: (spec, sub-process specs)} as serialized JSON, for every top-level process of `files`."""
    from processes.engine.handlers import handler_names

    key = (sha, tuple(sorted(handler_names())))
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    raw = {name: text.encode("utf-8") for name, text in files.items()}
    try:
        parser = load_parser(raw)  # one parse serves every process of the set
        process_ids = top_level_process_ids(raw, parser)
    except (UnsafeXmlError, ValidationException) as exc:
        raise DefinitionError("%(reason)s", reason=str(exc)) from exc
    if not process_ids:
        raise DefinitionError(N_("the files contain no executable process"))
    result = {}
    for process_id in process_ids:
        try:
            spec, subprocess_specs = parse_definition(raw, process_id, parser)
        except (UnsafeXmlError, ValidationException) as exc:
            raise DefinitionError(N_("Process %(process_id)s cannot be read: %(reason)s"), process_id=process_id, reason=str(exc)) from exc
        problems = missing_references(files, [spec, *subprocess_specs.values()])
        if problems:
            raise DefinitionError(N_("Process %(process_id)s cannot be deployed: %(reason)s"),
                                  process_id=process_id, reason="; ".join(problems))
        result[process_id] = (json.dumps(registry.convert(spec)),
                              json.dumps({name: registry.convert(sp) for name, sp in subprocess_specs.items()}))
    with _PARSED_LOCK:
        _PARSED[key] = result
        while len(_PARSED) > _PARSED_KEPT:
            _PARSED.popitem(last=False)
    return result


def missing_references(files: dict[str, str], specs) -> list[str]:
    """Forms and service-task handlers the tasks name but that do not exist: deployed anyway,
    their tasks could never be shown or run (a KeyError at the first person or step)."""
    from processes.engine.handlers import handler_names

    known_handlers = set(handler_names())
    problems = []
    for process in specs:
        for task_spec in process.task_specs.values():
            properties = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
            form = properties.get("formJsonSchemaFilename")
            if form and form not in files and f"forms/{form}" not in files:
                problems.append(f"task {task_spec.bpmn_id or task_spec.name} uses form {form!r}, which is not among the files")
            operation = getattr(task_spec, "operation_name", None)
            if operation and operation not in known_handlers:
                problems.append(f"task {task_spec.bpmn_id or task_spec.name} calls handler {operation!r}, "
                                "which is not registered")
    return sorted(set(problems))


def latest_id(session: Session, process_key: str) -> int | None:
    return session.scalar(_LATEST, {"key": process_key})


_LATEST = (select(ProcessDefinition.id).where(ProcessDefinition.process_key == bindparam("key"))
           .order_by(ProcessDefinition.version.desc()).limit(1))


@dataclass(frozen=True)
class LoadedDefinition:
    id: int
    process_key: str
    version: int
    files: dict
    spec: object
    subprocess_specs: dict


class DefinitionCache:
    """Deployed versions with their restored specs; a version never changes, so this never goes stale."""

    def __init__(self, serializer):
        self.registry = serializer.registry
        self._loaded: dict[int, LoadedDefinition] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, definition_id: int) -> LoadedDefinition:
        with self._lock:
            loaded = self._loaded.get(definition_id)
        if loaded is None:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise DefinitionError(N_("process definition %(definition_id)s does not exist"), definition_id=definition_id)
            loaded = LoadedDefinition(
                row.id, row.process_key, row.version, row.files, self.registry.restore(row.spec),
                {name: self.registry.restore(sp) for name, sp in row.subprocess_specs.items()},
            )
            with self._lock:
                self._loaded[definition_id] = loaded
        return loaded
