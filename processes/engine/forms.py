"""Task forms: JSON Schemas with UI hints, validated on the server."""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from processes.engine import inputsafe

_MESSAGES = {
    "required": {"en": "This field is required.", "zh-CN": "此项为必填项。"},
    "type": {"en": "Enter a value of the right kind.", "zh-CN": "请输入正确类型的值。"},
    "enum": {"en": "Choose one of the offered options.", "zh-CN": "请从给定选项中选择。"},
    "minimum": {"en": "The value is too small (minimum {limit}).", "zh-CN": "数值过小(最小 {limit})。"},
    "maximum": {"en": "The value is too large (maximum {limit}).", "zh-CN": "数值过大(最大 {limit})。"},
    "exclusiveMinimum": {"en": "The value must be above {limit}.", "zh-CN": "数值必须大于 {limit}。"},
    "minLength": {"en": "Too short (at least {limit} characters).", "zh-CN": "内容过短(至少 {limit} 个字符)。"},
    "maxLength": {"en": "Too long (at most {limit} characters).", "zh-CN": "内容过长(最多 {limit} 个字符)。"},
    "format": {"en": "The format is not valid.", "zh-CN": "格式不正确。"},
    "minItems": {"en": "Choose at least {limit}.", "zh-CN": "至少选择 {limit} 项。"},
    "finite": {"en": "Enter a real number.", "zh-CN": "请输入有效的数字。"},
    "year": {"en": "Enter a date between 1900 and 2100.", "zh-CN": "请填写 1900 年至 2100 年之间的日期。"},
    "unsafe": {"en": "The value holds characters or a structure that cannot be stored (NUL, an invalid "
                     "character, nesting or a number too long).",
               "zh-CN": "内容含有无法保存的字符或结构(空字符、无效字符、层级过深或数字过长)。"},
}


def load_form(files: dict[str, str], filename: str | None) -> dict | None:
    """The form schema `filename` of a definition's files, or None when the task has no form.

    The parsed schema is shared between callers (forms of a deployed version never change):
    treat it as read-only."""
    if not filename:
        return None
    text = files.get(filename) or files.get(f"forms/{filename}")
    if text is None:
        raise KeyError(f"form {filename!r} is not part of this process definition")
    return _parse(text)


@lru_cache(maxsize=512)
def _parse(text: str) -> dict:
    schema, problem = parse_schema(text)
    if problem:
        raise ValueError(problem)
    return schema


def parse_schema(text: str | bytes) -> tuple[Any, str | None]:
    """A form schema from its text, or why it is refused.

    Besides JSON syntax: no NaN or infinity, no integer literal longer than a bigint, no
    nesting deeper than a form needs, no NUL or lone surrogate, and `$ref` only inside the
    document (a remote one would make the server fetch a URL while validating)."""
    try:
        schema = inputsafe.loads(text)
    except inputsafe.BadJSON as exc:
        return None, str(exc)
    problems = inputsafe.value_problems(schema)
    if problems:
        path, problem = next(iter(problems.items()))
        return None, f"{path}: {problem}"
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in ("$ref", "$dynamicRef"):
                ref = item.get(key)
                if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
                    return None, f"Only references inside the form are allowed ({key}: {str(ref)[:100]})."
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return schema, None


_VALIDATORS: dict[int, tuple[dict, Draft202012Validator]] = {}


def _validator(schema: dict) -> Draft202012Validator:
    """A compiled validator per schema object; the entry keeps the schema alive, so its id stays its own."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    if len(_VALIDATORS) > 1024:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def validate(schema: dict | None, data: dict[str, Any], locale: str = "en") -> dict[str, str]:
    """Errors per field (field name -> message); empty when the data is valid."""
    if schema is None:
        return {}
    lang = "zh-CN" if locale.lower().startswith("zh") else "en"
    # Checked before the schema: a NUL stored in JSON breaks every query on it afterwards.
    unsafe = unsafe_errors(data, lang)
    if unsafe:
        return unsafe
    validator = _validator(schema)
    errors: dict[str, str] = {}
    # None is a field left empty (it clears the variable): checked as if it were not there.
    data = {key: value for key, value in data.items() if value is not None}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            field = error.message.split("'")[1]
        elif error.path:
            field = str(error.path[0])
        else:
            field = "__all__"
        template = _MESSAGES.get(error.validator, {}).get(lang)
        message = template.format(limit=error.validator_value) if template else error.message
        errors.setdefault(field, message)
    # JSON has no NaN or infinity, but Python's parser accepts them: they would pass "type":
    # "number" and then poison sums, comparisons and the stored record.
    for field, message in non_finite_errors(data, lang).items():
        errors.setdefault(field, message)
    for field, message in _date_errors(schema, data, lang).items():
        errors.setdefault(field, message)
    return errors


def unsafe_errors(data: Any, locale: str = "en") -> dict[str, str]:
    """An error per top-level field holding NUL, a lone surrogate, absurd nesting or a huge number."""
    lang = "zh-CN" if locale.lower().startswith("zh") else "en"
    return {path.split(".")[0]: _MESSAGES["finite" if problem == inputsafe.NOT_FINITE else "unsafe"][lang]
            for path, problem in inputsafe.value_problems(data).items()}


def _date_errors(schema: dict, data: dict[str, Any], lang: str) -> dict[str, str]:
    """Dates outside 1900-2100: valid ISO text, but no calendar or time zone can convert them."""
    errors = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = data.get(name)
        if not isinstance(prop, dict) or prop.get("format") not in ("date", "date-time") or not isinstance(value, str):
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue  # the format check has said so already
        if inputsafe.date_problem(parsed):
            errors[name] = _MESSAGES["year"][lang]
    return errors


def non_finite_errors(data: dict[str, Any], locale: str = "en") -> dict[str, str]:
    """An error for each field holding a NaN or an infinity anywhere inside."""
    lang = "zh-CN" if locale.lower().startswith("zh") else "en"

    def non_finite(value) -> bool:
        if isinstance(value, float):
            return not math.isfinite(value)
        if isinstance(value, dict):
            return any(non_finite(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(non_finite(v) for v in value)
        return False

    return {str(key): _MESSAGES["finite"][lang] for key, value in data.items() if non_finite(value)}


def declared_fields(schema: dict | None) -> set[str]:
    return set((schema or {}).get("properties", {}))


def clean(schema: dict | None, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the form declares reach the process; the rest is dropped so a
    crafted request cannot overwrite process variables such as `status` or `settings`."""
    if schema is None:
        return {}
    fields = declared_fields(schema)
    cleaned = {key: value for key, value in data.items() if key in fields}
    # A field left out takes its declared default (an unticked checkbox sends nothing).
    for name, prop in schema.get("properties", {}).items():
        if cleaned.get(name) is None and "default" in prop:
            cleaned[name] = prop["default"]
    return cleaned


