"""Every scenario of tests/test_complaint_paths.py again, but each task done through its HTML page.

A person of the task's lane logs in (with the CSRF token of the login page), opens the task page, and the
test fills only the controls the page draws: a value the scenario wants that no control offers fails the
test, as does a required field without a usable control. Then the form is posted form-encoded, exactly
as a browser would. The last test checks that, together, the scenarios opened every user task of the model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import lxml.html
import pytest
from lxml import etree
from werkzeug.datastructures import MultiDict

import tests.test_complaint_paths as paths
from processes.engine.forms import choice_text
from processes.engine.users import add_user
from tests.conftest import ROOT
from tests.runtime_harness import FacadeHarness

pytestmark = pytest.mark.backend_neutral  # what the pages draw; test_complaint_paths runs these scenarios on both databases
PASSWORD = "pw-12345678"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
# The task ids each scenario completed through a page, by scenario name.
WALKED: dict[str, set[str]] = {}


def person_for(row) -> tuple[str, str, str]:
    """(username, department, role) of someone in the task's lane who may do it."""
    role = {"senior": "senior_agent", "supervisor": "supervisor"}.get(row.candidate_group)
    if role is None:
        role = {"management": "manager", "customer_service": "agent"}.get(row.department, "department_staff")
    return f"{row.department}.{role}", row.department, role


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(app, client, username: str, department: str, role: str) -> None:
    """Log `client` in as that person (made on first use), ending whoever was logged in."""
    with app.extensions["redress.db"].write_session.begin() as s:
        from processes.engine.users import User

        if s.query(User).filter_by(username=username).first() is None:
            add_user(s, username, department, role, PASSWORD)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


class PageHarness(FacadeHarness):
    """The scenarios' harness, with `complete` done by a person through the task page."""

    client = None
    app = None
    walked: ClassVar[set[str]] = set()

    def _login(self, row) -> None:
        log_in(self.app, self.client, *person_for(row))

    def complete(self, bpmn_id: str, data: dict | None = None) -> None:
        row = self._row(bpmn_id)
        self.session.commit()
        self._login(row)
        page = self.client.get(f"/tasks/{row.id}")
        assert page.status_code == 200, page.get_data(as_text=True)
        html = page.get_data(as_text=True)
        if bpmn_id == "Task_Review_Duplicate":
            assert_compares_with_the_original(html, row.business_key, self.session)
        form = task_form(html, bpmn_id)
        posted = fill(form, bpmn_id, dict(data or {}))
        response = self.client.post(f"/tasks/{row.id}", data=posted)
        assert response.status_code == 302, (bpmn_id, page_errors(response.get_data(as_text=True)))
        assert f"/tasks/{row.id}/done" in response.headers["Location"]
        self.walked.add(bpmn_id)
        self._renew()


def assert_compares_with_the_original(html: str, reference: str, session) -> None:
    """The reviewer sees both complaints: this one and the earlier one it may repeat."""
    doc = lxml.html.fromstring(html)
    this = doc.xpath('//*[contains(@class, "duplicate-this")]')
    original = doc.xpath('//*[contains(@class, "duplicate-original")]')
    assert this and original, "the duplicate review shows no comparison"
    assert reference in this[0].text_content()
    from processes.complaints.records import Complaint

    own = session.query(Complaint).filter_by(reference=reference).one()
    earlier = session.query(Complaint).filter_by(reference=own.duplicate_of).one()
    shown = original[0].text_content()
    assert earlier.reference in shown and earlier.subject in shown, shown


def task_form(html: str, bpmn_id: str):
    doc = lxml.html.fromstring(html)
    forms = doc.xpath('//form[contains(@class, "task-form")]')
    assert forms, f"{bpmn_id}: the page offers no form to work the task"
    form = forms[0]
    # Every required field is drawn as a control a person can use.
    for box in form.xpath('.//div[@data-field]'):
        if not box.xpath('.//span[contains(@class, "text-danger")]'):
            continue
        name = box.get("data-field")
        controls = form.xpath(f'.//*[@name="{name}"]')
        assert controls, f"{bpmn_id}: required field {name} has no control"
        radios = [c for c in controls if c.get("type") == "radio"]
        selects = [c for c in controls if c.tag == "select"]
        if radios:
            assert len(radios) >= 2, f"{bpmn_id}: required field {name} offers one choice or none"
        for select in selects:
            assert [o for o in select.xpath("./option") if o.get("value")], f"{bpmn_id}: {name} offers no options"
    return form


def current_values(form) -> list[tuple[str, str]]:
    """What the browser would send for the form as drawn."""
    out = []
    for control in form.xpath(".//input|.//textarea|.//select"):
        name = control.get("name")
        if not name:
            continue
        kind = control.get("type", "text") if control.tag == "input" else control.tag
        if kind in ("radio", "checkbox"):
            if control.get("checked") is not None:
                out.append((name, control.get("value", "on")))
        elif kind == "select":
            chosen = control.xpath("./option[@selected]")
            out.append((name, chosen[0].get("value", "") if chosen else ""))
        elif kind == "textarea":
            out.append((name, control.text or ""))
        elif kind not in ("file", "submit"):
            out.append((name, control.get("value", "")))
    return out


