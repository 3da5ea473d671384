"""The shape of the house: which room may import which, and no import circles.

Rooms (see docs/architecture.md): the engine imports none of the others; the complaint domain
imports the engine only; channels and governance import the engine and the complaint domain;
`handlers/`, `web/`, the composition root (`processes.app`) and the benchmarks sit on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("processes", "handlers", "web")

# room -> the rooms it may import (besides itself). `config` is a leaf anyone may read.
ALLOWED = {
    "processes.config": set(),
    "processes.engine": {"processes.config"},
    "processes.complaints": {"processes.config", "processes.engine"},
    "processes.channels": {"processes.config", "processes.engine", "processes.complaints"},
    "processes.governance": {"processes.config", "processes.engine", "processes.complaints"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            found[module_name(path)] = path
    return found


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports, at module level or inside functions alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name in modules:
                found.add(name)
            elif name.rsplit(".", 1)[0] in modules and isinstance(node, ast.ImportFrom):
                pass  # a name imported from a module: the module itself is already counted
    return found


def room_of(module: str) -> str | None:
    for room in ALLOWED:
        if module == room or module.startswith(room + "."):
            return room
    return None


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def rule_violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(edges.items()):
        room = room_of(module)
        if room is None:
            continue  # web/, handlers/, the composition root and the benchmarks sit on top
        for target in sorted(targets):
            target_room = room_of(target)
            if target_room == room or target_room in ALLOWED[room]:
                continue
            problems.append(f"{module} imports {target} ({room} may not import {target_room or target})")
    return problems


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            # `import a.b` also runs a/__init__.py; package __init__ files import nothing here.
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_rooms_import_only_downwards():
    assert rule_violations(graph()) == []


def test_no_import_circles():
    assert circles(graph()) == []


def test_the_checks_see_a_broken_rule():
    """The two checks above fail on a graph that breaks the rule (so they cannot pass vacuously)."""
    edges = graph()
    assert "processes.engine.runtime" in edges and "processes.complaints.registration" in edges
    edges["processes.engine.runtime"] = edges["processes.engine.runtime"] | {"processes.complaints.registration"}
    expected = ("processes.engine.runtime imports processes.complaints.registration "
                "(processes.engine may not import processes.complaints)")
    assert rule_violations(edges) == [expected]
    edges["processes.complaints.registration"] |= {"processes.engine.runtime"}
    assert ["processes.complaints.registration", "processes.engine.runtime"] in circles(edges)


def test_processes_keeps_only_a_handful_of_top_level_modules():
    top = sorted(p.name for p in (ROOT / "processes").glob("*.py"))
    assert top == ["__init__.py", "app.py", "config.py"]


@pytest.mark.parametrize("package", ["web", "handlers"])
def test_no_view_or_handler_touches_spiffworkflow(package):
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / package).rglob("*.py")
                 if "SpiffWorkflow" in {n.split(".")[0] for n in _imported_names(path)}]
    assert offenders == []


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names
