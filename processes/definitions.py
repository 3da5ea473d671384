"""Deploying process files as immutable, numbered, checksummed versions."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from processes.engine import parse_definition, top_level_process_ids
from processes.errors import DefinitionError
from processes.models import ProcessDefinition
from processes.xmlsafe import UnsafeXmlError

DEFINITION_SUFFIXES = (".bpmn", ".dmn", ".json")


def content_sha256(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def read_files(base: Path, *names: str) -> dict[str, str]:
    """The BPMN, DMN and form files under `base` (or its subfolders `names`), keyed by path below `base`."""
    base = Path(base)
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
        raise DefinitionError("no BPMN, DMN or form files to deploy")
    raw = {name: text.encode("utf-8") for name, text in files.items()}
    try:
        process_ids = top_level_process_ids(raw)
    except (UnsafeXmlError, ValidationException) as exc:
        raise DefinitionError(str(exc)) from exc
    if not process_ids:
        raise DefinitionError("the files contain no executable process")
    sha = content_sha256(files)
    deployed = []
    for process_id in process_ids:
        current = latest(session, process_id)
        if current is not None and current.sha256 == sha:
            deployed.append(current)
            continue
        try:
            spec, subprocess_specs = parse_definition(raw, process_id)
        except (UnsafeXmlError, ValidationException) as exc:
            raise DefinitionError(f"{process_id}: {exc}") from exc
        registry = serializer.registry
        version = (session.scalar(
            select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_key == process_id)
        ) or 0) + 1
        definition = ProcessDefinition(
            process_key=process_id, version=version, sha256=sha, files=files,
            spec=registry.convert(spec),
            subprocess_specs={name: registry.convert(sp) for name, sp in subprocess_specs.items()},
            note=note, deployed_by=actor,
        )
        session.add(definition)
        session.flush()
        deployed.append(definition)
    return deployed


class SpecCache:
    """Restored specs per definition id; a deployed version never changes, so this never goes stale."""

    def __init__(self, serializer):
        self.registry = serializer.registry
        self._specs: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> tuple:
        with self._lock:
            cached = self._specs.get(definition.id)
        if cached is None:
            spec = self.registry.restore(definition.spec)
            subprocess_specs = {name: self.registry.restore(sp) for name, sp in definition.subprocess_specs.items()}
            cached = (spec, subprocess_specs)
            with self._lock:
                self._specs[definition.id] = cached
        return cached
