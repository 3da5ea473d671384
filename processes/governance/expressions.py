"""Expressions as the engine reads them: every condition, timer and DMN cell is a Python expression.

Other modelers write FEEL (Camunda 8, DMN), JUEL (Camunda 7, Activiti, Flowable) or XPath
(the BPMN default, Signavio) and ISO 8601 timer values without quotes. Each is recognised and
named, with the Python to write instead where it can be derived, rather than reported as a
Python syntax error or, worse, passing the check and failing at run time.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from processes.engine.sandbox import check_script
from processes.engine.spiff import timer_value_problem

# language -> (zh name, en name)
LANGUAGES = {
    "feel": ("FEEL", "FEEL"),
    "juel": ("JUEL(Java 表达式语言)", "JUEL (Java Expression Language)"),
    "xpath": ("XPath", "XPath"),
    "javascript": ("JavaScript", "JavaScript"),
    "groovy": ("Groovy", "Groovy"),
}
_DECLARED = (("feel", "feel"), ("juel", "juel"), ("xpath", "xpath"), ("javascript", "javascript"),
             ("ecmascript", "javascript"), ("groovy", "groovy"))

# ISO 8601 as modelers write timer values: a duration, a date-time, a recurring interval.
_ISO_DURATION = r"P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?"
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
ISO_VALUE = re.compile(rf"(?i)^(R\d*/)?({_ISO_DURATION}|{_ISO_DATETIME})(/({_ISO_DURATION}|{_ISO_DATETIME}))?$")


@dataclass
class Foreign:
    """An expression in another language: which one, and the Python equivalent when one can be derived."""

    language: str
    python: str | None

    @property
    def names(self) -> tuple[str, str]:
        return LANGUAGES[self.language]


def declared_language(element) -> str | None:
    """The language an expression element names (`language="…FEEL…"`), if any."""
    declared = (element.get("language") or "").lower()
    for needle, language in _DECLARED:
        if needle in declared:
            return language
    return None


def foreign_language(text: str, declared: str | None = None) -> Foreign | None:
    """The non-Python language `text` is written in (None: Python, or nothing recognisable)."""
    source = text.strip()
    language = declared
    if language is None:
        if re.match(r"^[$#]\{.*\}$", source, re.DOTALL):
            language = "juel"
        elif source.startswith("=") and not source.startswith("=="):
            language = "feel"
        elif re.search(r"\bbpmn:get\w+\(|^/|\bstring\(|\bnumber\(", source):
            language = "xpath"
        elif _python_problems(source) and re.search(r"\.\.|\bnot\(|\bnull\b|(?<![=!<>])=(?!=)", source):
            language = "feel"  # DMN cells and conditions in FEEL without the leading "="
    if language is None or language == "python":
        return None
    return Foreign(language, _to_python(source, language))


def _python_problems(source: str) -> list[str]:
    return check_script(source, "eval")


def _to_python(source: str, language: str) -> str | None:
    """A Python rendering of simple JUEL and FEEL (comparisons, and/or/not, literals); None when unsure."""
    if language == "juel":
        body = source[2:-1].strip()
        body = re.sub(r"&&", " and ", body)
        body = re.sub(r"\|\|", " or ", body)
        body = re.sub(r"!(?!=)", " not ", body)
        for word, symbol in (("eq", "=="), ("ne", "!="), ("gt", ">"), ("lt", "<"), ("ge", ">="), ("le", "<=")):
            body = re.sub(rf"\b{word}\b", symbol, body)
        body = re.sub(r"\bempty\s+(\w+)", r"not \1", body)
    elif language == "feel":
        body = source[1:].strip() if source.startswith("=") else source
        body = re.sub(r"(?<![=!<>])=(?!=)", "==", body)
        body = re.sub(r"\bnot\(", "not (", body)
        if ".." in body:
            return None  # ranges have no one-token Python equivalent
    else:
        return None
    for word, value in (("true", "True"), ("false", "False"), ("null", "None")):
        body = re.sub(rf"\b{word}\b", value, body)
    body = re.sub(r"\s+", " ", body).strip()
    return body if body and not _python_problems(body) else None


# -- timers --------------------------------------------------------------------


@dataclass
class TimerProblem:
    code: str  # timer_unquoted, timer_value, timer_empty
    zh: str
    en: str
    fix: dict | None = None


_REASONS = {
    "duration_for_date": ("timeDate 需要一个日期时间,而这是一个时长;改用 timeDuration,或写一个日期时间",
                          ("a timeDate needs a date and time and this is a duration; use timeDuration instead, "
                          "or write a date and time")),
    "unreadable": ("流程引擎无法把它读作 {kind}", "the engine cannot read it as a {kind}"),
    "not_text": ("定时器的值必须是文本", "a timer value must be text"),
}
_KINDS_EXAMPLE = {"timeDuration": '"P7D"', "timeDate": '"2026-12-31T17:00:00+08:00"', "timeCycle": '"R3/PT1H"'}


def _reason(code: str, kind: str) -> tuple[str, str]:
    zh, en = _REASONS[code]
    return zh.format(kind=kind), en.format(kind=kind)


def check_timer(kind: str, text: str | None, label: str, settings: dict | None = None) -> TimerProblem | None:
    """Check a timer value the way the engine evaluates it: as a Python expression whose value
    must then read as ISO 8601 of the right kind. `settings`: the known settings with their values,
    so that `settings["key"]` is checked through its value."""
    source = (text or "").strip()
    if not source:
        return TimerProblem("timer_empty", f"定时器“{label}”没有值;请写一个带引号的 ISO 8601 值,例如 {_KINDS_EXAMPLE[kind]}。",
                            f"Timer {label!r} has no value; write a quoted ISO 8601 value such as {_KINDS_EXAMPLE[kind]}.")
    if ISO_VALUE.match(source):
        quoted = f'"{source}"'
        problem = timer_value_problem(kind, source)
        extra_zh, extra_en = ("", "")
        if problem:
            reason_zh, reason_en = _reason(problem, kind)
            extra_zh, extra_en = f"另外,{reason_zh}。", f" Also, {reason_en}."
        return TimerProblem(
            "timer_unquoted",
            f"定时器“{label}”的值 {source} 是没有引号的 ISO 8601 值;流程引擎把定时器的值当作 Python 表达式计算,"
            f"不加引号它就不是文本,运行时会出错。请加上引号:{quoted}。{extra_zh}",
            f"Timer {label!r} has the ISO 8601 value {source} without quotes; the engine evaluates timer values as "
            f"Python expressions, where it is not text without quotes and fails at run time. Write it in quotes: "
            f"{quoted}.{extra_en}",
            {"replace": source, "with": quoted})
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        tree = None
    value = _static_value(tree, settings)
    if value is not _UNKNOWN:
        problem = timer_value_problem(kind, value)
        if problem:
            reason_zh, reason_en = _reason(problem, kind)
            return TimerProblem("timer_value", f"定时器“{label}”的值 {source}:{reason_zh}(例如 {_KINDS_EXAMPLE[kind]})。",
                                f"Timer {label!r} has the value {source}: {reason_en} (for example "
                                f"{_KINDS_EXAMPLE[kind]}).")
    return None


_UNKNOWN = object()


def _static_value(node, settings: dict | None):
    """The value of a literal or of `settings["key"]` (a known setting); _UNKNOWN for anything computed."""
    if isinstance(node, ast.Constant):
        return node.value
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "settings"
            and isinstance(node.slice, ast.Constant) and settings and node.slice.value in settings):
        return settings[node.slice.value]
    return _UNKNOWN
