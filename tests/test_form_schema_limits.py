"""Form schemas that would hurt the server are refused by the designer's validation and by deploy."""

from __future__ import annotations

import time

import pytest

from processes.engine import forms
from processes.engine.definitions import read_files
from processes.governance.validation import validate
from tests.test_validation import COMPENSATION

HOSTILE = {
    "nan": '{"type": "object", "properties": {"x": {"type": "number", "maximum": NaN}}}',
    "remote_ref": '{"type": "object", "properties": {"x": {"$ref": "http://attacker.example/s.json"}}}',
    "deep": '{"type": "object", "properties": {"x": ' + '{"items": ' * 100000 + "{}" + "}" * 100000 + "}}",
    "long_int": '{"type": "object", "properties": {"x": {"type": "integer", "maximum": ' + "9" * 5000 + "}}}",
    "nul": '{"type": "object", "properties": {"x\\u0000": {"type": "string"}}}',
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_form_is_a_blocking_finding_not_a_crash(kind):
    files = dict(read_files(COMPENSATION))
    files["forms/hostile.json"] = HOSTILE[kind]
    started = time.monotonic()
    report = validate(files)
    assert time.monotonic() - started < 5
    found = [f for f in report.findings if f.code == "form_json"]
    assert found and found[0].severity == "error", kind
    assert "refused" in found[0].message["en"] and "拒绝" not in found[0].message["en"]


def test_the_runtime_refuses_to_load_such_a_form_and_keeps_local_refs():
    with pytest.raises(ValueError):
        forms.load_form({"f.json": HOSTILE["remote_ref"]}, "f.json")
    local = '{"type": "object", "$defs": {"t": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/t"}}}'
    assert forms.load_form({"f.json": local}, "f.json")["properties"]["x"] == {"$ref": "#/$defs/t"}
