"""The engine's parse errors as sentences a process designer can act on.

SpiffWorkflow raises ValidationExceptions with terse English texts, and for files it does not
expect, plain Python errors (a TypeError, an object repr). Neither reaches the designer: each
becomes a sentence in both languages that names the element and says what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree


@dataclass
class EngineProblem:
    file: str | None
    element_id: str | None
    line: int | None
    zh: str
    en: str


# (pattern on the engine's text, zh, en); {what}: the element as named in the file, {1}: the first group.
_KNOWN = (
    (r"Service Task must have an operator", "服务任务{what}没有指定处理程序:请在属性面板中选择一个处理程序。",
     "Service task {what} names no handler: choose one in the properties panel."),
    (r"outgoing sequence flow without condition", "连线{what}离开网关却既无条件也不是默认连线:请加上条件,或把它设为默认连线。",
     ("Flow {what} leaves a gateway with no condition and is not its default flow: add a condition or make it "
     "the default.")),
    (r"No start event found", "流程{what}没有开始事件:请加一个开始事件。", "Process {what} has no start event: add one."),
    (r"No Script Provided", "脚本任务{what}没有脚本:请写上脚本,或改为普通任务。",
     "Script task {what} has no script: write one, or make it a plain task."),
    (r"The process '([^']*)' was not found", "调用活动{what}调用的流程 {1} 不在本定义中:请加入它的文件,或改正被调用的流程 id。",
     ("Call activity {what} calls process {1}, which is not in the definition: add its file or correct the "
     "called process id.")),
    (r'No DMN Diagram available with id "([^"]*)"', "业务规则任务{what}调用的决策 {1} 不在任何 DMN 文件中:请加入该决策表,或改正决策 id。",
     ("Business rule task {what} calls decision {1}, which is in no DMN file of the definition: add the decision "
     "table or correct the decision id.")),
    (r"Duplicate process ID: (\S+)", "有两个流程的 id 都是 {1}:请给其中一个改名。", "Two processes have the id {1}: rename one."),
    (r'No "calledElement"', "调用活动{what}没有指定要调用的流程:请设置 calledElement。",
     "Call activity {what} names no process to call: set calledElement."),
    (r"Conditional event definition with missing condition", "条件事件{what}没有条件:请写上条件(Python 表达式)。",
     "Conditional event {what} has no condition: write one (a Python expression)."),
    (r"Exactly one start event is required", "子流程{what}必须恰好有一个开始事件。",
     "Subprocess {what} must have exactly one start event."),
    (r"Must contain an End event", "子流程{what}没有结束事件:请加一个结束事件。", "Subprocess {what} has no end event: add one."),
    (r"Time Specification Error|Unknown Time Specification", "定时器{what}没有时间:请设置 timeDuration、timeDate 或 timeCycle。",
     "Timer {what} has no time: set a timeDuration, timeDate or timeCycle."),
    (r"no support implemented for this task type", "流程引擎不支持元素{what}的类型:请改用受支持的任务类型。",
     "The engine does not support the kind of element {what}: use a supported task type instead."),
    (r"Cannot resolve data(Input|Output)Association", "元素{what}的数据关联指向不存在的数据对象:请改正或删除该关联。",
     "A data association of {what} refers to a data object that does not exist: correct or remove it."),
    (r"Could not find messageRef", "消息事件{what}引用的消息没有定义:请定义该消息,或改正引用。",
     "Message event {what} refers to a message that is not defined: define it or correct the reference."),
    (r"Multiple decision tables", "决策{what}包含多个决策表:每个决策只能有一个决策表。",
     "Decision {what} has several decision tables: a decision may have one only."),
    (r"not executable", "流程{what}不可执行(isExecutable=\"false\"):若要运行它,请去掉该属性或设为 true。",
     'Process {what} is not executable (isExecutable="false"): remove the attribute or set it to true to run it.'),
)
_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")
_PYTHON_NAMES = re.compile(r"\b[A-Z]\w*(Error|Exception)\b:?\s*")


def describe(exc: BaseException, process_id: str | None, roots: dict[str, etree._Element]) -> EngineProblem:
    """One sentence for an exception the engine raised while reading `process_id`."""
    from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

    element, file = _element_of(exc, roots)
    element_id = getattr(exc, "id", None) or (element.get("id") if element is not None else None)
    file = getattr(exc, "file_name", None) or file
    line = getattr(exc, "line_number", None) or (element.sourceline if element is not None else None)
    if element is None and element_id:
        element, file = _find(roots, element_id, file)
    what_zh, what_en = _what(element, element_id, getattr(exc, "name", None), process_id)
    text = str(getattr(exc, "msg", None) or (exc.args[0] if exc.args else "") or "")
    if isinstance(exc, ValidationException):
        for pattern, zh, en in _KNOWN:
            match = re.search(pattern, text)
            if match:
                group = match.group(1) if match.groups() else ""
                return EngineProblem(file or None, element_id or None, line or None,
                                     zh.replace("{what}", what_zh).replace("{1}", group),
                                     en.replace("{what}", what_en).replace("{1}", group))
        clean = _clean(text)
        return EngineProblem(file or None, element_id or None, line or None,
                             f"流程引擎无法读取{what_zh}:{clean}。请修改该元素。",
                             f"The engine cannot read {what_en}: {clean}. Change that element.")
    # Not the engine's own message: an unexpected construction tripped it. Say where, not what Python said.
    return EngineProblem(file or None, element_id or None, line or None,
                         f"流程引擎在读取{what_zh}时停止:这种写法不受支持。请简化或删除该元素,或用本系统的建模器重新绘制。",
                         f"The engine stopped while reading {what_en}: this construction is not supported. Simplify "
                         "or remove the element, or redraw it in our modeler.")


def _clean(text: str) -> str:
    text = _REPR.sub("", text).replace("(None)", "")
    text = _PYTHON_NAMES.sub("", text)
    return re.sub(r"\s+", " ", text).strip(" .:") or "unsupported construction"


def _what(element, element_id: str | None, name: str | None, process_id: str | None) -> tuple[str, str]:
    """The element as the designer knows it: (zh, en)."""
    name = name or (element.get("name") if element is not None else None)
    if element_id and name and name != element_id:
        return f"“{name}”({element_id})", f"{name!r} ({element_id})"
    if element_id or process_id:
        return f"“{element_id or process_id}”", f"{element_id or process_id}"
    return "该定义", "the definition"


def _element_of(exc: BaseException, roots: dict):
    """The innermost XML element with an id among the frames that raised `exc` (parsers hold it as a local)."""
    element = None
    tb = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, etree._Element) and isinstance(value.tag, str) and value.get("id"):
                element = value
        tb = tb.tb_next
    if element is None:
        return None, None
    root = element.getroottree().getroot()
    file = next((name for name, r in roots.items() if r is root), None)
    if file is None:  # the engine parsed its own copy: find the same id in ours
        return _find(roots, element.get("id"), None)
    return element, file


def _find(roots: dict, element_id: str, file: str | None):
    for name, root in roots.items():
        if file and name != file:
            continue
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id") == element_id:
                return element, name
    return None, file