# -- how a field is presented ---------------------------------------------------------
# One answer to "which control draws this field" for the task page (web/form_render.py)
# and the designer's validation, so a form the page cannot draw never gets deployed.

WIDGETS = ("text", "textarea", "number", "money", "date", "select", "radio", "checkbox", "multiselect", "file")
CHOICE_WIDGETS = ("select", "radio")
# A bounded integer is offered as choices (a 1-5 score) only when the range is short.
MAX_RANGE_CHOICES = 11


def kind_of(prop: dict) -> str:
    """The JSON type of a property, ignoring "null" in a type list."""
    kind = prop.get("type", "string")
    return next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind


def widget_of(prop: dict) -> str:
    hint = (prop.get("x-ui") or {}).get("widget")
    if hint in WIDGETS:
        return hint
    kind = kind_of(prop)
    if kind == "boolean":
        return "checkbox"
    if kind == "array":
        return "multiselect" if (prop.get("items") or {}).get("enum") else "file"
    if "enum" in prop:
        return "select"
    if kind in ("number", "integer"):
        return "number"
    if prop.get("format") == "date":
        return "date"
    return "text"


def choices_of(prop: dict) -> list:
    """The values a select, radio group or multi-select offers, typed as the schema wants them."""
    enum = prop.get("enum") or (prop.get("items") or {}).get("enum")
    if enum:
        return [v for v in enum if v is not None]
    kind = kind_of(prop)
    if kind == "boolean":
        return [True, False]
    low, high = prop.get("minimum"), prop.get("maximum")
    if kind == "integer" and isinstance(low, int) and isinstance(high, int) and 0 <= high - low < MAX_RANGE_CHOICES:
        return list(range(low, high + 1))
    return []


def choice_text(value) -> str:
    """How a choice travels in an HTML form: booleans as "true"/"false", the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_WIDGET_KINDS = {
    "text": {"string"}, "textarea": {"string"}, "date": {"string"},
    "number": {"number", "integer"}, "money": {"number", "integer"},
    "checkbox": {"boolean"}, "multiselect": {"array"}, "file": {"array"},
    "select": {"string", "number", "integer", "boolean"}, "radio": {"string", "number", "integer", "boolean"},
}


def presentation_problems(schema: dict | None) -> dict[str, tuple[str, str]]:
    """Fields the task page cannot draw as a usable control: name -> (Chinese, English) reason."""
    problems: dict[str, tuple[str, str]] = {}
    for name, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict):
            problems[name] = ("字段定义必须是对象。", "A field's definition must be an object.")
            continue
        hint = (prop.get("x-ui") or {}).get("widget")
        if hint is not None and hint not in WIDGETS:
            problems[name] = (f"未知的控件 {hint!r},可用:{'、'.join(WIDGETS)}。",
                              f"Unknown widget {hint!r}; use one of {', '.join(WIDGETS)}.")
            continue
        widget, kind = widget_of(prop), kind_of(prop)
        if kind not in _WIDGET_KINDS[widget]:
            problems[name] = (f"控件 {widget} 不能填写 {kind} 类型的值。",
                              f"A {widget} control cannot enter a value of type {kind}.")
        elif widget in CHOICE_WIDGETS + ("multiselect",) and not choices_of(prop):
            problems[name] = (f"控件 {widget} 没有可选项(需要 enum、布尔类型或较短的整数范围)。",
                              (f"A {widget} control offers no choices (it needs an enum, a boolean or a short "
                               f"integer range)."))
    return problems
