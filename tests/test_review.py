"""Drafts through review: the API and pages, four eyes, the semantic diff, deployment, audit, roles."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from processes.engine.models import AuditEntry, ProcessDefinition, ProcessInstance

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "designer" / "compensation"


def fixture_files() -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in FIXTURE.iterdir() if p.is_file()}
    files.update({f"forms/{p.name}": p.read_text(encoding="utf-8") for p in (FIXTURE / "forms").iterdir()})
    return files


def multipart(files: dict[str, str]) -> dict:
    data = {}
    for name, text in files.items():
        field = "form" if name.endswith(".json") else "bpmn" if name.endswith(".bpmn") else "dmn"
        data.setdefault(field, []).append((io.BytesIO(text.encode("utf-8")), name.rsplit("/", 1)[-1]))
    return data


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(make_user):
    return {
        "designer": make_user("sun.designer", "management", "process_designer")[1],
        "designer2": make_user("li.designer", "management", "process_designer")[1],
        "reviewer": make_user("zhao.compliance", "management", "compliance_reviewer")[1],
        "admin": make_user("qian.admin", "management", "admin")[1],
        "agent": make_user("wang.agent", "customer_service", "agent")[1],
        "supervisor": make_user("zhou.supervisor", "customer_service", "supervisor")[1],
    }


def upload(client, token, files):
    return client.post("/api/v1/definitions", data=multipart(files), headers=bearer(token),
                       content_type="multipart/form-data")


def lowered_threshold(files, value="300"):
    changed = dict(files)
    changed["approval_threshold.dmn"] = changed["approval_threshold.dmn"].replace("<text>500</text>", f"<text>{value}</text>")
    return changed


def deploy_first_version(client, people):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "初版 first version"},
                headers=bearer(people["designer"]))
    response = client.post(f"/api/v1/definitions/{draft['id']}/approve", json={"comment": "ok"},
                           headers=bearer(people["reviewer"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["definition"]


def test_upload_returns_the_draft_and_its_report(client, people):
    response = upload(client, people["designer"], fixture_files())
    assert response.status_code == 201
    body = response.get_json()
    assert body["draft"]["status"] == "draft" and body["draft"]["process_key"] == "compensation_check"
    assert body["report"]["ok"] and body["report"]["errors"] == 0


def test_upload_with_errors_is_422_with_the_report_and_stores_nothing(client, people, app):
    broken = lowered_threshold(fixture_files(), "300元")
    response = upload(client, people["designer"], broken)
    assert response.status_code == 422
    findings = response.get_json()["report"]["findings"]
    assert any(f["code"] == "dmn_expression" and f["element_id"] == "OutputEntry_Threshold_Default" for f in findings)
    hostile = {"evil.bpmn": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'}
    response = upload(client, people["designer"], hostile)
    assert response.status_code == 422
    assert response.get_json()["report"]["findings"][0]["code"] == "unsafe_xml"
    from processes.governance.models import DefinitionDraft

    with app.extensions["redress.db"].session() as s:
        assert s.scalars(select(DefinitionDraft)).all() == []


def test_submit_approve_deploys_and_audits_every_step(client, people, app):
    definition = deploy_first_version(client, people)
    assert definition["version"] == 1 and len(definition["sha256"]) == 64
    draft = upload(client, people["designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    response = client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "阈值降到300"},
                           headers=bearer(people["designer"]))
    assert response.get_json()["status"] == "submitted"
    response = client.post(f"/api/v1/definitions/{draft['id']}/approve", json={"comment": "合规"},
                           headers=bearer(people["reviewer"]))
    assert response.status_code == 200
    assert response.get_json()["definition"]["version"] == 2
    with app.extensions["redress.db"].session() as s:
        actions = [(e.action, e.actor) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("draft_saved", "sun.designer") in actions
    assert ("draft_submitted", "sun.designer") in actions
    assert ("draft_approved", "zhao.compliance") in actions
    assert ("definition_deployed", "zhao.compliance") in actions
    assert ("draft_deployed", "zhao.compliance") in actions


def test_author_can_never_approve_their_own_draft(client, people):
    draft = upload(client, people["admin"], fixture_files()).get_json()["draft"]
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "x"}, headers=bearer(people["admin"]))
    response = client.post(f"/api/v1/definitions/{draft['id']}/approve", json={}, headers=bearer(people["admin"]))
    assert response.status_code == 403
    response = client.post(f"/api/v1/definitions/{draft['id']}/reject", json={"comment": "no"},
                           headers=bearer(people["admin"]))
    assert response.status_code == 403
    # Another person can.
    assert client.post(f"/api/v1/definitions/{draft['id']}/approve", json={},
                       headers=bearer(people["reviewer"])).status_code == 200


def test_roles_are_enforced_on_every_endpoint(client, people):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    for who in ("agent", "supervisor", "reviewer"):
        assert upload(client, people[who], fixture_files()).status_code == 403
        assert client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "x"},
                           headers=bearer(people[who])).status_code == 403
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "x"},
                headers=bearer(people["designer"]))
    for who in ("agent", "supervisor", "designer2"):
        assert client.post(f"/api/v1/definitions/{draft['id']}/approve", json={},
                           headers=bearer(people[who])).status_code == 403
    assert client.get(f"/api/v1/definitions/{draft['id']}/diff", headers=bearer(people["agent"])).status_code == 403
    assert client.get("/api/v1/definitions/1/diff").status_code == 401


def test_submit_needs_a_change_note_and_no_errors(client, people, app):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    response = client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": " "},
                           headers=bearer(people["designer"]))
    assert response.status_code == 422 and "change_note" in response.get_json()["errors"]


def test_reject_needs_a_comment_and_lets_the_author_revise(client, people, app):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "x"},
                headers=bearer(people["designer"]))
    assert client.post(f"/api/v1/definitions/{draft['id']}/reject", json={"comment": ""},
                       headers=bearer(people["reviewer"])).status_code == 422
    response = client.post(f"/api/v1/definitions/{draft['id']}/reject", json={"comment": "阈值不合理"},
                           headers=bearer(people["reviewer"]))
    assert response.get_json()["status"] == "rejected"
    # The author saves again: the draft is editable and back to draft.
    from processes.engine.actors import Actor
    from processes.governance import drafts

    with app.extensions["redress.db"].write_session.begin() as s:
        saved = drafts.save(s, Actor("sun.designer", None, "process_designer"), draft["id"],
                            lowered_threshold(fixture_files()), draft["version"] + 2)
        assert saved.draft.status == "draft"


def test_the_diff_shows_exactly_the_changed_rule(client, people):
    first = deploy_first_version(client, people)
    draft = upload(client, people["designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    diff = client.get(f"/api/v1/definitions/{draft['id']}/diff", headers=bearer(people["reviewer"])).get_json()
    assert diff["against"]["id"] == first["id"]
    assert diff["elements"] == {"added": [], "removed": [], "changed": []}
    assert diff["forms"] == {"added": [], "removed": [], "changed": []}
    [decision] = diff["decisions"]
    assert decision["decision_id"] == "approval_threshold" and not decision["added"] and not decision["removed"]
    [rule] = decision["changed"]
    assert rule["id"] == "Rule_Threshold_Default"
    assert rule["cells"] == [{"column": "审批阈值 Approval threshold", "old": "500", "new": "300"}]
    assert diff["files"]["changed"] == ["approval_threshold.dmn"]


def test_diff_reports_elements_conditions_lanes_and_form_fields(client, people):
    deploy_first_version(client, people)
    files = fixture_files()
    files["compensation_check.bpmn"] = (
        files["compensation_check.bpmn"]
        .replace("compensation_amount &gt; approval_threshold", "compensation_amount &gt;= approval_threshold")
        .replace('name="提出补偿金额"', 'name="提出补偿方案"'))
    files["forms/propose_compensation.json"] = files["forms/propose_compensation.json"].replace(
        '"minimum": 0', '"minimum": 1')
    draft = upload(client, people["designer"], files).get_json()["draft"]
    diff = client.get(f"/api/v1/definitions/{draft['id']}/diff?raw=1", headers=bearer(people["reviewer"])).get_json()
    changed = {e["id"]: e["changes"] for e in diff["elements"]["changed"]}
    assert changed["Flow_Above_Threshold"] == {"condition": {"old": "compensation_amount > approval_threshold",
                                                             "new": "compensation_amount >= approval_threshold"}}
    assert changed["Task_Propose"] == {"name": {"old": "提出补偿金额", "new": "提出补偿方案"}}
    [form] = diff["forms"]["changed"]
    assert form["changed"] == [{"field": "compensation_amount", "label": {"zh-CN": "补偿金额(元)", "en": "Amount (CNY)"},
                                "changes": {"minimum": {"old": 0, "new": 1}}}]
    assert "compensation_check.bpmn" in diff["raw"] and "-" in diff["raw"]["compensation_check.bpmn"]


def test_running_instances_stay_on_their_version_after_approval(client, people, app):
    deploy_first_version(client, people)
    runtime = app.extensions["redress.runtime"]
    runtime.start("compensation_check", "TS-OLD", {"customer_tier": "standard"})
    draft = upload(client, people["designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "300"},
                headers=bearer(people["designer"]))
    client.post(f"/api/v1/definitions/{draft['id']}/approve", json={}, headers=bearer(people["reviewer"]))
    runtime.start("compensation_check", "TS-NEW", {"customer_tier": "standard"})
    from processes.engine.actors import Actor

    agent = Actor("wang.agent", "customer_service", "agent")
    for key in ("TS-OLD", "TS-NEW"):
        [task] = runtime.open_tasks(key)
        runtime.complete(task.id, agent, {"compensation_amount": 400})
    assert [t.bpmn_id for t in runtime.open_tasks("TS-OLD")] == ["Task_Send_Offer"]  # 400 <= 500: no approval
    assert [t.bpmn_id for t in runtime.open_tasks("TS-NEW")] == ["Task_Approve"]  # 400 > 300: approval
    with app.extensions["redress.db"].session() as s:
        versions = {i.business_key: s.get(ProcessDefinition, i.definition_id).version
                    for i in s.scalars(select(ProcessInstance))}
    assert versions == {"TS-OLD": 1, "TS-NEW": 2}


def test_concurrent_edits_are_detected_not_overwritten(client, people, app):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    from processes.engine.actors import Actor
    from processes.engine.errors import Conflict
    from processes.governance import drafts

    one, two = Actor("sun.designer", None, "process_designer"), Actor("li.designer", None, "process_designer")
    db = app.extensions["redress.db"]
    with db.write_session.begin() as s:
        drafts.save(s, one, draft["id"], lowered_threshold(fixture_files(), "300"), draft["version"])
    with pytest.raises(Conflict), db.write_session.begin() as s:
        drafts.save(s, two, draft["id"], lowered_threshold(fixture_files(), "400"), draft["version"])
    with db.session() as s:
        assert "<text>300</text>" in drafts.get(s, draft["id"]).files["approval_threshold.dmn"]


def login(client, username):
    return client.post("/login", data={"username": username, "password": "pw-12345678"})


def test_pages_render_for_the_right_roles(client, people, app):
    deploy_first_version(client, people)
    draft = upload(client, people["designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "阈值降到300"},
                headers=bearer(people["designer"]))
    login(client, "wang.agent")
    for url in ("/designer/", f"/designer/drafts/{draft['id']}", "/definitions/",
                f"/definitions/review/{draft['id']}", "/definitions/compensation_check/history"):
        assert client.get(url).status_code == 403, url
    client.post("/logout")
    login(client, "sun.designer")
    page = client.get(f"/designer/drafts/{draft['id']}").get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in page and "designer-config" in page
    review = client.get(f"/definitions/review/{draft['id']}").get_data(as_text=True)
    assert "Rule_Threshold_Default" in review and 'id="approve"' not in review  # the author cannot approve
    client.post("/logout")
    login(client, "zhao.compliance")
    review = client.get(f"/definitions/review/{draft['id']}").get_data(as_text=True)
    assert 'id="approve"' in review and "阈值降到300" in review
    response = client.post(f"/definitions/review/{draft['id']}/approve", data={"comment": "同意"})
    assert response.status_code == 302
    history = client.get("/definitions/compensation_check/history").get_data(as_text=True)
    assert "zhao.compliance" in history and "v2" in history
    record = client.get(f"/definitions/review/{draft['id']}/record").get_data(as_text=True)
    assert "同意" in record and "Rule_Threshold_Default" in record


def test_openapi_lists_the_definitions_api(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/definitions", "/definitions/{draft_id}/submit", "/definitions/{draft_id}/approve",
                 "/definitions/{draft_id}/reject", "/definitions/{draft_id}/diff", "/definitions/{draft_id}/migrate"):
        assert path in paths


def test_test_run_shows_the_path_and_where_it_stopped(client, people, app):
    draft = upload(client, people["designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    login(client, "sun.designer")
    scenario = {"process": "compensation_check", "data": {"customer_tier": "standard"},
                "steps": [{"task": "Task_Propose", "data": {"compensation_amount": 400}}]}
    body = client.post(f"/designer/drafts/{draft['id']}/test-run", json={"scenario": scenario}).get_json()
    assert body["outcome"] == "waiting"
    assert [s["bpmn_id"] for s in body["path"]][-3:] == ["Task_Propose", "Task_Threshold", "Gateway_Needs_Approval"]
    assert [s["bpmn_id"] for s in body["stopped_at"] if s["waits_for"] == "person"] == ["Task_Approve"]
    # Under the threshold the same draft goes straight to the offer.
    scenario["steps"][0]["data"]["compensation_amount"] = 200
    body = client.post(f"/designer/drafts/{draft['id']}/test-run", json={"scenario": scenario}).get_json()
    assert [s["bpmn_id"] for s in body["stopped_at"] if s["waits_for"] == "person"] == ["Task_Send_Offer"]
    bad = client.post(f"/designer/drafts/{draft['id']}/test-run", json={"scenario": "{oops"})
    assert bad.status_code == 422


def test_test_run_of_the_complaint_process_leaves_nothing_behind(client, people, app):
    from processes.complaints.records import Complaint
    from processes.engine.definitions import read_files

    runtime = app.extensions["redress.runtime"]
    runtime.deploy(read_files(Path(__file__).resolve().parent.parent, "bpmn", "forms"))
    login(client, "sun.designer")
    assert client.post("/designer/copy", data={"process_key": "complaint_handling"}).status_code == 302
    from processes.governance.models import DefinitionDraft

    with app.extensions["redress.db"].session() as s:
        draft_id = s.scalars(select(DefinitionDraft.id)).one()
        audit_before = s.scalars(select(AuditEntry.id)).all()
    body = client.post(f"/designer/drafts/{draft_id}/test-run",
                       json={"scenario_id": "compensation_after_sales"}).get_json()
    assert body["error"] is None, body
    path = [s["bpmn_id"] for s in body["path"]]
    assert "Task_Propose_Compensation" in path and "Task_Issue_Compensation" in path
    with app.extensions["redress.db"].session() as s:
        assert s.scalars(select(ProcessInstance)).all() == []
        assert s.scalars(select(Complaint)).all() == []
        assert s.scalars(select(AuditEntry.id)).all() == audit_before


def test_modeler_save_detects_a_concurrent_edit_and_refuses_hostile_uploads(client, people, app):
    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    login(client, "sun.designer")
    url = f"/designer/drafts/{draft['id']}/save"
    first = client.post(url, json={"version": draft["version"], "files": lowered_threshold(fixture_files(), "300")})
    assert first.status_code == 200 and first.get_json()["report"]["ok"]
    # A second editor who loaded the same version is told, and their text is not stored.
    second = client.post(url, json={"version": draft["version"], "files": lowered_threshold(fixture_files(), "400")})
    assert second.status_code == 409 and second.get_json()["conflict"]
    # A hostile file is refused as a whole; the draft stays as it was.
    hostile = dict(lowered_threshold(fixture_files(), "250"))
    hostile["approval_threshold.dmn"] = '<!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'
    refused = client.post(url, json={"version": first.get_json()["version"], "files": hostile})
    assert refused.status_code == 422 and refused.get_json()["report"]["findings"][0]["code"] == "unsafe_xml"
    response = client.post(f"/designer/drafts/{draft['id']}/upload",
                           data={"version": str(first.get_json()["version"]),
                                 "files": [(io.BytesIO(b"<!DOCTYPE x><x/>"), "approval_threshold.dmn")]},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    from processes.governance import drafts

    with app.extensions["redress.db"].session() as s:
        assert "<text>300</text>" in drafts.get(s, draft["id"]).files["approval_threshold.dmn"]
    # Downloads give back exactly what is stored.
    download = client.get(f"/designer/drafts/{draft['id']}/files/approval_threshold.dmn")
    assert b"<text>300</text>" in download.data
    assert client.get(f"/designer/drafts/{draft['id']}/download.zip").data[:2] == b"PK"


def test_whoever_edited_a_draft_cannot_approve_it(client, people, app):
    from processes.engine.actors import Actor
    from processes.governance import drafts

    draft = upload(client, people["designer"], fixture_files()).get_json()["draft"]
    with app.extensions["redress.db"].write_session.begin() as s:
        drafts.save(s, Actor("qian.admin", None, "admin"), draft["id"], lowered_threshold(fixture_files()),
                    draft["version"])
    client.post(f"/api/v1/definitions/{draft['id']}/submit", json={"change_note": "x"},
                headers=bearer(people["designer"]))
    assert client.post(f"/api/v1/definitions/{draft['id']}/approve", json={},
                       headers=bearer(people["admin"])).status_code == 403
    assert client.post(f"/api/v1/definitions/{draft['id']}/approve", json={},
                       headers=bearer(people["reviewer"])).status_code == 200
