"""BPMN exported by other modelers (bpmn.io, Camunda 7 and 8, Signavio, ARIS, Bizagi), through
validation, `POST /api/v1/definitions` and the CLI: each gets a report, never a crash or a 5xx, and
each finding names the element and says what to change, in Chinese and in English."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from processes.engine.models import AuditEntry, ProcessDefinition
from processes.governance import validation
from processes.governance.validation import validate
from web.cli import main

FOREIGN = Path(__file__).resolve().parent / "fixtures" / "foreign"
ALL = sorted(p.name for p in FOREIGN.iterdir())


def report_of(name: str, text: str | None = None):
    return validate({name: text if text is not None else (FOREIGN / name).read_bytes()})


def only(report, code, element_id=None):
    found = [f for f in report.findings if f.code == code and (element_id is None or f.element_id == element_id)]
    assert len(found) == 1, [(f.code, f.element_id, f.message["en"]) for f in report.findings]
    return found[0]


def fixture_text(name: str) -> str:
    return (FOREIGN / name).read_text(encoding="utf-8")


# -- executable as the engine decides ------------------------------------------


def test_a_process_without_isexecutable_is_checked_like_our_own():
    report = report_of("bpmn_io.bpmn")
    assert report.process_ids == ["Process_bpmnio"]  # the engine runs it, so our rules run on it too
    assert [s["status"] for s in report.stages] == ["done"] * 4
    codes = {f.code for f in report.findings}
    assert "timer_unquoted" in codes and "no_executable" not in codes


def test_only_isexecutable_false_means_not_executable():
    text = fixture_text("bpmn_io.bpmn").replace('<bpmn:process id="Process_bpmnio">',
                                                '<bpmn:process id="Process_bpmnio" isExecutable="false">')
    f = only(report_of("bpmn_io.bpmn", text), "no_executable")
    assert f.severity == "error"
    assert 'isExecutable="false"' in f.message["en"] and "Set isExecutable to true" in f.message["en"]
    assert "isExecutable" in f.message["zh-CN"] and "可执行" in f.message["zh-CN"]


def test_an_engine_failure_does_not_hide_that_nothing_is_executable(monkeypatch):
    def broken(raw, parser=None):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(validation, "top_level_process_ids", broken)
    text = fixture_text("bpmn_io.bpmn").replace('<bpmn:process id="Process_bpmnio">',
                                                '<bpmn:process id="Process_bpmnio" isExecutable="false">')
    assert {"no_executable", "engine"} <= {f.code for f in report_of("bpmn_io.bpmn", text).errors}


# -- timers as the engine evaluates them ---------------------------------------


def test_an_unquoted_iso_duration_is_an_error_with_the_fix():
    f = only(report_of("bpmn_io.bpmn"), "timer_unquoted")
    assert f.element_id == "Event_Call_Overdue" and f.severity == "error"
    assert 'Write it in quotes: "PT2H"' in f.message["en"] and "两小时未回电" in f.message["en"]
    assert "引号" in f.message["zh-CN"] and '"PT2H"' in f.message["zh-CN"] and "两小时未回电" in f.message["zh-CN"]
    assert f.fix == {"replace": "PT2H", "with": '"PT2H"'}
    fixed = fixture_text("bpmn_io.bpmn").replace(">PT2H<", '>"PT2H"<')
    assert report_of("bpmn_io.bpmn", fixed).ok  # applying the offered fix is all it takes


def test_unquoted_recurring_and_date_timers():
    report = report_of("aris.bpmn")
    cycle = only(report, "timer_unquoted", "Event_Wait_Reminders")
    assert '"R1/P5D"' in cycle.message["en"] and '"R1/P5D"' in cycle.message["zh-CN"]
    date = only(report, "timer_unquoted", "Event_Year_End")
    assert date.fix == {"replace": "2026-12-31T17:00:00", "with": '"2026-12-31T17:00:00"'}


def test_a_duration_in_a_timedate_is_refused_as_the_engine_would():
    text = fixture_text("aris.bpmn").replace(">2026-12-31T17:00:00<", '>"P7D"<')
    f = only(report_of("aris.bpmn", text), "timer_value", "Event_Year_End")
    assert "timeDuration" in f.message["en"] and "duration" in f.message["en"]
    assert "时长" in f.message["zh-CN"] and "timeDuration" in f.message["zh-CN"]


def test_a_timer_setting_is_checked_through_its_value():
    quoted = fixture_text("bpmn_io.bpmn")
    assert report_of("x.bpmn", quoted.replace(">PT2H<", '>settings["details_timeout"]<')).ok
    f = only(report_of("x.bpmn", quoted.replace(">PT2H<", '>"7 days"<')), "timer_value")
    assert "cannot read it as a timeDuration" in f.message["en"] and "无法把它读作 timeDuration" in f.message["zh-CN"]


# -- the diagram interchange, colours, languages -------------------------------


def test_vendor_data_in_di_extension_is_a_warning_and_the_other_stages_run():
    report = report_of("aris.bpmn")
    diagram = [f for f in report.findings if f.code == "schema_diagram"]
    assert diagram and all(f.severity == "warning" for f in diagram)
    assert diagram[0].element_id == "StartEvent_Reminder_di"
    assert "engine never reads it" in diagram[0].message["en"] and "流程引擎不读取图形信息" in diagram[0].message["zh-CN"]
    assert "schema" not in {f.code for f in report.findings}
    assert report.process_ids == ["reminder_cycle"] and [s["status"] for s in report.stages] == ["done"] * 4
    assert any(i["namespace"] == "http://example.org/aris-style/di-extension" for i in report.ignored)


def test_xml_lang_and_bpmn_in_color_raise_nothing():
    report = report_of("bpmn_io.bpmn", fixture_text("bpmn_io.bpmn").replace(">PT2H<", '>"PT2H"<'))
    assert report.findings == []
    ignored = {i["namespace"]: i["what"] for i in report.ignored}
    assert ignored["http://www.omg.org/spec/BPMN/non-normative/color/1.0"]["en"] == "BPMN in Color colours"
    assert ignored["http://bpmn.io/schema/bpmn/biocolor/1.0"]["zh-CN"] == "bpmn.io 颜色"


def test_a_semantic_schema_error_is_still_an_error_and_lint_still_runs():
    report = report_of("schema_invalid.bpmn")
    assert only(report, "schema").severity == "error"
    assert "no_end" in {f.code for f in report.findings}  # the lint stage ran despite the schema error


# -- other modelers' extensions -------------------------------------------------


def test_camunda_extensions_are_named_per_element_with_what_to_do_instead():
    report = report_of("camunda_modeler.bpmn")
    service = only(report, "vendor_extension", "Activity_1m2n3o")
    assert "Camunda 7" in service.message["en"] and "(class)" in service.message["en"]
    assert "choose a handler" in service.message["en"] and "处理程序" in service.message["zh-CN"]
    user = only(report, "vendor_extension", "Activity_0k3j9x")
    assert "assignee" in user.message["en"] and "lane" in user.message["en"] and "泳道" in user.message["zh-CN"]
    start = only(report, "vendor_extension", "StartEvent_1")
    assert "formKey" in start.message["en"] and "表单" in start.message["zh-CN"]
    # Camunda's historyTimeToLive and the modeler's platform note change nothing: no warning, listed as ignored.
    assert "Process_0x1y2z" not in {f.element_id for f in report.findings}
    assert "http://camunda.org/schema/modeler/1.0" in {i["namespace"] for i in report.ignored}


def test_zeebe_and_signavio_extensions():
    zeebe = only(report_of("zeebe_modeler.bpmn"), "vendor_extension", "Task_Notify_C8")
    assert "Camunda 8 (Zeebe)" in zeebe.message["en"] and "taskDefinition" in zeebe.message["en"]
    assert "Camunda 8(Zeebe)" in zeebe.message["zh-CN"]
    signavio = report_of("signavio.bpmn")
    f = only(signavio, "vendor_extension", "sid-check")
    assert "metaKey=risklevel" in f.message["en"] and "bgcolor" not in f.message["en"]
    assert "Signavio" in f.message["zh-CN"] and "流程变量" in f.message["zh-CN"]
    assert not [f for f in signavio.findings if f.element_id == "Lane_customer_service"]  # a colour only


# -- expressions in other languages --------------------------------------------


def test_feel_juel_and_xpath_conditions_are_named_with_the_python_to_write():
    feel = only(report_of("zeebe_modeler.bpmn"), "expression_language", "Flow_Severe")
    assert feel.message["en"] == ('This condition is FEEL, and the engine evaluates Python only; write it in '
                                  'Python: severity == "high" and amount > 100')
    assert feel.message["zh-CN"].startswith("这个条件是 FEEL") and 'severity == "high"' in feel.message["zh-CN"]
    juel = only(report_of("camunda_gateway.bpmn"), "expression_language", "Flow_Large")
    assert "JUEL" in juel.message["en"] and juel.fix["with"] == "amount > 100 and not approved"
    assert "JUEL" in juel.message["zh-CN"]
    xpath = only(report_of("signavio.bpmn"), "expression_language", "sid-r3")
    assert "This condition is XPath" in xpath.message["en"] and "rewrite it in Python" in xpath.message["en"]
    assert "XPath" in xpath.message["zh-CN"] and xpath.fix is None
    assert "script" not in {f.code for f in report_of("zeebe_modeler.bpmn").findings}  # not a "syntax error"


# -- engine errors as sentences --------------------------------------------------


def test_an_unexpected_engine_exception_becomes_a_sentence_naming_the_element(monkeypatch):
    def trips(raw, process_id, parser=None):
        from lxml import etree

        node = etree.fromstring(raw["bpmn_io.bpmn"]).find(".//{*}userTask")  # the parser holds the node it reads
        raise TypeError(f"unsupported operand {object()!r} for {node!r}")

    monkeypatch.setattr(validation, "parse_definition", trips)
    text = fixture_text("bpmn_io.bpmn").replace(">PT2H<", '>"PT2H"<')
    f = only(report_of("bpmn_io.bpmn", text), "engine")
    assert f.element_id == "Task_Call_Back" and f.file == "bpmn_io.bpmn"
    assert f.message["en"].startswith("The engine stopped while reading '回电客户' (Task_Call_Back)")
    assert "TypeError" not in str(f.message) and "0x" not in str(f.message)
    assert "回电客户" in f.message["zh-CN"] and "不受支持" in f.message["zh-CN"]


def test_a_known_engine_error_says_what_to_change():
    report = report_of("zeebe_modeler.bpmn")
    assert "engine" not in {f.code for f in report.findings}  # said once, by the handler rule
    assert only(report, "handler_missing").element_id == "Task_Notify_C8"


# -- encodings -------------------------------------------------------------------


def test_an_iso_8859_1_file_is_read_by_its_declaration():
    report = report_of("latin1.bpmn")
    assert report.ok and report.process_ids == ["pruefung"]


def test_undeclared_non_utf8_bytes_are_refused_clearly():
    f = only(report_of("not_utf8.bpmn"), "encoding")
    assert f.line == 3 and "not UTF-8" in f.message["en"] and "declares no encoding" in f.message["en"]
    assert "第 3 行" in f.message["zh-CN"] and "UTF-8" in f.message["zh-CN"]
    assert {s["stage"]: s["status"] for s in report_of("not_utf8.bpmn").stages}["engine"] == "skipped"
    unknown = b'<?xml version="1.0" encoding="klingon-8"?><definitions/>'
    f = only(validate({"k.bpmn": unknown}), "encoding")
    assert "klingon-8" in f.message["en"] and "klingon-8" in f.message["zh-CN"]


# -- over HTTP -------------------------------------------------------------------


@pytest.fixture
def designer(make_user):
    return make_user("sun.designer", "management", "process_designer")[1]


def post(client, token, name: str, data: bytes):
    return client.post("/api/v1/definitions", data={"bpmn": [(io.BytesIO(data), name)]},
                       headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")


def test_every_foreign_file_gets_a_report_over_http_never_a_5xx(client, designer):
    for name in ALL:
        response = post(client, designer, name, (FOREIGN / name).read_bytes())
        assert response.status_code in (201, 422), (name, response.status_code)
        report = response.get_json()["report"]
        assert [s["stage"] for s in report["stages"]] == ["files", "schema", "engine", "lint"], name
        for f in report["findings"]:
            assert f["message"]["zh-CN"] and f["message"]["en"], (name, f)


def test_an_iso_8859_1_upload_is_stored_and_deployed_uncorrupted(client, designer, make_user, app):
    reviewer = make_user("zhao.compliance", "management", "compliance_reviewer")[1]
    created = post(client, designer, "latin1.bpmn", (FOREIGN / "latin1.bpmn").read_bytes())
    assert created.status_code == 201, created.get_json()
    draft_id = created.get_json()["draft"]["id"]
    stored = client.get(f"/api/v1/definitions/{draft_id}", headers={"Authorization": f"Bearer {designer}"})
    text = stored.get_json()["contents"]["latin1.bpmn"]
    assert "Prüfung der Beschwerde" in text and "\ufffd" not in text and 'encoding="UTF-8"' in text
    client.post(f"/api/v1/definitions/{draft_id}/submit", json={"change_note": "German intake"},
                headers={"Authorization": f"Bearer {designer}"})
    approved = client.post(f"/api/v1/definitions/{draft_id}/approve", json={},
                           headers={"Authorization": f"Bearer {reviewer}"})
    assert approved.status_code == 200, approved.get_json()
    with app.extensions["redress.db"].session() as s:
        deployed = s.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == "pruefung")).one()
        assert "Geprüft" in deployed.files["latin1.bpmn"]
        assert deployed.spec["description"] == "Prüfung der Beschwerde"  # what the engine parsed
        assert deployed.spec["task_specs"]["EndEvent_Pruefung"]["bpmn_name"] == "Geprüft"


def test_undeclared_latin1_over_http_is_refused_and_nothing_is_stored(client, designer):
    refused = post(client, designer, "not_utf8.bpmn", (FOREIGN / "not_utf8.bpmn").read_bytes())
    assert refused.status_code == 422
    codes = {f["code"] for f in refused.get_json()["report"]["findings"]}
    assert codes == {"encoding"}


# -- the CLI ---------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", ALL)
def test_the_cli_reports_every_foreign_file_without_a_traceback(name):
    result = run("definition", "validate", str(FOREIGN / name), "--lang", "en")
    # A status, never an exception (click reports exit 0 as no exception at all).
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
    assert "checked: " in result.output or "not checked: " in result.output


def test_cli_exit_status_valid_findings_unreadable(tmp_path):
    assert run("definition", "validate", str(FOREIGN / "latin1.bpmn")).exit_code == 0
    assert run("definition", "validate", str(FOREIGN / "camunda_gateway.bpmn")).exit_code == 1
    unreadable = run("definition", "validate", str(FOREIGN / "not_utf8.bpmn"), "--lang", "en")
    assert unreadable.exit_code == 2 and "not UTF-8" in unreadable.output
    assert run("definition", "validate", str(FOREIGN / "truncated.bpmn")).exit_code == 2
    zh = run("definition", "validate", str(FOREIGN / "bpmn_io.bpmn"))
    assert zh.exit_code == 1 and "引号" in zh.output and '修改: PT2H → "PT2H"' in zh.output
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "a.bpmn").write_bytes((FOREIGN / "latin1.bpmn").read_bytes())
    assert run("definition", "validate", str(folder)).exit_code == 0


@pytest.fixture
def cli(db, monkeypatch):
    monkeypatch.setenv("REDRESS_DATABASE_URL", db.url)
    return run


def deployed_keys(db) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(ProcessDefinition.process_key)))


def test_deploy_validates_first_and_force_is_audited(cli, db, tmp_path):
    folder = tmp_path / "refund"
    folder.mkdir()
    (folder / "refund.bpmn").write_bytes((FOREIGN / "camunda_gateway.bpmn").read_bytes())
    refused = cli("deploy", str(folder), "--lang", "en")
    assert refused.exit_code == 1 and "This condition is JUEL" in refused.output and "--force" in refused.output
    assert "refund_check" not in deployed_keys(db)
    forced = cli("deploy", str(folder), "--force", "--note", "operator override")
    assert forced.exit_code == 0, forced.output
    assert "refund_check" in deployed_keys(db)
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "definition_deploy_forced")).one()
    assert {e["code"] for e in entry.detail["errors"]} == {"expression_language", "timer_unquoted"}
    unreadable = cli("deploy", str(FOREIGN / "not_utf8.bpmn"), "--force")
    assert unreadable.exit_code == 2 and "pruefung" not in deployed_keys(db)
