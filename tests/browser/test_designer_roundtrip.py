"""The designer changes exactly what the designer changed.

For every shipped BPMN and DMN file: open it in the browser designer, select every element and
press Apply in the properties panel without touching a field, save through the modeler's own
serialization: the semantic diff is empty and the engine reads the same process. Then rename one
task: the diff shows that rename and nothing else.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from processes.engine.actors import Actor
from processes.engine.definitions import read_files
from processes.engine.spiff import create_serializer, parse_definition
from processes.governance import drafts
from processes.governance.spec_diff import diff_definitions
from tests.browser.conftest import ROOT, login

pytestmark = pytest.mark.browser

SHIPPED = read_files(ROOT, "bpmn", "forms")
BPMN_FILES = sorted(p for p in SHIPPED if p.endswith(".bpmn"))
DMN_FILES = sorted(p for p in SHIPPED if p.endswith(".dmn"))
DESIGNER = Actor("designer", "management", "process_designer")
EDITABLE = """() => window.redressDesigner.bpmn.get("elementRegistry").filter(e =>
    !e.labelTarget && !["bpmn:Process", "bpmn:Collaboration", "bpmn:Participant", "bpmn:Lane",
                        "label"].includes(e.type) && e.type !== "root").map(e => e.id)"""


def _draft(live_server) -> int:
    with live_server.app.extensions["redress.db"].write_session.begin() as s:
        return drafts.create(s, DESIGNER, dict(SHIPPED), title="round trip").draft.id


def _draft_files(live_server, draft_id: int) -> dict[str, str]:
    with live_server.app.extensions["redress.db"].session() as s:
        return dict(drafts.get(s, draft_id).files)


def _open(page, path: str, kind: str) -> None:
    page.click(f'#file-list button[data-path="{path}"]')
    page.wait_for_function("([sel, p]) => document.querySelector(sel).dataset.ready === p",
                           arg=[f"#{kind}-canvas", path])


def _save_through_the_modeler(page) -> None:
    """Make the open editor write its own serialization, then save the draft."""
    before = page.inner_text("#draft-version")
    page.evaluate("() => { window.redressDesigner.state.editorDirty = true; window.redressDesigner.state.dirty = true; }")
    page.click("#save-draft")
    page.wait_for_function("v => document.getElementById('draft-version').textContent !== v", arg=before)


def _engine_view(files: dict[str, str], process_ids: list[str]) -> dict:
    """Every task spec the engine builds, as its serializer writes it."""
    registry = create_serializer().registry
    encoded = {name: text.encode("utf-8") for name, text in files.items()}
    view = {}
    for process_id in process_ids:
        spec, subprocesses = parse_definition(encoded, process_id)
        for owner in [spec, *subprocesses.values()]:
            for name, task_spec in owner.task_specs.items():
                view[(owner.name, name)] = registry.convert(task_spec)
    return view


def _process_ids(files):
    from processes.governance.validation import validate

    return validate(files).process_ids


# Every element the panel must carry through unchanged: each BPMN flow node and sequence flow in the file.
PANEL_ELEMENTS = re.compile(r"<bpmn:(?:\w*[tT]ask|\w*Event|\w*Gateway|callActivity|subProcess|sequenceFlow)\b[^>]*\bid=\"([^\"]+)\"")


@cache
def _shipped_engine_view() -> dict:
    return _engine_view(SHIPPED, _process_ids(SHIPPED))


def _apply_every_element(page, path: str) -> None:
    applied = set()
    for element_id in page.evaluate(EDITABLE):
        page.evaluate("id => { const d = window.redressDesigner.bpmn; "
                      "d.get('selection').select(d.get('elementRegistry').get(id)); }", element_id)
        page.wait_for_function("id => document.getElementById('prop-id') && "
                               "document.getElementById('prop-id').value === id", arg=element_id)
        page.click("#apply-properties")
        applied.add(element_id)
    expected = set(PANEL_ELEMENTS.findall(SHIPPED[path]))
    assert expected and expected <= applied, (path, sorted(expected - applied))  # every element went through


# Two halves of about the same length, so xdist runs them side by side. (One test per file cost 65 % more
# CPU: each loads the designer again.) Every file is saved through its modeler; the whole model must then
# read the same as the shipped one.
HALVES = {"complaint": ["bpmn/complaint.bpmn"],
          "the other files": [p for p in BPMN_FILES + DMN_FILES if p != "bpmn/complaint.bpmn"]}


@pytest.mark.parametrize("half", HALVES)
def test_opening_applying_and_saving_the_shipped_files_changes_nothing(live_server, browser_page, half):
    paths = HALVES[half]
    draft_id = _draft(live_server)
    page = browser_page
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    for path in paths:
        kind = "bpmn" if path.endswith(".bpmn") else "dmn"
        _open(page, path, kind)
        if kind == "bpmn":
            _apply_every_element(page, path)
        _save_through_the_modeler(page)

    saved = _draft_files(live_server, draft_id)
    assert all(saved[p] != SHIPPED[p] for p in paths), "saved through the modelers"
    diff = diff_definitions(SHIPPED, saved)
    assert diff["elements"] == {"added": [], "removed": [], "changed": []}, diff["elements"]["changed"][:3]
    assert diff["decisions"] == [] and diff["forms"] == {"added": [], "removed": [], "changed": []}
    before, after = _shipped_engine_view(), _engine_view(saved, _process_ids(SHIPPED))
    differing = {key: {k: (before[key].get(k), after[key].get(k)) for k in before[key]
                       if before[key].get(k) != after[key].get(k)} for key in before if before[key] != after.get(key)}
    assert differing == {}


def test_the_halves_cover_every_shipped_file():
    assert sorted(p for half in HALVES.values() for p in half) == sorted(BPMN_FILES + DMN_FILES)


@pytest.mark.parametrize("path", BPMN_FILES)
def test_renaming_a_task_changes_only_its_name(live_server, browser_page, path):
    draft_id = _draft(live_server)
    page = browser_page
    login(page, live_server, "designer")
    page.goto(live_server.url(f"/designer/drafts/{draft_id}"))
    page.wait_for_selector("#bpmn-canvas[data-ready]")
    _open(page, path, "bpmn")
    task_id = page.evaluate("""() => window.redressDesigner.bpmn.get("elementRegistry")
        .filter(e => /Task$/.test(e.type) && e.businessObject.name)[0].id""")
    page.evaluate("id => { const d = window.redressDesigner.bpmn; "
                  "d.get('selection').select(d.get('elementRegistry').get(id)); }", task_id)
    page.wait_for_selector("#prop-name")
    old_name = page.input_value("#prop-name")
    page.fill("#prop-name", old_name + "(新)")
    page.click("#apply-properties")
    _save_through_the_modeler(page)

    diff = diff_definitions(SHIPPED, _draft_files(live_server, draft_id))
    assert diff["elements"]["added"] == [] and diff["elements"]["removed"] == []
    [changed] = diff["elements"]["changed"]
    assert changed["id"] == task_id
    assert changed["changes"] == {"name": {"old": old_name, "new": old_name + "(新)"}}
