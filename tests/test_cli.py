"""The redress command as an operator uses it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from web.cli import main


@pytest.fixture
def cli(db, monkeypatch):
    monkeypatch.setenv("REDRESS_DATABASE_URL", db.url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def test_user_add_and_token_create(cli, client_for_db):
    added = cli("user", "add", "li.product", "--department", "product", "--role", "department_staff",
                "--password", "s3cret-pass")
    assert added.exit_code == 0, added.output
    duplicate = cli("user", "add", "li.product", "-d", "product", "-r", "department_staff", "-p", "x")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    wrong_role = cli("user", "add", "x", "-d", "product", "-r", "wizard", "-p", "x")
    assert wrong_role.exit_code != 0 and "unknown role" in wrong_role.output

    created = cli("token", "create", "li.product")
    token = created.output.split()[-1]
    assert created.exit_code == 0 and token.startswith("rd_")
    response = client_for_db.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_deploy_twice_is_a_no_op_and_bad_files_are_refused(cli, tmp_path):
    from tests.conftest import ROOT

    first = cli("deploy", str(ROOT / "processes" / "benchmarks" / "standin"))
    again = cli("deploy", str(ROOT / "processes" / "benchmarks" / "standin"))
    assert first.exit_code == 0 and "standin: version 1" in first.output
    assert "standin: version 1" in again.output
    hostile = tmp_path / "evil.bpmn"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                       '<definitions>&e;</definitions>')
    refused = cli("deploy", str(hostile))
    assert refused.exit_code != 0 and "DOCTYPE" in refused.output
