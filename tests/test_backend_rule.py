"""Which tests run on PostgreSQL too (docs/postgresql.md): every test on a database, unless its module
says it is backend-neutral; and no module that writes its own SQL may say so."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# Imports that reach the database other than through pages and product services.
SQL_MODULES = ("sqlalchemy", "processes.engine.db", "processes.engine.database", "processes.engine.store",
               "processes.engine.runtime", "processes.engine.worker")
# Fixtures that hand a test the database itself.
DATABASE_FIXTURES = {"database_url", "db", "runtime", "snapshot_copy", "pg_template", "sqlite_template"}


def _says_neutral(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            return "backend_neutral" in ast.unparse(node.value)
    return False


def reasons_not_neutral(source: str) -> list[str]:
    """Why a module that says it is backend-neutral may not be (empty: it may)."""
    tree = ast.parse(source)
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        reasons += [f"imports {name}" for name in names
                    if any(name == m or name.startswith(m + ".") for m in SQL_MODULES)]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            reasons += [f"{node.name} takes {a.arg}" for a in node.args.args if a.arg in DATABASE_FIXTURES]
        if isinstance(node, ast.Attribute) and node.attr == "postgres":
            reasons.append("has a test marked postgres")
    return reasons


def neutral_modules() -> dict[str, str]:
    found = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        if _says_neutral(ast.parse(source)):
            found[str(path.relative_to(TESTS))] = source
    return found


def test_no_module_that_reaches_the_database_itself_is_backend_neutral():
    modules = neutral_modules()
    assert "test_complaint_pages.py" in modules  # the rule is in use (and this test reads it)
    broken = {name: reasons for name, source in modules.items() if (reasons := reasons_not_neutral(source))}
    assert broken == {}


def test_the_rule_sees_sql_a_database_fixture_and_a_postgres_marker():
    runtime_tests = (TESTS / "test_runtime.py").read_text(encoding="utf-8")
    reasons = reasons_not_neutral(runtime_tests)
    assert any(r.startswith("imports sqlalchemy") for r in reasons)
    assert any(r.endswith("takes runtime") for r in reasons) and "has a test marked postgres" in reasons
    assert reasons_not_neutral("def test_page(client):\n    assert client\n") == []
    marked = "import pytest\npytestmark = pytest.mark.backend_neutral\n"
    assert _says_neutral(ast.parse(marked)) and not _says_neutral(ast.parse(runtime_tests))
