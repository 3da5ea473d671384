"""The API says what is wrong with an unsafe field in the caller's language (issue 11).

Before, the input checks' messages (a NUL, a lone surrogate, nesting, huge numbers, dates,
a body that is not JSON) reached API callers in English whatever their Accept-Language.
Now they go through the catalog like every other message: Chinese for `zh-CN`, English
otherwise, the field still named by its dotted path."""

from __future__ import annotations

import json

import pytest

from processes.engine import inputsafe
from processes.engine.users import add_user, create_token
from tests.portal_support import make_app

pytestmark = pytest.mark.backend_neutral  # the wording of refusals; the checks run on both in test_hostile_inputs

COMPLAINT = {"customer": {"name": "甲", "email": "a@example.com"}, "subject": "s", "description": "d",
             "remedy_sought": "r"}


@pytest.fixture
def api(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path)
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "crm", "customer_service", "agent", "pw-12345678")
        token = create_token(s, "crm")
    yield app.test_client(), token
    app.extensions["redress.db"].dispose()


def _post(api, body: str, language: str):
    client, token = api
    return client.post("/api/v1/complaints", data=body.encode("utf-8", "surrogatepass"),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                "Accept-Language": language})


@pytest.mark.parametrize(("field", "value", "zh", "en"), [
    ("subject", "a\x00b", "文本包含无法保存的 NUL 字符。", "The text contains a NUL character, which cannot be stored."),
    ("subject", "\ud800", "孤立的代理字符", "a lone surrogate"),
    ("occurred_at", "9999-12-31T23:59:59+00:00", "请输入 1900 年至 2100 年之间的日期。",
     "Enter a date between 1900 and 2100."),
    ("occurred_at", "2099-01-01T00:00:00+00:00", "该日期在将来。", "The date lies in the future."),
])
def test_an_unsafe_field_is_named_in_the_callers_language(api, field, value, zh, en):
    body = json.dumps({**COMPLAINT, field: value})  # ensure_ascii: a lone surrogate goes as \\ud800
    chinese = _post(api, body, "zh-CN,zh;q=0.9")
    english = _post(api, body, "en")
    assert chinese.status_code == english.status_code == 422
    assert zh in chinese.json["errors"][field] and en in english.json["errors"][field]
    assert "%(" not in chinese.json["errors"][field]
    assert chinese.json["error"] != english.json["error"]  # the headline too


@pytest.mark.parametrize(("body", "zh", "en"), [
    ("[" * 100_000, "数值嵌套超过 32 层。", "The value is nested more than 32 levels deep."),
    ('{"subject": ', "请求内容不是有效的 JSON（第 1 行，第 13 列）。",
     "The request body is not valid JSON (line 1, column 13)."),
    ('{"order_value": NaN}', "请输入一个有效的数字。", "Enter a real number."),
    ('{"order_value": ' + "9" * 40 + "}", "数字超过 30 位。", "The number has more than 30 digits."),
    ("[1, 2]", "请求内容必须是一个 JSON 对象。", "The request body must be a JSON object."),
])
def test_a_body_that_is_not_acceptable_json_is_refused_in_the_callers_language(api, body, zh, en):
    chinese, english = _post(api, body, "zh-CN"), _post(api, body, "en")
    assert chinese.status_code == english.status_code == 400
    assert chinese.json["error"] == zh and english.json["error"] == en


def test_every_check_message_has_its_template_and_reads_in_english_unchanged():
    for english in (inputsafe.NUL, inputsafe.SURROGATE, inputsafe.TOO_DEEP, inputsafe.BIG_INT,
                    inputsafe.NOT_FINITE, inputsafe.YEAR_RANGE, inputsafe.FUTURE):
        assert inputsafe.translated(english, lambda template, **p: template % p) == english
    assert inputsafe.translated("Something else.", lambda template, **p: "translated") == "Something else."
