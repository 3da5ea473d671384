"""`redress settings|calendar|budget …`: the reviewed configuration and the budgets from the shell
(issue 15), as a named person through the same services as the pages: their role, the four eyes,
the checks and the audit. A refused value is a usage error naming the option or key; nothing changes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from processes.complaints.records import BudgetChange, ConfigVersion, DepartmentBudget
from processes.engine.models import AuditEntry
from processes.engine.users import add_user
from processes.governance.models import ConfigDraft
from web.cli import main

PEOPLE = [("dora", "management", "process_designer"), ("rita", "management", "compliance_reviewer"),
          ("ada", "management", "admin"), ("max", "management", "manager"), ("wang", "customer_service", "agent")]


@pytest.fixture
def cli(db, monkeypatch):
    monkeypatch.setenv("REDRESS_DATABASE_URL", db.url)
    with db.write_session.begin() as s:
        for username, department, role in PEOPLE:
            add_user(s, username, department, role, "s3cret-pass-word")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def _count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_settings_proposed_and_approved_as_named_people_with_four_eyes(cli, db):
    shown = cli("settings", "show")
    assert shown.exit_code == 0 and "compensation_approval_threshold\t500" in shown.output
    assert "sla_profile\tdefault" in shown.output and "none approved yet" in shown.output

    proposed = cli("settings", "propose", "compensation_approval_threshold=300", "sla_profile=cbirc",
                   "agent_channels=phone,letter", "--note", "Bank branch", "--as", "dora")
    assert proposed.exit_code == 0, proposed.output
    assert "compensation_approval_threshold: 500 -> 300" in proposed.output
    assert "sla_profile: default -> CBIRC" in proposed.output
    assert "agent_channels: phone, walk_in, letter -> phone, letter" in proposed.output
    with db.session() as s:
        draft_id = s.scalar(select(ConfigDraft.id))
    listed = cli("settings", "review", "list")
    assert f"{draft_id}\tsubmitted\tdora" in listed.output
    shown = cli("settings", "review", "show", str(draft_id))
    assert shown.output.count(" -> ") == 3 and "by dora: Bank branch" in shown.output

    for who in ("dora", "wang"):  # the author is no reviewer, nor is an agent
        refused = cli("settings", "review", "approve", str(draft_id), "--as", who)
        assert refused.exit_code == 1 and "Only a compliance reviewer" in refused.output
    assert _count(db, ConfigVersion) == 0
    approved = cli("settings", "review", "approve", str(draft_id), "--as", "rita", "--comment", "ok")
    assert approved.exit_code == 0 and "settings version 1 is in force" in approved.output
    shown = cli("settings", "show")
    assert "version 1" in shown.output and "sla_profile\tCBIRC" in shown.output
    assert "compensation_approval_threshold\t300" in shown.output
    with db.session() as s:
        audit = [(e.actor, e.action) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.business_key == "config:settings").order_by(AuditEntry.id))]
    assert audit == [("dora", "config_submitted"), ("rita", "config_approved")]


def test_four_eyes_and_a_rejection_needs_a_reason(cli, db):
    cli("settings", "propose", "max_mediation_rounds=2", "--note", "fewer rounds", "--as", "ada")
    with db.session() as s:
        draft_id = str(s.scalar(select(ConfigDraft.id)))
    own = cli("settings", "review", "approve", draft_id, "--as", "ada")
    assert own.exit_code == 1 and "Four eyes" in own.output  # an admin reviews, but not their own change
    own = cli("settings", "review", "reject", draft_id, "--note", "no", "--as", "ada")
    assert own.exit_code == 1 and "Four eyes" in own.output  # an admin is no reviewer of their own change
    blank = cli("settings", "review", "reject", draft_id, "--note", " ", "--as", "rita")
    assert blank.exit_code == 2 and "--note: Say why the change is rejected" in blank.output
    done = cli("settings", "review", "reject", draft_id, "--note", "keep three", "--as", "rita")
    assert done.exit_code == 0
    with db.session() as s:
        assert s.scalar(select(ConfigDraft.status)) == "rejected"


@pytest.mark.parametrize(("argv", "named", "message"), [
    (["details_timeout=7 days"], "details_timeout=", "is not an ISO 8601 duration"),
    (["compensation_approval_threshold=-300"], "compensation_approval_threshold=", "must be above 0"),
    (["sla_profile=NFRA"], "sla_profile=", "Choose one of the SLA profiles: default, SAMR, CBIRC, FCA, CFPB"),
    (["colour=blue"], "colour=", "There is no setting of this name"),
    (["required_fields=nonsense"], "required_fields=", "Unknown: nonsense"),
    (["max_mediation_rounds"], "KEY=VALUE", "is not KEY=VALUE"),
])
def test_bad_settings_are_usage_errors_naming_the_key_and_nothing_changes(cli, db, argv, named, message):
    result = cli("settings", "propose", *argv, "--note", "try", "--as", "dora")
    assert result.exit_code == 2, result.output
    assert named in result.output and message in result.output
    assert _count(db, ConfigDraft) == 0 and _count(db, AuditEntry) == 0


@pytest.mark.parametrize(("argv", "named", "message"), [
    (["--note", " ", "--as", "dora"], "--note", "Say why the change is needed"),
    (["--note", "x", "--as", "nobody"], "--as", "there is no active account 'nobody'"),
])
def test_a_proposal_needs_a_note_and_a_real_person(cli, db, argv, named, message):
    result = cli("settings", "propose", "max_mediation_rounds=2", *argv)
    assert result.exit_code == 2 and named in result.output and message in result.output
    assert _count(db, ConfigDraft) == 0


def test_only_a_designer_or_admin_proposes_settings(cli, db):
    result = cli("settings", "propose", "max_mediation_rounds=2", "--note", "x", "--as", "max")
    assert result.exit_code == 1 and "Your role may not change this configuration" in result.output
    assert _count(db, ConfigDraft) == 0


def test_calendar_proposed_by_an_admin_and_approved(cli, db):
    proposed = cli("calendar", "propose", "--add-closure", "2026-02-20 年会", "--add-workday", "2026-03-07 盘点",
                   "--opening", "08:30", "--note", "annual party", "--as", "ada")
    assert proposed.exit_code == 0, proposed.output
    assert "closures: - -> 2026-02-20 年会" in proposed.output and "opening: 09:00 -> 08:30" in proposed.output
    with db.session() as s:
        draft_id = str(s.scalar(select(ConfigDraft.id)))
    assert cli("calendar", "review", "approve", draft_id, "--as", "rita").exit_code == 0
    shown = cli("calendar", "show", "--year", "2026")
    assert "version 1" in shown.output and "working hours\t08:30-18:00" in shown.output
    assert "closure\t2026-02-20\t年会" in shown.output and "statutory holiday (CN)\t2026-02-17" in shown.output
    removed = cli("calendar", "propose", "--remove-closure", "2026-02-20", "--note", "cancelled", "--as", "ada")
    assert removed.exit_code == 0 and "closures: 2026-02-20 年会 -> -" in removed.output
    # settings' review commands do not decide a calendar change
    with db.session() as s:
        second = str(s.scalar(select(func.max(ConfigDraft.id))))
    wrong_kind = cli("settings", "review", "approve", second, "--as", "rita")
    assert wrong_kind.exit_code == 1 and "no such configuration change" in wrong_kind.output


@pytest.mark.parametrize(("argv", "named", "message", "who"), [
    (["--add-closure", "2026-02-30 bad"], "--add-closure", "is not a date", "ada"),
    (["--opening", "9am"], "--opening", "Enter a time as HH:MM", "ada"),
    (["--remove-workday", "2026-05-01"], "--remove-workday", "'2026-05-01' is not in the calendar", "ada"),
])
def test_bad_calendar_input_names_the_option(cli, db, argv, named, message, who):
    result = cli("calendar", "propose", *argv, "--note", "x", "--as", who)
    assert result.exit_code == 2, result.output
    assert named in result.output and message in result.output
    assert _count(db, ConfigDraft) == 0


def test_calendar_is_proposed_by_admins_only(cli, db):
    result = cli("calendar", "propose", "--opening", "08:00", "--note", "x", "--as", "dora")
    assert result.exit_code == 1 and "Your role may not change" in result.output


def test_budget_set_by_a_manager_with_history(cli, db):
    listed = cli("budget", "list", "--month", "2026-03")
    assert listed.exit_code == 0 and "product\t2026-03\t20000\tdefault\t0.00\t20000.00" in listed.output
    done = cli("budget", "set", "product", "2026-03", "35000", "--reason", "launch month", "--as", "max")
    assert done.exit_code == 0 and "budget product 2026-03: - -> 35000" in done.output
    again = cli("budget", "set", "product", "2026-03", "30000.50", "--as", "max")
    assert "35000.00 -> 30000.50" in again.output
    assert "product\t2026-03\t30000.50\town" in cli("budget", "list", "--month", "2026-03").output
    history = cli("budget", "history", "--department", "product").output.splitlines()
    assert [line.split("\t")[1:7] for line in history] == [
        ["product", "2026-03", "35000.00", "30000.50", "max", ""],
        ["product", "2026-03", "-", "35000.00", "max", "launch month"]]


@pytest.mark.parametrize(("argv", "named", "message"), [
    (["product", "2026-03", "-5"], "AMOUNT", "A budget is 0 or more"),
    (["product", "2026-13", "5"], "MONTH", "Enter a month as YYYY-MM"),
    (["marketing", "2026-03", "5"], "DEPARTMENT", "Choose a department from the list"),
])
def test_bad_budgets_are_usage_errors_and_nothing_changes(cli, db, argv, named, message):
    result = cli("budget", "set", "--as", "max", "--", *argv)  # `--`: "-5" is a value, not an option
    assert result.exit_code == 2 and named in result.output and message in result.output
    assert _count(db, DepartmentBudget) == 0 and _count(db, BudgetChange) == 0


def test_only_management_sets_budgets(cli, db):
    result = cli("budget", "set", "product", "2026-03", "5", "--as", "dora")
    assert result.exit_code == 1 and "Only management sets budgets" in result.output
    assert cli("budget", "list", "--month", "March").exit_code == 2


def test_a_change_is_withdrawn_by_its_author_and_a_deactivated_account_acts_no_more(cli, db):
    from processes.engine.actors import Actor
    from processes.engine.users import set_active

    cli("settings", "propose", "max_mediation_rounds=2", "--note", "fewer rounds", "--as", "dora")
    with db.session() as s:
        draft_id = str(s.scalar(select(ConfigDraft.id)))
    other = cli("settings", "review", "withdraw", draft_id, "--as", "wang")
    assert other.exit_code == 1 and "Only the author" in other.output
    with db.write_session.begin() as s:
        set_active(s, Actor("ada", "management", "admin"), "rita", False)
    gone = cli("settings", "review", "approve", draft_id, "--as", "rita")
    assert gone.exit_code == 2 and "there is no active account 'rita'" in gone.output
    done = cli("settings", "review", "withdraw", draft_id, "--as", "dora")
    assert done.exit_code == 0
    with db.session() as s:
        assert s.scalar(select(ConfigDraft.status)) == "withdrawn"
