"""The validation report: broken, hostile and foreign files each get a report, none a crash;
our lint rules catch what would hurt a customer or the runtime."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from processes.engine.definitions import read_files
from processes.governance.validation import PAYOUT_HANDLERS, validate

ROOT = Path(__file__).resolve().parent.parent
FOREIGN = Path(__file__).resolve().parent / "fixtures" / "foreign"
COMPENSATION = Path(__file__).resolve().parent / "fixtures" / "designer" / "compensation"


def good_files() -> dict[str, str]:
    return read_files(COMPENSATION)


def codes(report, severity=None):
    return {f.code for f in report.findings if severity is None or f.severity == severity}


def finding(report, code):
    return next(f for f in report.findings if f.code == code)


def foreign(name: str) -> dict[str, bytes]:
    return {name: (FOREIGN / name).read_bytes()}


def test_the_fixture_and_the_shipped_process_are_valid():
    assert validate(good_files()).to_dict()["errors"] == 0
    shipped = validate(read_files(ROOT, "bpmn", "forms"))
    assert shipped.ok, [f.message["en"] for f in shipped.errors]
    assert "complaint_handling" in shipped.process_ids


PYTHON_LEAKS = re.compile(r"Traceback|\b\w*(Error|Exception)\b(?<!XMLSyntaxError)|<[^>]* at 0x[0-9a-f]+>|\\u[0-9a-f]{4}")


@pytest.mark.parametrize("name", sorted(p.name for p in FOREIGN.iterdir()))
def test_every_foreign_or_broken_file_gets_a_report_never_a_crash(name):
    report = validate(foreign(name))
    body = report.to_dict()
    # The report says what it could check, and why it skipped the rest.
    assert [s["stage"] for s in body["stages"]] == ["files", "schema", "engine", "lint"], name
    for stage in body["stages"]:
        assert stage["label"]["zh-CN"] and stage["label"]["en"]
        assert stage["status"] == "done" or (stage["reason"]["zh-CN"] and stage["reason"]["en"])
    for f in body["findings"]:
        assert f["severity"] in ("error", "warning")
        assert f["message"]["zh-CN"] and f["message"]["en"]
        assert f["element_id"] or f["file"] or f["code"] in ("no_executable", "no_bpmn"), f
        assert not PYTHON_LEAKS.search(f["message"]["en"] + f["message"]["zh-CN"]), f["message"]


def test_xxe_and_billion_laughs_are_refused_with_a_clear_message():
    for name in ("xxe.bpmn", "billion_laughs.dmn"):
        report = validate(foreign(name))
        f = finding(report, "unsafe_xml")
        assert f.severity == "error" and f.file == name
        assert "DOCTYPE" in f.message["en"] and "XXE" in f.message["zh-CN"]
    # The file's contents never reach the report.
    assert "root:" not in str(validate(foreign("xxe.bpmn")).to_dict())


def test_oversized_and_unknown_files_are_refused():
    huge = '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">' + \
        "<!-- " + "x" * (6 * 1024 * 1024) + " --></bpmn:definitions>"
    assert "too_large" in codes(validate({"huge.bpmn": huge}))
    assert "unknown_kind" in codes(validate({"run.sh": "rm -rf /"}))
    assert "bad_path" in codes(validate({"../escape.bpmn": "<x/>"}))
    assert "empty" in codes(validate({}))


def test_truncated_foreign_and_schema_invalid_files():
    assert "not_well_formed" in codes(validate(foreign("truncated.bpmn")))
    assert "not_bpmn" in codes(validate(foreign("not_bpmn.bpmn")))
    schema = finding(validate(foreign("schema_invalid.bpmn")), "schema")
    assert schema.element_id == "Task_Typo" and schema.line == 5 and "userTaskk" in schema.message["en"]


def test_camunda_export_is_reported_not_crashed():
    report = validate(foreign("camunda_modeler.bpmn"))
    assert report.process_ids == ["Process_0x1y2z"]
    assert {"vendor_extension", "lane_missing", "handler_missing"} <= codes(report)
    assert finding(report, "lane_missing").element_id == "Activity_0k3j9x"


def test_collaboration_with_several_pools_lints_only_the_executable_one():
    report = validate(foreign("collaboration_pools.bpmn"))
    assert report.process_ids == ["company_process"]
    unknown = finding(report, "lane_unknown")
    assert unknown.element_id == "Task_Legal_Check"
    assert not any(f.element_id in ("Task_Send", "Event_Answer") for f in report.findings)


def test_a_file_without_a_diagram_is_valid_with_a_warning():
    report = validate(foreign("no_diagram.bpmn"))
    assert report.ok and finding(report, "no_diagram").severity == "warning"


def test_reserved_ids_are_refused():
    report = validate(foreign("reserved_ids.bpmn"))
    assert {f.element_id for f in report.errors if f.code == "reserved_id"} == {"Start", "End"}


def edit(files, name, old, new):
    changed = dict(files)
    assert old in changed[name], old
    changed[name] = changed[name].replace(old, new)
    return changed


BPMN = "compensation_check.bpmn"


def test_missing_form_and_unknown_handler():
    files = edit(good_files(), BPMN, 'value="send_offer.json"', 'value="no_such_form.json"')
    assert finding(validate(files), "form_missing").element_id == "Task_Send_Offer"
    files = edit(good_files(), BPMN, '<bpmn:businessRuleTask id="Task_Threshold" name="查审批阈值">',
                 '<bpmn:serviceTask id="Task_Threshold" name="查审批阈值">')
    files = edit(files, BPMN, "</bpmn:businessRuleTask>", "</bpmn:serviceTask>")
    files = edit(files, BPMN, "<spiffworkflow:calledDecisionId>approval_threshold</spiffworkflow:calledDecisionId>",
                 '<spiffworkflow:serviceTaskOperator id="send_fax"/>')
    assert finding(validate(files), "handler_unknown").element_id == "Task_Threshold"


def test_user_task_outside_a_department_lane():
    files = edit(good_files(), BPMN, '<bpmn:lane id="management" name="管理层">', '<bpmn:lane id="Lane_Finance" name="财务">')
    f = finding(validate(files), "lane_unknown")
    assert f.element_id == "Task_Approve" and f.severity == "error"


def test_gateway_flows_need_a_condition_or_the_default():
    files = edit(good_files(), BPMN, 'default="Flow_Within_Authority"', "")
    report = validate(files)
    assert finding(report, "flow_condition").element_id == "Flow_Within_Authority"
    files = edit(files, BPMN, '<bpmn:sequenceFlow id="Flow_Within_Authority" name="权限内" sourceRef="Gateway_Needs_Approval" targetRef="Gateway_Approved_Merge"/>',
                 '<bpmn:sequenceFlow id="Flow_Within_Authority" name="权限内" sourceRef="Gateway_Needs_Approval" targetRef="Gateway_Approved_Merge"><bpmn:conditionExpression>compensation_amount &lt;= approval_threshold</bpmn:conditionExpression></bpmn:sequenceFlow>')
    report = validate(files)
    assert "flow_condition" not in codes(report)
    assert "gateway_default" not in codes(report)  # complementary conditions are exhaustive
    files = edit(files, BPMN, "compensation_amount &lt;= approval_threshold", "compensation_amount &lt; 100")
    assert finding(validate(files), "gateway_default").severity == "warning"


def test_every_path_must_end():
    files = edit(good_files(), BPMN, '<bpmn:sequenceFlow id="Flow_Send_Offer_to_End" sourceRef="Task_Send_Offer" targetRef="EndEvent_Offer_Made"/>', "")
    files = edit(files, BPMN, "<bpmn:outgoing>Flow_Send_Offer_to_End</bpmn:outgoing>", "")
    report = validate(files)
    assert finding(report, "dead_end").element_id == "Task_Send_Offer"
    # A loop with no way out:
    files = edit(good_files(), BPMN, 'sourceRef="Task_Approve" targetRef="Gateway_Approved_Merge"',
                 'sourceRef="Task_Approve" targetRef="Task_Approve"')
    assert finding(validate(files), "no_end").element_id == "Task_Approve"


def test_a_user_task_without_a_deadline_is_an_error():
    # Task_Send_Offer's deadline is its boundary timer; moved away, the task has none.
    files = edit(good_files(), BPMN, 'attachedToRef="Task_Send_Offer"', 'attachedToRef="Task_Approve"')
    report = validate(files)
    f = finding(report, "sla_missing")
    assert f.element_id == "Task_Send_Offer" and f.severity == "error" and not report.ok
    assert "slaStage" in f.message["en"] and "时限" in f.message["zh-CN"]
    # An SLA stage is a deadline too: the same task with one is valid again.
    files = edit(files, BPMN, '<spiffworkflow:property name="name_en" value="Make the offer to the customer"/>',
                 '<spiffworkflow:property name="name_en" value="Make the offer to the customer"/>'
                 '<spiffworkflow:property name="slaStage" value="respond"/>')
    assert "sla_missing" not in codes(validate(files))


def test_an_unknown_sla_stage_is_an_error():
    files = edit(good_files(), BPMN, '<spiffworkflow:property name="slaStage" value="respond"/>',
                 '<spiffworkflow:property name="slaStage" value="whenever"/>')
    f = finding(validate(files), "sla_stage_unknown")
    assert f.element_id == "Task_Propose" and f.severity == "error"


def test_forbidden_script_constructs_are_errors():
    files = edit(good_files(), BPMN, "compensation_amount &gt; approval_threshold",
                 "__import__('os').system('id') or compensation_amount &gt; approval_threshold")
    f = finding(validate(files), "script")
    assert f.element_id == "Flow_Above_Threshold"
    files = edit(good_files(), "approval_threshold.dmn", "<text>500</text>", "<text>open('/etc/passwd')</text>")
    f = finding(validate(files), "dmn_expression")
    assert f.element_id == "OutputEntry_Threshold_Default" and "open" in f.message["en"]


def with_payout(files):
    """Pay out through `issue_compensation` right before the offer is made."""
    files = edit(files, BPMN, '<bpmn:sequenceFlow id="Flow_Merge_to_Send_Offer" sourceRef="Gateway_Approved_Merge" targetRef="Task_Send_Offer"/>',
                 '<bpmn:sequenceFlow id="Flow_Merge_to_Send_Offer" sourceRef="Gateway_Approved_Merge" targetRef="Task_Pay"/>'
                 '<bpmn:sequenceFlow id="Flow_Pay_to_Send_Offer" sourceRef="Task_Pay" targetRef="Task_Send_Offer"/>'
                 '<bpmn:serviceTask id="Task_Pay" name="发放补偿"><bpmn:extensionElements>'
                 '<spiffworkflow:serviceTaskOperator id="issue_compensation"/></bpmn:extensionElements></bpmn:serviceTask>')
    return edit(files, BPMN, "<bpmn:flowNodeRef>Task_Send_Offer</bpmn:flowNodeRef>",
                "<bpmn:flowNodeRef>Task_Send_Offer</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Pay</bpmn:flowNodeRef>")


def test_compensation_above_the_threshold_must_pass_an_approval():
    assert not {"payout_unapproved", "payout_bypass"} & codes(validate(with_payout(good_files())))
    # The above-threshold branch skips the approval task:
    bypass = edit(with_payout(good_files()), BPMN, 'sourceRef="Gateway_Needs_Approval" targetRef="Task_Approve"',
                  'sourceRef="Gateway_Needs_Approval" targetRef="Gateway_Approved_Merge"')
    assert {"payout_unapproved", "payout_bypass"} & codes(validate(bypass), "error")
    # No threshold check at all:
    unchecked = edit(with_payout(good_files()), BPMN, "compensation_amount &gt; approval_threshold", "urgent")
    assert finding(validate(unchecked), "payout_unapproved").element_id == "Task_Pay"


def test_every_booking_in_the_shipped_process_waits_for_its_approval():
    """The ladder's answers are booked when sent, revised answers corrected: both move money, so both
    must sit behind the threshold check and its approval (management, or the four-eyes quality check)."""
    shipped = read_files(ROOT, "bpmn", "forms")
    ladder = shipped["bpmn/complaint.bpmn"]
    for handler in PAYOUT_HANDLERS:
        assert f'serviceTaskOperator id="{handler}"' in "".join(shipped.values()), handler
    assert not {"payout_unapproved", "payout_bypass"} & codes(validate(shipped))
    # An answer above the threshold goes straight to be sent, past quality control:
    skipped = edit(shipped, "bpmn/complaint.bpmn",
                   'sourceRef="Gateway_Needs_Quality_Check" targetRef="Gateway_Quality_Merge"',
                   'sourceRef="Gateway_Needs_Quality_Check" targetRef="Gateway_Send_Merge"')
    errors = [f for f in validate(skipped).errors if f.code == "payout_bypass"]
    assert {f.element_id for f in errors} >= {"Flow_Needs_Quality_Check_to_Quality_Merge"}, errors
    assert "Task_Book_Compensation" in ladder


def test_engine_parse_errors_are_findings():
    files = edit(good_files(), BPMN, "<spiffworkflow:calledDecisionId>approval_threshold</spiffworkflow:calledDecisionId>",
                 "<spiffworkflow:calledDecisionId>no_such_decision</spiffworkflow:calledDecisionId>")
    f = finding(validate(files), "engine")
    assert f.element_id == "Task_Threshold" and "no_such_decision" in f.message["en"]


def test_forms_must_be_json_schemas():
    files = dict(good_files())
    files["forms/broken.json"] = "{not json"
    assert "form_json" in codes(validate(files))
    files["forms/broken.json"] = '{"type": "object", "properties": {"x": {"type": "strange"}}}'
    assert "form_schema" in codes(validate(files))


@pytest.mark.parametrize("prop, reason", [
    ({"type": "string", "x-ui": {"widget": "radio"}}, "offers no choices"),
    ({"type": "integer", "minimum": 0, "maximum": 1000, "x-ui": {"widget": "radio"}}, "offers no choices"),
    ({"type": "string", "x-ui": {"widget": "checkbox"}}, "cannot enter a value of type string"),
    ({"type": "string", "x-ui": {"widget": "slider"}}, "Unknown widget"),
    ({"type": "object", "properties": {"a": {"type": "string"}}}, "cannot enter a value of type object"),
])
def test_a_field_the_task_page_cannot_draw_is_an_error(prop, reason):
    files = dict(good_files())
    files["forms/undrawable.json"] = json.dumps({"type": "object", "properties": {"pick": prop}, "required": ["pick"]})
    f = finding(validate(files), "form_control")
    assert f.severity == "error" and f.element_id == "pick" and reason in f.message["en"]
    assert "无法在任务页面上填写" in f.message["zh-CN"]


def test_yes_no_and_short_ranges_are_drawable_and_every_shipped_form_is():
    files = dict(good_files())
    files["forms/drawable.json"] = json.dumps({"type": "object", "properties": {
        "ok": {"type": "boolean", "x-ui": {"widget": "radio"}},
        "score": {"type": "integer", "minimum": 1, "maximum": 5, "x-ui": {"widget": "radio"}}}})
    assert "form_control" not in codes(validate(files))
    assert "form_control" not in codes(validate(read_files(ROOT, "bpmn", "forms")))


def test_the_cli_validates_a_folder_and_fails_on_errors():
    from click.testing import CliRunner

    from web.cli import main

    runner = CliRunner()
    ok = runner.invoke(main, ["definition", "validate", str(COMPENSATION), "--lang", "en"])
    assert ok.exit_code == 0 and "0 error(s)" in ok.output
    bad = runner.invoke(main, ["definition", "validate", str(FOREIGN / "xxe.bpmn")])
    assert bad.exit_code == 1 and "XXE" in bad.output
