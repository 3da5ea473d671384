"""Every shipped test scenario runs on each save of a draft; a draft whose scenarios fail cannot be
submitted, and the designer sees per scenario where the run stopped, in the interface language."""

from __future__ import annotations

import re

import pytest

from processes.engine.actors import Actor
from processes.engine.definitions import read_files
from processes.governance import drafts
from tests.conftest import ROOT

DESIGNER = Actor("sun.designer", "management", "process_designer")
# The strategy script now maps a company fault to rule-based handling: the compensation path is gone.
BROKEN_STRATEGY = ('{"company": "compensation", "customer": "rule_based"',
                   '{"company": "rule_based", "customer": "rule_based"')


def shipped() -> dict[str, str]:
    return read_files(ROOT, "bpmn", "forms")


def broken() -> dict[str, str]:
    files = shipped()
    assert BROKEN_STRATEGY[0] in files["bpmn/complaint.bpmn"]
    files["bpmn/complaint.bpmn"] = files["bpmn/complaint.bpmn"].replace(*BROKEN_STRATEGY)
    return files


def test_the_shipped_process_passes_every_scenario_on_save(db):
    with db.write_session.begin() as s:
        saved = drafts.create(s, DESIGNER, shipped())
        suite = saved.draft.report["scenarios"]
    assert {item["id"] for item in suite} == {"compensation_after_sales", "rule_based_rejected",
                                              "revised_amount_approved"}
    assert all(item["passed"] and not item["problems"] for item in suite)
    assert all(item["stopped_at"] for item in suite)  # where each run stopped is kept for the page


def test_a_draft_that_breaks_a_path_fails_its_scenario_and_cannot_be_submitted(db):
    with db.write_session.begin() as s:
        draft_id = drafts.create(s, DESIGNER, broken()).draft.id
    with db.session() as s:
        suite = {item["id"]: item for item in drafts.get(s, draft_id).report["scenarios"]}
    failing = suite["compensation_after_sales"]
    assert not failing["passed"] and suite["rule_based_rejected"]["passed"]
    assert not suite["revised_amount_approved"]["passed"]
    [problem] = failing["problems"]
    # The person's choice of compensation is never reached: the run stops on the rule-based path.
    assert problem["zh-CN"].startswith("场景的步骤“Task_Choose_Compensation”没有执行:流程停在")
    assert problem["en"].startswith("The scenario's step Task_Choose_Compensation did not run")
    with pytest.raises(drafts.ScenariosFailing) as refused, db.write_session.begin() as s:
        drafts.submit(s, DESIGNER, draft_id, "Fault of the company: rule-based")
    # Both paths of a company at fault are broken by it.
    assert [item["id"] for item in refused.value.failing] == ["compensation_after_sales", "revised_amount_approved"]
    with db.session() as s:
        assert drafts.get(s, draft_id).status == "draft"


def test_a_run_that_fails_with_an_error_names_the_step(db):
    files = shipped()
    files["bpmn/complaint.bpmn"] = files["bpmn/complaint.bpmn"].replace(
        "strategy = derived_strategy\n", "strategy = derived_strategy[undefined_name]\n", 1)
    with db.write_session.begin() as s:
        suite = drafts.create(s, DESIGNER, files).draft.report["scenarios"]
    assert not any(item["passed"] for item in suite)
    assert all(item["outcome"] == "error" for item in suite)
    assert suite[0]["problems"][0]["zh-CN"].startswith("在“")
    assert "undefined_name" in suite[0]["problems"][0]["en"]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("locale, failing_name, problem_start", [
    ("zh_CN", "物流延误,公司责任:经济补偿", "没有执行"),
    ("en", "Late delivery, company at fault: compensation", "did not run"),
])
def test_the_submit_form_says_which_scenario_fails_in_the_interface_language(db, client_for_db, locale,
                                                                             failing_name, problem_start):
    from processes.engine.users import add_user

    with db.write_session.begin() as s:
        add_user(s, "sun.designer", "management", "process_designer", "pw-12345678", locale=locale)
        draft_id = drafts.create(s, DESIGNER, broken()).draft.id
    client = client_for_db
    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "sun.designer", "password": "pw-12345678", "csrf_token": _csrf(login)})
    page = client.get(f"/designer/drafts/{draft_id}")
    assert page.status_code == 200
    response = client.post(f"/designer/drafts/{draft_id}/submit",
                           data={"change_note": "rule-based for all", "csrf_token": _csrf(page.get_data(as_text=True))},
                           follow_redirects=True)
    text = response.get_data(as_text=True)
    assert failing_name in text and problem_start in text
    assert "rule-based for all" in text  # the change note typed is kept
    with db.session() as s:
        assert drafts.get(s, draft_id).status == "draft"
