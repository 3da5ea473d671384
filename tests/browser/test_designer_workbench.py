"""A designer one can work in: a readable canvas with zoom controls, the file list, a form editor
with fields in both languages, a decision table from scratch; and a review whose two diagrams sit
side by side at a readable size, zooming together."""

from __future__ import annotations

import json

import pytest

from processes.engine.actors import Actor
from processes.engine.definitions import read_files
from processes.governance import drafts
from processes.governance.test_run import load_scenarios
from tests.browser.conftest import ROOT, login, screenshot

pytestmark = pytest.mark.browser

DESIGNER = Actor("designer", "management", "process_designer")
SHIPPED = read_files(ROOT, "bpmn", "forms")


def _draft(live_server, files=None) -> int:
    with live_server.app.extensions["redress.db"].write_session.begin() as s:
        return drafts.create(s, DESIGNER, dict(files or SHIPPED), title="complaint_handling").draft.id


def _files(live_server, draft_id):
    with live_server.app.extensions["redress.db"].session() as s:
        draft = drafts.get(s, draft_id)
        return dict(draft.files), draft.report


def _save(page):
    before = page.inner_text("#draft-version")
    page.click("#save-draft")
    page.wait_for_function("v => document.getElementById('draft-version').textContent !== v", arg=before)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_canvas_opens_readable_with_zoom_controls_and_the_file_list_fits(live_server, new_page, locale):
    draft_id = _draft(live_server)
    page = new_page(locale)
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    zoom = page.evaluate("() => window.redressDesigner.bpmn.get('canvas').zoom()")
    assert zoom >= 0.75, zoom  # task names can be read, not a whole pool shrunk to fit
    # The tool palette does not cover the diagram's first elements.
    palette = page.locator("#bpmn-canvas .djs-palette").bounding_box()
    start = page.locator('#bpmn-canvas .djs-shape[data-element-id="StartEvent_Complaint_Received"]').bounding_box()
    assert start["x"] > palette["x"] + palette["width"]
    toolbar = page.locator(".rd-diagram-toolbar button")
    assert toolbar.count() == 5
    toolbar.nth(0).click()  # zoom in
    assert page.evaluate("() => window.redressDesigner.bpmn.get('canvas').zoom()") > zoom
    toolbar.nth(2).click()  # fit
    # Every file name is inside the list column (none runs under the canvas).
    column = page.locator("#file-list").bounding_box()
    for box in page.locator("#file-list .file-item").evaluate_all(
            "items => items.map(i => { const r = i.getBoundingClientRect(); return [r.right, i.scrollWidth, i.clientWidth]; })"):
        assert box[0] <= column["x"] + column["width"] + 1 and box[1] <= box[2] + 1, box
    screenshot(page, f"designer-workbench-{locale}")


def test_a_form_field_is_added_labelled_ordered_and_required_without_json(live_server, browser_page):
    draft_id = _draft(live_server)
    page = browser_page
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    page.click('#file-list button[data-path="forms/investigate.json"]')
    page.wait_for_selector("#form-fields tr[data-field=findings]")
    assert not page.locator("#form-json-advanced").evaluate("d => d.open")  # JSON is the advanced view

    page.fill("#new-field-key", "Bad Name")
    page.click("#add-field")
    assert "lower-case" in page.inner_text("#new-field-error") or "小写字母" in page.inner_text("#new-field-error")
    page.fill("#new-field-key", "batch_number")
    page.click("#add-field")
    row = page.locator("#form-fields tr[data-field=batch_number]")
    row.locator('input[data-lang="zh-CN"]').fill("批次号")
    row.locator('input[data-lang="zh-CN"]').dispatch_event("change")
    row.locator('input[data-lang="en"]').fill("Batch number")
    row.locator('input[data-lang="en"]').dispatch_event("change")
    row.locator("input[type=checkbox]").check()
    for _ in range(3):
        page.locator("#form-fields tr[data-field=batch_number] button[title]").first.click()  # move up
    assert "批次号 *" in page.inner_text("#form-preview")  # the live preview, required marked
    _save(page)

    files, report = _files(live_server, draft_id)
    schema = json.loads(files["forms/investigate.json"])
    field = schema["properties"]["batch_number"]
    assert field["x-ui"]["label"] == {"zh-CN": "批次号", "en": "Batch number"}
    assert field["type"] == "string" and field["maxLength"] == 500
    assert "batch_number" in schema["required"]
    order = schema["x-ui"]["order"]
    assert order.index("batch_number") == len(order) - 4
    before = json.loads(SHIPPED["forms/investigate.json"])
    assert {k: v for k, v in schema["properties"].items() if k != "batch_number"} == before["properties"]
    assert report["errors"] == 0