def fill(form, bpmn_id: str, data: dict) -> dict:
    """The form's current values with the scenario's `data` set through the controls that carry them."""
    values: dict[str, list[str]] = {}
    for name, value in current_values(form):
        values.setdefault(name, []).append(value)
    for name, value in data.items():
        controls = form.xpath(f'.//*[@name="{name}"]')
        assert controls, f"{bpmn_id}: the page has no control for {name}"
        first = controls[0]
        kind = first.get("type", "text") if first.tag == "input" else first.tag
        if kind == "checkbox" and first.get("value") is None:
            values[name] = ["on"] if value else []
            continue
        if kind in ("radio", "select", "checkbox"):
            offered = ([c.get("value") for c in controls] if kind != "select"
                       else [o.get("value") for o in first.xpath("./option")])
            wanted = [choice_text(v) for v in value] if isinstance(value, list) else [choice_text(value)]
            missing = [w for w in wanted if w not in offered]
            assert not missing, f"{bpmn_id}: {name} offers {offered}, not {missing}"
            values[name] = wanted
            continue
        values[name] = ["" if value is None else str(value)]
    posted = {name: (v if len(v) > 1 else v[0]) for name, v in values.items() if v}
    posted["action"] = "complete"
    return posted


def page_errors(html: str) -> list[str]:
    doc = lxml.html.fromstring(html)
    return [e.text_content().strip() for e in doc.xpath('//*[contains(@class, "field-error")]')] or [html[:2000]]


# -- fixtures: the scenarios' `run` and `dbsession`, on a web app -------------------------


@pytest.fixture
def web_app(shipped_url, tmp_path):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": shipped_url, "SECRET_KEY": "test"})
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def dbsession(web_app):
    with web_app.extensions["redress.db"].session() as session:
        yield session


@pytest.fixture
def run(web_app, dbsession, monkeypatch):
    runtime = web_app.extensions["redress.runtime"]
    PageHarness.app, PageHarness.client, PageHarness.walked = web_app, web_app.test_client(), set()
    # The improvement action's own harness works through the pages too.
    monkeypatch.setattr(paths, "FacadeHarness", PageHarness)
    started = []

    def start(reference=paths.REF, **overrides):
        harness = PageHarness.start(runtime, paths.complaint_start_data(reference, **overrides), dbsession)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.close()


SCENARIOS = [name for name, fn in vars(paths).items() if name.startswith("test_") and callable(fn)
             and name not in {"test_rule_based_loading_every_step_from_the_database",  # a runtime cache variant
                              "test_a_failing_handler_leaves_the_instance_at_its_service_task",  # no page in it
                              "test_start_data_contract"}]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_through_the_pages(scenario, run, dbsession, request):
    function = getattr(paths, scenario)
    arguments = {"run": run, "dbsession": dbsession, "sla_profile": "default"}  # profiles: test_complaint_paths
    names = function.__code__.co_varnames[:function.__code__.co_argcount]
    if "sla_profile" in names:  # the pages walk the first SLA profile; test_complaint_paths walks them all
        arguments["sla_profile"] = next(iter(paths.BREACH_DUE))
        request.getfixturevalue("monkeypatch").setenv("REDRESS_SLA_PROFILE", arguments["sla_profile"])
    function(**{n: arguments[n] for n in names})
    WALKED[scenario] = set(PageHarness.walked)


OWNERS = ["customer_service", "sales", "technical", "after_sales"]  # product's runs in the defect scenario


@pytest.mark.parametrize("department", OWNERS)
def test_improvement_action_of_each_department_through_its_page(department, run, dbsession):
    from processes.complaints.records import ImprovementAction

    action = ImprovementAction(business_key=paths.REF, department=department, root_cause="流程缺陷",
                               due_date=paths.DEFAULT_START.date())
    dbsession.add(action)
    dbsession.commit()
    task = "Task_Improve_" + "_".join(p.capitalize() for p in department.split("_"))
    with PageHarness.start(web_app_runtime(), {"reference": paths.REF, "improvement_action_id": action.id,
                                               "department": department, "root_cause": "流程缺陷",
                                               "due_date": "2025-04-02", "settings": {}},
                           dbsession, process_id="improvement_action") as ia:
        assert ia.ready_user_tasks() == [(task, department, "improvement_action.json")]
        ia.complete(task, {"action_taken": "修订话术与培训", "verified": True})
        assert ia.is_completed
    dbsession.refresh(action)
    assert (action.status, action.action_taken) == ("done", "修订话术与培训")
    WALKED[f"improve:{department}"] = set(PageHarness.walked)


def web_app_runtime():
    return PageHarness.app.extensions["redress.runtime"]


def user_tasks() -> set[str]:
    ids = set()
    for path in Path(ROOT, "bpmn").glob("*.bpmn"):
        ids |= {t.get("id") for t in etree.parse(str(path)).iter(f"{BPMN}userTask")}
    return ids


def test_every_user_task_of_the_model_was_done_through_its_page():
    if set(WALKED) != set(SCENARIOS) | {f"improve:{d}" for d in OWNERS}:
        pytest.skip("needs every scenario of this file in the same run")
    walked = set().union(*WALKED.values())
    assert user_tasks() - walked == set()


def test_a_yes_no_radio_group_reads_yes_and_no_and_refuses_anything_else(web_app):
    from web.form_render import form_fields, read_submission

    schema = {"type": "object", "required": ["is_duplicate"], "properties": {
        "is_duplicate": {"type": "boolean", "x-ui": {"widget": "radio"}},
        "score": {"type": "integer", "minimum": 1, "maximum": 5, "x-ui": {"widget": "radio"}}}}
    with web_app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        duplicate, score = form_fields(schema, {"is_duplicate": False})
        assert duplicate.options == [("true", "是"), ("false", "否")] and duplicate.value == "false"
        assert [value for value, _text in score.options] == ["1", "2", "3", "4", "5"]
        data, _raw, errors = read_submission(schema, MultiDict({"is_duplicate": "true", "score": "4"}))
        assert data == {"is_duplicate": True, "score": 4} and errors == {}
        data, raw, errors = read_submission(schema, MultiDict({"is_duplicate": "maybe"}))
        assert "is_duplicate" not in data and raw["is_duplicate"] == "maybe" and errors["is_duplicate"]
