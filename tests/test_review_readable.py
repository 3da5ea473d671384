"""The review a compliance officer reads: form changes field by field with both labels as text,
settings-like values key by key, old → new; no escaped JSON, no "raw XML" heading over forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from processes.engine.definitions import read_files
from processes.governance.spec_diff import diff_definitions, raw_diff
from tests.test_review import bearer, deploy_first_version, fixture_files, login, people, upload  # noqa: F401

pytestmark = pytest.mark.backend_neutral  # how the review page reads; drafts and review run on both in test_review

ROOT = Path(__file__).resolve().parent.parent
FORM = "forms/propose_compensation.json"


def relabelled(files: dict[str, str]) -> dict[str, str]:
    changed = dict(files)
    changed[FORM] = (changed[FORM].replace('"zh-CN": "补偿金额(元)"', '"zh-CN": "补偿金额(人民币元)"')
                     .replace('"en": "Amount (CNY)"', '"en": "Amount in CNY"'))
    return changed


def test_a_form_label_change_reads_field_by_field_in_both_languages(client, people):  # noqa: F811
    deploy_first_version(client, people)
    draft = upload(client, people["designer"], relabelled(fixture_files())).get_json()["draft"]
    diff = client.get(f"/api/v1/definitions/{draft['id']}/diff", headers=bearer(people["reviewer"])).get_json()
    [form] = diff["forms"]["changed"]
    assert form["changed"] == [{"field": "compensation_amount",
                                "label": {"zh-CN": "补偿金额(人民币元)", "en": "Amount in CNY"},
                                "changes": {"x-ui.label.en": {"old": "Amount (CNY)", "new": "Amount in CNY"},
                                            "x-ui.label.zh-CN": {"old": "补偿金额(元)", "new": "补偿金额(人民币元)"}}}]
    login(client, "zhao.compliance")
    page = client.get(f"/definitions/review/{draft['id']}").get_data(as_text=True)
    section = page[page.index('id="diff-forms"'):page.index('id="raw-diff"')]
    assert "标签(中文)" in section and "标签(英文)" in section
    assert "补偿金额(元)" in section and "补偿金额(人民币元)" in section and "Amount in CNY" in section
    assert '<strong>补偿金额(人民币元)</strong> / Amount in CNY <code>compensation_amount</code>' in section
    assert "\\u" not in page and "Raw XML diff" not in page and "原始 XML" not in page
    record = client.get(f"/definitions/review/{draft['id']}/record").get_data(as_text=True)
    assert "标签(中文)" in record and "补偿金额(人民币元)" in record


def test_handler_parameters_read_key_by_key_old_to_new():
    old = read_files(ROOT, "bpmn")
    new = dict(old)
    new["bpmn/complaint.bpmn"] = new["bpmn/complaint.bpmn"].replace(
        'value="settings[&quot;duplicate_window_days&quot;]"', 'value="60"')
    [element] = diff_definitions(old, new)["elements"]["changed"]
    assert element["changes"] == {"parameters.window_days": {"old": 'settings["duplicate_window_days"]', "new": "60"}}


def test_the_raw_diff_of_a_form_shows_characters_not_escapes():
    old = {"forms/a.json": '{"properties": {"x": {"x-ui": {"label": {"zh-CN": "\\u8bf4\\u660e"}}}}}'}
    new = {"forms/a.json": '{"properties": {"x": {"x-ui": {"label": {"zh-CN": "\\u5907\\u6ce8"}}}}}'}
    text = raw_diff(old, new)["forms/a.json"]
    assert '-          "zh-CN": "说明"' in text and '+          "zh-CN": "备注"' in text and "\\u" not in text
