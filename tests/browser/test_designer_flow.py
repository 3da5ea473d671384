"""A designer lowers the compensation approval threshold in the decision table, a reviewer approves it:
the next complaint follows the new rule, one already running keeps the old."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from processes.engine.actors import Actor
from processes.engine.definitions import read_files
from processes.engine.models import ProcessDefinition, ProcessInstance
from tests.browser.conftest import login, logout, screenshot

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "designer" / "compensation"
CELL = '#dmn-canvas td[data-element-id="OutputEntry_Threshold_Default"]'


def type_into_cell(page, text: str) -> None:
    """Edit a decision-table cell the way a person does: click, select its text, type."""
    page.click(CELL)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.click("#editor-title")  # leave the cell so dmn-js commits the edit


def save(page) -> None:
    before = page.inner_text("#draft-version")
    page.click("#save-draft")
    page.wait_for_function("v => document.getElementById('draft-version').textContent !== v", arg=before)


def test_threshold_change_from_designer_to_reviewer_to_the_next_complaint(live_server, new_page):
    runtime = live_server.runtime
    runtime.deploy(read_files(FIXTURE), note="v1: threshold 500")
    runtime.start("compensation_check", "TS-OLD", {"customer_tier": "standard"})

    designer = new_page("zh-CN")
    login(designer, live_server, "designer")
    designer.goto(live_server.url("/designer/"))
    designer.locator('tr[data-process="compensation_check"] form button').click()
    designer.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    draft_id = int(designer.url.rsplit("/", 1)[1])
    designer.wait_for_selector("#bpmn-canvas[data-ready]")
    screenshot(designer, "designer-01-modeler")

    # Open the decision table and make a typing mistake: "300元" is not an expression.
    designer.click('#file-list button[data-path="approval_threshold.dmn"]')
    designer.wait_for_selector("#dmn-canvas[data-ready]")
    designer.wait_for_selector(CELL)
    assert designer.locator(CELL).inner_text().strip() == "500"
    type_into_cell(designer, "300元")
    save(designer)
    error = designer.locator('#findings li[data-code="dmn_expression"]')
    assert error.count() == 1
    assert error.get_attribute("data-element") == "OutputEntry_Threshold_Default"
    assert designer.locator("#submit-draft").is_disabled()
    error.click()  # takes the designer to the cell
    designer.wait_for_selector(CELL + ".finding-highlight")
    screenshot(designer, "designer-02-validation-error")

    # Fix it and save again: no errors, the draft can be submitted.
    type_into_cell(designer, "300")
    save(designer)
    assert designer.locator('#findings li[data-code="dmn_expression"]').count() == 0
    assert designer.locator("#findings li.finding-error").count() == 0
    designer.fill("#change-note", "补偿审批阈值由 500 元降至 300 元 Approval threshold lowered from 500 to 300")
    designer.click("#submit-draft")
    designer.wait_for_url(re.compile(rf"/definitions/review/{draft_id}$"))
    assert designer.locator("#approve").count() == 0  # the author cannot approve their own draft
    logout(designer)

    # The reviewer opens the diff: exactly that rule changed, nothing else.
    reviewer = new_page("zh-CN")
    login(reviewer, live_server, "reviewer")
    reviewer.goto(live_server.url("/definitions/"))
    reviewer.locator(f'#waiting-drafts tr[data-draft="{draft_id}"] a').click()
    reviewer.wait_for_url(re.compile(rf"/definitions/review/{draft_id}"))
    assert reviewer.locator("#no-element-changes").is_visible()
    assert reviewer.locator("#no-form-changes").is_visible()
    rules = reviewer.locator("tr.diff-rule")
    assert rules.count() == 1
    rule = rules.first
    assert rule.get_attribute("data-rule") == "Rule_Threshold_Default"
    assert rule.locator(".cell-old").inner_text() == "500"
    assert rule.locator(".cell-new").inner_text() == "300"
    assert "500 元降至 300 元" in reviewer.locator("#change-note-text").inner_text()
    screenshot(reviewer, "designer-03-review-diff")
    reviewer.fill("#approve-comment", "符合补偿政策 Consistent with the compensation policy")
    reviewer.click("#approve")
    reviewer.wait_for_url(re.compile(r"/definitions/compensation_check/history$"))
    newest = reviewer.locator('#versions tr[data-version="2"]')
    assert "reviewer" in newest.locator(".approved-by").inner_text()
    screenshot(reviewer, "designer-04-history")

    # The next complaint follows the new rule; the one already running keeps the old.
    runtime.start("compensation_check", "TS-NEW", {"customer_tier": "standard"})
    agent = Actor("agent", "customer_service", "agent")
    for reference in ("TS-OLD", "TS-NEW"):
        [task] = runtime.open_tasks(reference)
        runtime.complete(task.id, agent, {"compensation_amount": 400})
    assert [t.bpmn_id for t in runtime.open_tasks("TS-OLD")] == ["Task_Send_Offer"]  # 400 <= 500
    assert [t.bpmn_id for t in runtime.open_tasks("TS-NEW")] == ["Task_Approve"]  # 400 > 300
    with live_server.app.extensions["redress.db"].session() as s:
        versions = {i.business_key: s.get(ProcessDefinition, i.definition_id).version
                    for i in s.scalars(select(ProcessInstance).where(
                        ProcessInstance.process_key == "compensation_check"))}
    assert versions == {"TS-OLD": 1, "TS-NEW": 2}


def open_draft_of(page, live_server, process_key: str) -> int:
    page.goto(live_server.url("/designer/"))
    page.locator(f'tr[data-process="{process_key}"] form button').click()
    page.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    return int(page.url.rsplit("/", 1)[1])


def select_element(page, element_id: str) -> None:
    page.evaluate("""id => { const m = window.redressDesigner.bpmn;
        m.get('selection').select(m.get('elementRegistry').get(id)); }""", element_id)
    page.wait_for_selector(f'#prop-id[value="{element_id}"]', state="attached")


def test_properties_panel_edits_what_the_runtime_reads(live_server, new_page):
    from lxml import etree

    from processes.governance import drafts
    from processes.governance.validation import NS

    live_server.runtime.deploy(read_files(FIXTURE), note="v1")
    designer = new_page("en")
    login(designer, live_server, "designer")
    draft_id = open_draft_of(designer, live_server, "compensation_check")

    # A user task's form and English name; clicking the shape selects it (the whole process in view first:
    # the canvas opens at a readable zoom on the start of the process).
    designer.click('.rd-diagram-toolbar button[aria-label="Fit to window"]')
    designer.click('#bpmn-canvas [data-element-id="Task_Send_Offer"]')
    designer.wait_for_selector('#prop-id[value="Task_Send_Offer"]', state="attached")
    assert designer.input_value("#prop-form") == "send_offer.json"
    assert "customer_service" in designer.input_value("#prop-lane")
    designer.select_option("#prop-form", "approve_compensation.json")
    designer.fill("#prop-name-en", "Tell the customer")
    designer.click("#apply-properties")
    # A flow's condition.
    select_element(designer, "Flow_Above_Threshold")
    designer.fill("#prop-condition", "compensation_amount >= approval_threshold")
    designer.click("#apply-properties")
    # An SLA timer on the management approval, which had none.
    select_element(designer, "Task_Approve")
    designer.fill("#prop-timer", '"PT4H"')
    designer.click("#apply-properties")
    screenshot(designer, "designer-05-properties")
    save(designer)
    assert designer.locator("#findings li.finding-error").count() == 0

    # A test run of the draft: with ">=" an amount equal to the threshold now needs approval.
    designer.click("#tab-testrun")
    designer.fill("#scenario-json", '{"data": {"customer_tier": "standard"}, '
                  '"steps": [{"task": "Task_Propose", "data": {"compensation_amount": 500}}]}')
    designer.click("#run-test")
    designer.wait_for_selector("#test-outcome")
    assert designer.get_attribute("#test-outcome", "data-outcome") == "waiting"
    assert designer.locator('#test-stops li[data-bpmn-id="Task_Approve"]').count() == 1
    assert designer.locator('#test-path li[data-bpmn-id="Task_Threshold"]').count() == 1
    screenshot(designer, "designer-06-test-run")

    with live_server.app.extensions["redress.db"].session() as s:
        files = drafts.get(s, draft_id).files
    root = etree.fromstring(files["compensation_check.bpmn"].encode())
    task = root.find(".//bpmn:userTask[@id='Task_Send_Offer']", NS)
    props = {p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)}
    assert props == {"name_en": "Tell the customer", "formJsonSchemaFilename": "approve_compensation.json"}
    flow = root.find(".//bpmn:sequenceFlow[@id='Flow_Above_Threshold']", NS)
    assert flow.find("bpmn:conditionExpression", NS).text == "compensation_amount >= approval_threshold"
    timer = [b for b in root.iterfind(".//bpmn:boundaryEvent", NS) if b.get("attachedToRef") == "Task_Approve"]
    assert len(timer) == 1
    assert timer[0].find(".//bpmn:timeDuration", NS).text == '"PT4H"'
    # What the panel does not manage survives the round trip through the modeler.
    assert root.find(".//bpmn:businessRuleTask[@id='Task_Threshold']/bpmn:extensionElements/"
                     "spiffworkflow:calledDecisionId", NS).text == "approval_threshold"


def test_modeler_round_trip_keeps_the_complaint_process_intact(live_server, new_page):
    """Service-task operators, parameters and pre/post scripts survive an edit in the browser."""
    from processes.governance import drafts
    from processes.governance.spec_diff import diff_definitions

    designer = new_page("zh-CN")
    login(designer, live_server, "designer")
    draft_id = open_draft_of(designer, live_server, "complaint_handling")
    path = next(p for p in designer.evaluate("Object.keys(window.redressDesigner.state.files)")
                if p.endswith("strategy_compensation.bpmn"))
    designer.click(f'#file-list button[data-path="{path}"]')
    designer.wait_for_selector(f'#bpmn-canvas[data-ready="{path}"]')
    select_element(designer, "Task_Check_Budget")
    assert designer.input_value("#prop-handler") == "check_budget"
    assert "amount = compensation_amount" in designer.input_value("#prop-params")
    designer.fill("#prop-name", "核对部门补偿预算")
    designer.click("#apply-properties")
    save(designer)
    assert designer.locator("#findings li.finding-error").count() == 0
    with live_server.app.extensions["redress.db"].session() as s:
        draft = drafts.get(s, draft_id)
        active = s.get(ProcessDefinition, draft.base_definition_id)
        diff = diff_definitions(active.files, draft.files)
    assert [(e["id"], e["changes"]) for e in diff["elements"]["changed"]] == [
        ("Task_Check_Budget", {"name": {"old": "核对部门预算", "new": "核对部门补偿预算"}})]
    assert not diff["elements"]["added"] and not diff["elements"]["removed"] and not diff["decisions"]
