"""Moving running instances to a newer version: only when safe, in bulk, with a report, undoable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from processes.engine.actors import Actor
from processes.engine.errors import Forbidden
from processes.engine.models import AuditEntry, HumanTask, ProcessDefinition, ProcessInstance
from processes.governance.migration import check, migrate, undo

REVIEWER = Actor("zhao.compliance", None, "compliance_reviewer")


def changed_handle(files):
    """v2: the product department's task loops on another condition (a step that behaves differently)."""
    changed = dict(files)
    changed["standin.bpmn"] = changed["standin.bpmn"].replace(
        "<bpmn:loopCondition>again</bpmn:loopCondition>", "<bpmn:loopCondition>again is True</bpmn:loopCondition>")
    assert changed["standin.bpmn"] != files["standin.bpmn"]
    return changed


def renamed_handle(files):
    """v2: the same task with a new name only: it behaves exactly as before."""
    changed = dict(files)
    changed["standin.bpmn"] = changed["standin.bpmn"].replace('name="处理"', 'name="调查处理"')
    assert changed["standin.bpmn"] != files["standin.bpmn"]
    return changed


@pytest.fixture
def two_versions(runtime, standin_files, agent):
    runtime.deploy(standin_files)
    waiting = runtime.start("standin", "C-1", {"channel": "phone"})  # at Task_Register
    ahead = runtime.start("standin", "C-2", {"channel": "phone"})
    register = runtime.open_tasks("C-2")[0]
    runtime.complete(register.id, agent, {"subject": "Broken kettle", "severity": "high"})  # at Task_Handle
    v2 = runtime.deploy(changed_handle(standin_files))[0]
    return waiting, ahead, v2


def definition_version(db, instance_id):
    with db.session() as s:
        return s.get(ProcessDefinition, s.get(ProcessInstance, instance_id).definition_id).version


def test_check_says_which_instances_can_move_and_why_not(runtime, two_versions):
    waiting, ahead, v2 = two_versions
    by_id = {a.instance_id: a for a in check(runtime, v2.id)}
    assert by_id[waiting].safe
    assert not by_id[ahead].safe
    assert any("处理" in reason and "changes" in reason for reason in by_id[ahead].reasons)
    # In words, per instance, in both languages: which step, its state, and what would let it move.
    [why] = by_id[ahead].explanations
    assert why["zh-CN"].startswith("案件已到达步骤“处理”(进行中),而新版本修改了这一步") and "保持这一步不变" in why["zh-CN"]
    assert why["en"].startswith("The case has reached step '处理' (in progress) and the new version changes")
    assert "Error" not in why["en"] and "TaskState" not in why["en"]


def test_an_instance_the_engine_cannot_compare_is_explained_without_the_exception(runtime, two_versions,
                                                                                   monkeypatch):
    from processes.governance import migration

    def broken(*args):
        raise TypeError("Error evaluating expression 'respond_due'")

    monkeypatch.setattr(migration, "diff_workflow", broken)
    waiting, _ahead, v2 = two_versions
    [assessment] = [a for a in check(runtime, v2.id) if a.instance_id == waiting]
    assert not assessment.safe
    assert assessment.explanations[0]["zh-CN"].startswith("无法把这个案件与新版本比较")
    assert "respond_due" not in str(assessment.to_dict()) and "TypeError" not in str(assessment.to_dict())


def test_bulk_migration_moves_safe_instances_and_reports_the_rest(runtime, two_versions, db, agent):
    waiting, ahead, v2 = two_versions
    batch = migrate(runtime, REVIEWER, v2.id)
    assert [m["instance_id"] for m in batch.report["moved"]] == [waiting]
    assert [r["instance_id"] for r in batch.report["refused"]] == [ahead]
    assert definition_version(db, waiting) == 2 and definition_version(db, ahead) == 1
    # The moved complaint now follows the new version: its next task has the new name.
    register = runtime.open_tasks("C-1")[0]
    runtime.complete(register.id, agent, {"subject": "Noisy fridge", "severity": "low"})
    assert [t.name for t in runtime.open_tasks("C-1")] == ["处理"]
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == waiting)).all()
        assert "instance_migrated" in actions
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "instances_migrated")).one().actor == REVIEWER.username


