"""Two drafts of one process: each designer is warned of the other; once one is approved, the other
cannot be submitted until it is rebased onto the new version (its changes carried over) or discarded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from processes.engine.actors import Actor
from processes.engine.errors import Conflict, Forbidden
from processes.engine.models import AuditEntry
from processes.engine.users import add_user
from processes.governance import drafts

SUN = Actor("sun.designer", "management", "process_designer")
LI = Actor("li.designer", "management", "process_designer")
ZHAO = Actor("zhao.compliance", "management", "compliance_reviewer")
PASSWORD = "pw-12345678"


@pytest.fixture
def two_drafts(db, runtime, standin_files):
    runtime.deploy(standin_files)
    with db.write_session.begin() as s:
        for actor in (SUN, LI, ZHAO):
            add_user(s, actor.username, actor.department, actor.role, PASSWORD, locale="en")
        first = drafts.copy_active(s, SUN, "standin").draft
        second = drafts.copy_active(s, LI, "standin").draft
        first_id, first_version, second_id, second_version = first.id, first.version, second.id, second.version
    return first_id, first_version, second_id, second_version


def _edit(db, actor, draft_id, version, path, old, new):
    with db.write_session.begin() as s:
        files = dict(drafts.get(s, draft_id).files)
        assert old in files[path]
        files[path] = files[path].replace(old, new)
        return drafts.save(s, actor, draft_id, files, version).draft.version


def _approve(db, runtime, actor, draft_id):
    with db.write_session.begin() as s:
        drafts.submit(s, actor, draft_id, "why")
    return drafts.approve(runtime, ZHAO, draft_id, "ok")


def _page(client, username, path):
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client.get(path).get_data(as_text=True)


def test_each_designer_is_warned_of_the_other_pending_draft(db, two_drafts, client_for_db):
    first_id, _v1, second_id, _v2 = two_drafts
    page = _page(client_for_db, "sun.designer", f"/designer/drafts/{first_id}")
    assert 'id="sibling-drafts"' in page and f"#{second_id}" in page and "li.designer" in page
    assert "based on version 1" in page


def test_after_one_is_approved_the_other_must_rebase_and_keeps_its_changes(db, runtime, two_drafts, client_for_db):
    first_id, v1, second_id, v2 = two_drafts
    v1 = _edit(db, SUN, first_id, v1, "standin.bpmn", 'name="处理"', 'name="调查处理"')
    v2 = _edit(db, LI, second_id, v2, "forms/handle.json", '"type": "object"', '"type": "object", "title": "Handle"')
    _approve(db, runtime, SUN, first_id)

    page = _page(client_for_db, "li.designer", f"/designer/drafts/{second_id}")
    assert 'id="stale-draft"' in page and "Version 2 of this process was approved" in page
    with pytest.raises(Conflict) as refused, db.write_session.begin() as s:
        drafts.submit(s, LI, second_id, "title")
    assert "rebase" in refused.value.message

    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client_for_db.post(f"/designer/drafts/{second_id}/rebase", data={"csrf_token": token, "version": v2},
                                  follow_redirects=True)
    assert "your changes were carried over" in response.get_data(as_text=True)
    with db.session() as s:
        draft = drafts.get(s, second_id)
        assert 'name="调查处理"' in draft.files["standin.bpmn"]  # the approved rename
        assert '"title": "Handle"' in draft.files["forms/handle.json"]  # and the draft's own change
        assert drafts.newer_version(s, draft) is None
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "draft_rebased")) == "draft_rebased"
    with db.write_session.begin() as s:
        drafts.submit(s, LI, second_id, "title")  # now it may go to review


def test_a_file_both_sides_changed_is_reported_and_the_reviewer_cannot_approve_a_stale_draft(db, runtime, two_drafts):
    first_id, v1, second_id, v2 = two_drafts
    _edit(db, SUN, first_id, v1, "standin.bpmn", 'name="处理"', 'name="调查处理"')
    v2 = _edit(db, LI, second_id, v2, "standin.bpmn", 'name="处理"', 'name="售后处理"')
    with db.write_session.begin() as s:
        drafts.submit(s, LI, second_id, "rename")
    _approve(db, runtime, SUN, first_id)
    with pytest.raises(Conflict):
        drafts.approve(runtime, ZHAO, second_id, "ok")
    with db.write_session.begin() as s:
        version = drafts.get(s, second_id).version
        rebased = drafts.rebase(s, LI, second_id, version)
    assert rebased.conflicts == ["standin.bpmn"]
    with db.session() as s:
        assert 'name="售后处理"' in drafts.get(s, second_id).files["standin.bpmn"]


def test_discarding_ends_the_draft_and_only_its_editors_may(db, two_drafts):
    first_id, _v1, second_id, _v2 = two_drafts
    with pytest.raises(Forbidden), db.write_session.begin() as s:
        drafts.discard(s, SUN, second_id)  # a colleague's draft
    with db.write_session.begin() as s:
        drafts.discard(s, LI, second_id)
    with db.session() as s:
        assert drafts.get(s, second_id).status == "discarded"
        assert drafts.pending_siblings(s, drafts.get(s, first_id)) == []
    with pytest.raises(Conflict), db.write_session.begin() as s:
        drafts.discard(s, LI, second_id)
