"""Harmless changes move every running case: a new label on a form or a step changes nothing a case
has done or is waiting for, so the new version takes them all, their SLA clocks untouched."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from processes.app import build_runtime
from processes.complaints.demo import _investigate, worker_for
from processes.engine.actors import Actor
from processes.engine.database import Database
from processes.engine.definitions import read_files
from processes.engine.models import HumanTask, ProcessInstance, Timer
from processes.governance.migration import check, migrate
from tests.conftest import ROOT, fill_with_demo

REVIEWER = Actor("zhao.compliance", None, "compliance_reviewer")


def _relabel_form(files: dict) -> dict:
    changed = dict(files)
    form = json.loads(changed["forms/investigate.json"])
    form["properties"]["findings"]["x-ui"]["label"] = {"zh-CN": "调查事实(已核实)", "en": "Verified findings"}
    changed["forms/investigate.json"] = json.dumps(form, ensure_ascii=False)
    return changed


def _rename_steps(files: dict) -> dict:
    changed = dict(files)
    bpmn = changed["bpmn/complaint.bpmn"]
    for old, new in (('name="登记投诉"', 'name="登记客户投诉"'),
                     ('value="Register complaint"', 'value="Register the complaint"')):
        assert old in bpmn
        bpmn = bpmn.replace(old, new)
    changed["bpmn/complaint.bpmn"] = bpmn
    return changed


def _running(db):
    with db.session() as s:
        return {i.id: i.definition_id for i in s.scalars(
            select(ProcessInstance).where(ProcessInstance.process_key == "complaint_handling",
                                          ProcessInstance.status == "running"))}


def _waiting_timers(db):
    with db.session() as s:
        return {(t.instance_id, t.task_id): t.due_at for t in s.scalars(
            select(Timer).where(Timer.status == "waiting"))}


@pytest.fixture
def demo_db(snapshot_copy):
    """The demo's running complaints on the shipped model, loaded once per session and copied per test."""
    db = Database(snapshot_copy("demo", fill_with_demo))
    yield db
    db.dispose()


def _demo_runtime(db):
    runtime = build_runtime(db=db, mail=False)
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))  # already there: finds the same version
    return runtime


def _deploy_and_migrate(runtime, db, files):
    [v2] = [d for d in runtime.deploy(files) if d.process_key == "complaint_handling"]
    assessments = check(runtime, v2.id)
    batch = migrate(runtime, REVIEWER, v2.id)
    return v2, assessments, batch


def test_a_form_label_change_moves_every_running_complaint_and_keeps_its_clocks(demo_db):
    db = demo_db
    runtime = _demo_runtime(db)
    files = read_files(ROOT, "bpmn", "forms")
    before = _running(db)
    timers = _waiting_timers(db)
    assert len(before) >= 5 and timers

    v2, assessments, batch = _deploy_and_migrate(runtime, db, _relabel_form(files))

    assert [a.business_key for a in assessments if not a.safe] == []
    assert batch.report["refused"] == []
    assert set(_running(db).values()) == {v2.id}
    assert _waiting_timers(db) == timers  # no clock restarted, none lost

    # Every moved case shows the new label and carries on: an investigation is completed on v2.
    with db.session() as s:
        investigations = list(s.scalars(select(HumanTask).where(
            HumanTask.status == "open", HumanTask.form == "investigate.json")))
    assert investigations
    for row in investigations:
        _row, schema = runtime.task_form(row.id)
        assert schema["properties"]["findings"]["x-ui"]["label"]["zh-CN"] == "调查事实(已核实)"
    row = investigations[0]
    _kind, _task, data = _investigate(row.bpmn_id, "company")
    runtime.complete(row.id, worker_for(row), dict(data))
    with db.session() as s:
        instance = s.get(ProcessInstance, row.instance_id)
        assert instance.status == "running" and instance.error is None
    assert runtime.open_tasks(row.business_key), "the case moved on to its next step"


def test_renaming_a_step_moves_cases_that_are_at_it_and_the_inbox_shows_the_new_name(demo_db):
    db = demo_db
    runtime = _demo_runtime(db)
    files = read_files(ROOT, "bpmn", "forms")
    with db.session() as s:
        at_register = s.scalars(select(HumanTask.business_key).where(
            HumanTask.status == "open", HumanTask.bpmn_id == "Task_Register")).all()
    assert at_register, "the demo leaves a complaint waiting to be registered"

    _v2, _assessments, batch = _deploy_and_migrate(runtime, db, _rename_steps(files))

    assert batch.report["refused"] == []
    with db.session() as s:
        names = set(s.scalars(select(HumanTask.name).where(
            HumanTask.status == "open", HumanTask.bpmn_id == "Task_Register")))
    assert names == {"登记客户投诉"}
    [task] = [t for t in runtime.open_tasks(at_register[0]) if t.bpmn_id == "Task_Register"]
    assert task.name == "登记客户投诉"


def test_a_real_change_to_a_reached_step_still_keeps_the_case_on_its_version(demo_db):
    db = demo_db
    runtime = _demo_runtime(db)
    files = read_files(ROOT, "bpmn", "forms")
    changed = dict(files)
    # The register step now reads another form: it behaves differently, so a case at it may not move.
    assert 'value="register.json"' in changed["bpmn/complaint.bpmn"]
    changed["bpmn/complaint.bpmn"] = changed["bpmn/complaint.bpmn"].replace('value="register.json"',
                                                                  'value="classify.json"')
    _v2, _checked, batch = _deploy_and_migrate(runtime, db, changed)
    refused = {r["business_key"]: r for r in batch.report["refused"]}
    assert refused, "a case at the changed step is refused"
    for item in refused.values():
        assert any("登记投诉" in e["zh-CN"] for e in item["explanations"])