def test_undo_restores_an_untouched_instance_exactly(runtime, two_versions, db, agent):
    waiting, _ahead, v2 = two_versions
    before = runtime.open_tasks("C-1")[0].id
    batch = migrate(runtime, REVIEWER, v2.id)
    report = undo(runtime, REVIEWER, batch.id)
    assert report["restored"] == [{"instance_id": waiting, "exact": True}]
    assert definition_version(db, waiting) == 1
    open_now = runtime.open_tasks("C-1")
    assert [t.id for t in open_now] == [before]
    runtime.complete(before, agent, {"subject": "Noisy fridge", "severity": "low"})
    assert [t.name for t in runtime.open_tasks("C-1")] == ["处理"]
    with db.session() as s:
        assert s.scalars(select(HumanTask).where(HumanTask.business_key == "C-1",
                                                 HumanTask.status == "open")).one().name == "处理"


def test_undo_refuses_an_instance_that_reached_a_changed_step(runtime, two_versions, db, agent):
    waiting, _ahead, v2 = two_versions
    batch = migrate(runtime, REVIEWER, v2.id)
    register = runtime.open_tasks("C-1")[0]
    runtime.complete(register.id, agent, {"subject": "Noisy fridge", "severity": "low"})
    report = undo(runtime, REVIEWER, batch.id)
    assert report["restored"] == []
    assert report["refused"][0]["instance_id"] == waiting
    assert definition_version(db, waiting) == 2


def test_only_reviewers_and_admins_migrate(runtime, two_versions):
    _waiting, _ahead, v2 = two_versions
    with pytest.raises(Forbidden):
        migrate(runtime, Actor("sun.designer", None, "process_designer"), v2.id)
    with pytest.raises(Forbidden):
        migrate(runtime, Actor("wang.agent", "customer_service", "agent"), v2.id)


def test_migration_through_the_api_and_the_pages(client, make_user, app, standin_files):
    """Deploy v2 through review, check with a dry run, migrate, see the batch on the history page, undo it."""
    import io

    runtime = app.extensions["redress.runtime"]
    _designer, designer = make_user("sun.designer", "management", "process_designer")
    _reviewer, reviewer = make_user("zhao.compliance", "management", "compliance_reviewer")
    make_user("wang.agent", "customer_service", "agent")
    runtime.deploy(standin_files)
    runtime.start("standin", "C-1", {"channel": "phone"})
    files = changed_handle(standin_files)
    data = {"files": [(io.BytesIO(text.encode()), name.rsplit("/", 1)[-1]) for name, text in files.items()]}
    created = client.post("/api/v1/definitions", data=data, headers={"Authorization": f"Bearer {designer}"},
                          content_type="multipart/form-data")
    assert created.status_code == 201, created.get_json()
    draft_id = created.get_json()["draft"]["id"]
    client.post(f"/api/v1/definitions/{draft_id}/submit", json={"change_note": "rename"},
                headers={"Authorization": f"Bearer {designer}"})
    approved = client.post(f"/api/v1/definitions/{draft_id}/approve", json={},
                           headers={"Authorization": f"Bearer {reviewer}"}).get_json()
    target = approved["definition"]["id"]
    dry = client.post(f"/api/v1/definitions/{draft_id}/migrate", json={"dry_run": True},
                      headers={"Authorization": f"Bearer {designer}"}).get_json()
    assert [(i["business_key"], i["safe"]) for i in dry["instances"]] == [("C-1", True)]
    assert client.post(f"/api/v1/definitions/{draft_id}/migrate", json={},
                       headers={"Authorization": f"Bearer {designer}"}).status_code == 403
    moved = client.post(f"/api/v1/definitions/{draft_id}/migrate", json={},
                        headers={"Authorization": f"Bearer {reviewer}"}).get_json()
    assert [m["business_key"] for m in moved["moved"]] == ["C-1"] and moved["refused"] == []
    with app.extensions["redress.db"].session() as s:
        assert s.scalars(select(ProcessInstance.definition_id)).one() == target
    client.post("/login", data={"username": "zhao.compliance", "password": "pw-12345678"})
    history = client.get("/definitions/standin/history").get_data(as_text=True)
    assert f'/definitions/migrations/{moved["batch_id"]}/undo' in history
    assert client.post(f'/definitions/migrations/{moved["batch_id"]}/undo').status_code == 302
    with app.extensions["redress.db"].session() as s:
        assert s.scalars(select(ProcessInstance.definition_id)).one() != target
    page = client.get(f"/definitions/versions/{target}/migrate").get_data(as_text=True)
    assert 'data-instance="' in page and "C-1" in page
