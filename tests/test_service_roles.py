"""Role rules held by the services themselves, not only by the routes: four-eyes on drafts, who may
approve, who may migrate, who may claim which task. Each call goes straight to the service."""

from __future__ import annotations

import pytest

from processes.engine.actors import Actor
from processes.engine.errors import Forbidden
from processes.engine.models import ProcessDefinition
from processes.governance import drafts, migration
from tests.test_review import fixture_files, lowered_threshold

DESIGNER = Actor("sun.designer", None, "process_designer")
OTHER_DESIGNER = Actor("zhou.designer", None, "process_designer")
REVIEWER = Actor("zhao.reviewer", None, "compliance_reviewer")
ADMIN = Actor("qian.admin", None, "admin")
AGENT = Actor("wang.agent", "customer_service", "agent")


def submitted_draft(runtime, author=DESIGNER, files=None) -> int:
    with runtime.db.write_session.begin() as s:
        draft = drafts.create(s, author, files or fixture_files()).draft
        drafts.submit(s, author, draft.id, "first version")
        return draft.id


@pytest.mark.parametrize("actor", [DESIGNER, OTHER_DESIGNER, AGENT], ids=lambda a: a.role + ":" + a.username)
def test_only_reviewers_and_admins_may_approve_or_reject_in_the_service(runtime, actor):
    draft_id = submitted_draft(runtime)
    with pytest.raises(Forbidden):
        drafts.approve(runtime, actor, draft_id)
    with pytest.raises(Forbidden):
        drafts.reject(runtime.db, actor, draft_id, "no")
    with runtime.db.session() as s:
        assert drafts.get(s, draft_id).status == "submitted"
        assert s.query(ProcessDefinition).count() == 0  # nothing deployed


def test_four_eyes_the_author_and_every_editor_cannot_approve_but_a_second_person_can(runtime):
    draft_id = submitted_draft(runtime, author=ADMIN)
    with pytest.raises(Forbidden, match="second person"):
        drafts.approve(runtime, ADMIN, draft_id)  # an admin may approve, but not their own draft
    definition = drafts.approve(runtime, REVIEWER, draft_id)
    assert definition.version == 1
    # An editor who was not the author is held to the same rule.
    editor = Actor("ma.admin", None, "admin")
    with runtime.db.write_session.begin() as s:
        draft = drafts.copy_active(s, DESIGNER, definition.process_key).draft
        edited = drafts.save(s, editor, draft.id,
                             lowered_threshold(fixture_files()), draft.version)
        drafts.submit(s, DESIGNER, edited.draft.id, "lower the threshold")
        second = edited.draft.id
    with pytest.raises(Forbidden, match="second person"):
        drafts.approve(runtime, editor, second)
    assert drafts.approve(runtime, REVIEWER, second).version == 2


@pytest.mark.parametrize("actor", [DESIGNER, AGENT], ids=lambda a: a.role)
def test_only_reviewers_and_admins_may_migrate_or_undo_in_the_service(runtime, actor):
    first = drafts.approve(runtime, REVIEWER, submitted_draft(runtime))
    with pytest.raises(Forbidden):
        migration.migrate(runtime, actor, first.id)
    with pytest.raises(Forbidden):
        migration.undo(runtime, actor, 1)
    assert migration.migrate(runtime, REVIEWER, first.id) is not None  # the role that may, may


def test_a_task_is_claimed_only_by_its_department_in_the_runtime(runtime, standin_files, agent, product_staff):
    runtime.deploy(standin_files)
    runtime.start("standin", "C-1", {"channel": "phone", "rounds_done": 0})
    [task] = runtime.open_tasks("C-1")
    with pytest.raises(Forbidden):
        runtime.claim(task.id, product_staff)
    with pytest.raises(Forbidden):
        runtime.complete(task.id, product_staff, {"subject": "Broken kettle", "severity": "low"})
    assert runtime.claim(task.id, agent).assignee == agent.username
