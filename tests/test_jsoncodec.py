"""Stored JSON: orjson's speed only where it writes what the standard library would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from processes.engine import jsoncodec
from processes.engine.forms import validate


def test_plain_data_is_written_byte_for_byte_as_the_standard_library_writes_it():
    data = {"subject": "电水壶底座漏电", "order_value": 299.0, "tags": ["a", "b"], "none": None, "n": 3,
            "nested": {"z": 1, "a": [1.5, True]}}
    assert jsoncodec.plain_dumps(data) == json.dumps(data, sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False)


@pytest.mark.parametrize("value", [
    {"when": datetime(2026, 12, 1, tzinfo=UTC)},  # orjson would turn it into a string
    {"score": float("nan")},  # orjson would write null
    {"limit": float("inf")},
    {"big": 2**70},  # beyond orjson's 64 bits
    {"pair": (1, 2)},  # orjson would write a list
])
def test_values_orjson_would_change_are_refused(value):
    with pytest.raises(TypeError):
        jsoncodec.plain_dumps(value)


def test_columns_keep_big_integers_and_refuse_nan_as_postgresql_does():
    assert jsoncodec.loads(jsoncodec.dumps({"big": 2**70, "pair": (1, 2)})) == {"big": 2**70, "pair": [1, 2]}
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            jsoncodec.dumps({"score": value})


def test_a_form_refuses_nan_and_infinity_with_a_clear_message():
    schema = {"type": "object", "properties": {"amount": {"type": "number"}, "note": {"type": "string"}}}
    assert validate(schema, {"amount": float("nan"), "note": "x"}, "en") == {"amount": "Enter a real number."}
    assert validate(schema, {"amount": float("-inf")}, "zh-CN") == {"amount": "请输入有效的数字。"}
    assert validate(schema, {"amount": 12.5}) == {}