def test_a_decision_table_is_created_from_scratch(live_server, browser_page):
    draft_id = _draft(live_server)
    page = browser_page
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    page.fill("#new-dmn-name", "refund_band")
    page.click("#new-dmn")
    page.wait_for_function("() => document.getElementById('dmn-canvas').dataset.ready === 'bpmn/refund_band.dmn'")
    assert page.locator("#dmn-canvas td").count() >= 2
    _save(page)
    files, report = _files(live_server, draft_id)
    assert "bpmn/refund_band.dmn" in files and 'id="refund_band"' in files["bpmn/refund_band.dmn"]
    assert not [f for f in report["findings"] if f.get("file") == "bpmn/refund_band.dmn" and f["severity"] == "error"]


def test_the_review_shows_both_diagrams_side_by_side_zooming_together(live_server, browser_page):
    live_server.runtime.deploy(SHIPPED, note="active")
    changed = dict(SHIPPED)
    changed["bpmn/complaint.bpmn"] = changed["bpmn/complaint.bpmn"].replace('name="登记投诉"', 'name="登记客户投诉"')
    draft_id = _draft(live_server, changed)
    page = browser_page
    login(page, live_server, "reviewer")
    page.goto(live_server.url(f"/definitions/review/{draft_id}"))
    page.wait_for_selector('.diff-viewer[data-side="new"][data-ready="true"]')
    page.wait_for_selector('.diff-viewer[data-side="old"][data-ready="true"]')
    old, new = (page.locator(f'.diff-viewer[data-side="{side}"]').first for side in ("old", "new"))
    old_box, new_box = old.bounding_box(), new.bounding_box()
    assert old_box["width"] > 550 and new_box["width"] > 550 and old_box["height"] >= 400
    assert abs(old_box["y"] - new_box["y"]) < 2 and new_box["x"] > old_box["x"]  # side by side
    assert new.locator('.djs-element.diff-changed[data-element-id="Task_Register"]').count() == 1
    # Zooming one zooms the other.
    zoom_of = "el => getComputedStyle(el.querySelector('.viewport')).transform"
    before = old.evaluate(zoom_of)
    new.locator("xpath=..").locator(".rd-diagram-toolbar button").nth(0).click()
    page.wait_for_function("([sel, v]) => getComputedStyle(document.querySelector(sel + ' .viewport')).transform !== v",
                           arg=['.diff-viewer[data-side="old"]', before])
    assert old.evaluate(zoom_of) == new.evaluate(zoom_of)
    screenshot(page, "review-side-by-side")


def test_a_built_in_scenario_is_shown_run_and_the_suite_listed(live_server, browser_page):
    draft_id = _draft(live_server)
    page = browser_page
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    page.click("#tab-findings")
    scenarios = len(load_scenarios())  # every scenario of the suite
    assert page.locator("#suite-results li.scenario-pass").count() == scenarios  # run on save, all pass
    page.click("#tab-testrun")
    page.select_option("#scenario-select", "compensation_after_sales")
    assert '"Task_Investigate_After_Sales"' in page.input_value("#scenario-json")
    page.click("#run-test")
    page.wait_for_selector("#test-outcome")
    assert page.get_attribute("#test-outcome", "data-outcome") == "waiting"
    stops = page.locator("#test-stops li")
    assert stops.count() >= 1 and stops.first.is_visible()  # where it stopped is shown, not cut off
    screenshot(page, "designer-test-run-builtin")


def test_the_printable_record_carries_the_same_diagrams(live_server, browser_page):
    live_server.runtime.deploy(SHIPPED, note="active")
    changed = dict(SHIPPED)
    changed["bpmn/complaint.bpmn"] = changed["bpmn/complaint.bpmn"].replace('name="登记投诉"', 'name="登记客户投诉"')
    draft_id = _draft(live_server, changed)
    page = browser_page
    login(page, live_server, "reviewer")
    page.goto(live_server.url(f"/definitions/review/{draft_id}/record"))
    page.wait_for_selector('.diff-viewer[data-side="new"][data-ready="true"]')
    assert page.locator('.diff-viewer .djs-element.diff-changed[data-element-id="Task_Register"]').count() == 2
