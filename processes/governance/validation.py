"""The validation report of a definition draft, made on every save.

Checks, in order (the stages, each listed in the report as run or skipped and why):
- files: each file is of a known kind, decoded by its XML declaration, and safe XML
  (processes.engine.xmlsafe: no DTD, no entities, no network, bounded size and depth);
  forms are JSON Schemas. A file that fails here stops the later stages.
- schema: BPMN files against the BPMN 2.0 XML schema (the XSD SpiffWorkflow ships).
  Problems inside the diagram interchange (BPMNDI, DI, DC), which the engine never
  reads, are warnings; schema errors never stop the engine and lint stages.
- engine: SpiffWorkflow parses every executable process (executable unless
  isExecutable="false", as the engine decides); its errors become sentences.
- lint: our own rules on every executable process (lanes, forms, handlers, gateways,
  a deadline on every user task, SLA timers, timer values, expression languages, ends,
  compensation approval, sandboxed scripts, reserved ids, other modelers' extensions).
Errors block submission, warnings do not. Nothing here raises on a bad file: every
problem becomes a finding with a message in Chinese and English.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree

from processes.complaints.sla import STAGES as SLA_STAGES
from processes.complaints.task_urgency import STAGE_PROPERTY
from processes.engine.actors import DEPARTMENTS, lane_department
from processes.engine.forms import parse_schema, presentation_problems
from processes.engine.sandbox import check_script
from processes.engine.spiff import TIMER_KINDS, parse_definition, top_level_process_ids
from processes.engine.xmlsafe import EncodingError, UnsafeXmlError, decode_xml, parse_xml
from processes.governance import engine_errors, vendors
from processes.governance.expressions import check_timer, declared_language, foreign_language

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "bpmndi": BPMNDI_NS}
XML_NS = "http://www.w3.org/XML/1998/namespace"
# SpiffWorkflow names its own internal task specs like this; a BPMN element with
# the same id would be silently confused with them.
RESERVED_IDS = ("Start", "End", "Root")
# Service-task handlers that pay money out: they must be behind an approval check.
PAYOUT_HANDLERS = ("issue_compensation", "correct_compensation", "book_compensation")
MAX_FILES = 100
MAX_FILE_BYTES = 5 * 1024 * 1024
USER_TASKS = ("userTask", "manualTask")
ACTIVITIES = ("task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask",
              "sendTask", "receiveTask", "callActivity", "subProcess", "transaction")
MAX_SCHEMA_ERRORS = 20
FLOW_NODES = (*ACTIVITIES, "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
              "boundaryEvent", "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
              "complexGateway")

Severity = Literal["error", "warning"]


@dataclass
class Finding:
    severity: Severity
    code: str
    file: str | None
    element_id: str | None
    message: dict[str, str]
    line: int | None = None
    fix: dict | None = None  # {"replace": text, "with": text}: a correction the designer can apply as it is

    def text(self, language: str = "zh-CN") -> str:
        return self.message.get(language) or self.message["en"]


# stage -> (zh, en): what each stage checks, as the report lists it.
STAGES = {
    "files": ("文件:类型、编码、XML 安全性、表单", "Files: kind, encoding, XML safety, forms"),
    "schema": ("BPMN 2.0 XML 规范", "The BPMN 2.0 XML schema"),
    "engine": ("流程引擎解析每个可执行流程", "The engine parses every executable process"),
    "lint": ("本系统的规则:泳道、表单、处理程序、网关、时限、定时器、表达式、结束事件、补偿审批、脚本、扩展",
             ("Our rules: lanes, forms, handlers, gateways, time limits, timers, expressions, ends, compensation "
             "approval, scripts, extensions")),
}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    # What was checked: [{"stage", "status": "done" | "skipped", "label": {zh-CN, en}, "reason": {..} | None}]
    stages: list[dict] = field(default_factory=list)
    # Other modelers' data recognised as changing nothing: [{"file", "namespace", "what": {zh-CN, en}}]
    ignored: list[dict] = field(default_factory=list)

    def add(self, severity: Severity, code: str, file: str | None, element_id: str | None,
            zh: str, en: str, line: int | None = None, fix: dict | None = None) -> None:
        self.findings.append(Finding(severity, code, file, element_id, {"zh-CN": zh, "en": en}, line, fix))

    def stage(self, name: str, done: bool, zh: str | None = None, en: str | None = None) -> None:
        label_zh, label_en = STAGES[name]
        self.stages.append({"stage": name, "status": "done" if done else "skipped",
                            "label": {"zh-CN": label_zh, "en": label_en},
                            "reason": {"zh-CN": zh, "en": en} if zh else None})

    def error(self, *args, **kwargs) -> None:
        self.add("error", *args, **kwargs)

    def warning(self, *args, **kwargs) -> None:
        self.add("warning", *args, **kwargs)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {"ok": self.ok, "errors": len(self.errors), "warnings": len(self.warnings),
                "process_ids": self.process_ids, "findings": [asdict(f) for f in self.findings],
                "stages": self.stages, "ignored": self.ignored}


# -- entry point ---------------------------------------------------------------


def validate(files: dict[str, str | bytes], handlers: list[str] | None = None) -> Report:
    """Validate a whole definition (BPMN, DMN and form files together)."""
    report = Report()
    if not files:
        report.error("empty", None, None, "没有文件:请至少上传一个 BPMN 文件。",
                     "There are no files: upload at least one BPMN file.")
        return report
    if len(files) > MAX_FILES:
        report.error("too_many_files", None, None, f"文件过多(最多 {MAX_FILES} 个)。",
                     f"Too many files (at most {MAX_FILES}).")
        return report
    raw: dict[str, bytes] = {}
    bpmn_trees: dict[str, etree._Element] = {}
    dmn_trees: dict[str, etree._Element] = {}
    forms: dict[str, dict] = {}
    for name in sorted(files):
        data = _decoded(report, name, files[name])
        if data is not None:
            raw[name] = data
            _check_file(report, name, data, bpmn_trees, dmn_trees, forms)
    if not bpmn_trees and not report.errors:
        report.error("no_bpmn", None, None, "定义中没有 BPMN 文件。", "The definition has no BPMN file.")
    report.stage("files", True)
    unreadable = [f for f in report.errors if f.code in FILE_CODES]
    if unreadable or not bpmn_trees:
        zh, en = ("有文件无法读取,请先改正上面的文件错误", "a file could not be read; fix the file errors above first") \
            if unreadable else ("没有可读的 BPMN 文件", "there is no readable BPMN file")
        for stage in ("schema", "engine", "lint"):
            report.stage(stage, False, zh, en)
        return report
    for name, root in bpmn_trees.items():
        _check_schema(report, name, root)
    report.stage("schema", True)
    _check_engine(report, {n: raw[n] for n in (*bpmn_trees, *dmn_trees)}, {**bpmn_trees, **dmn_trees})
    report.stage("engine", True)
    known_handlers = set(handlers if handlers is not None else _handler_names())
    lint = _Lint(report, bpmn_trees, dmn_trees, forms, known_handlers)
    try:
        lint.run()
    except Exception:  # noqa: BLE001 - a rule tripped on an unusual file: say so rather than crash or pass it
        report.warning("lint_incomplete", None, None, "本系统的规则未能检查完这个定义(结构不寻常);上面的结果不完整,请在本系统的建模器中打开并保存后重试。",
                       "Our rules could not finish on this definition (an unusual structure); the findings above "
                       "are incomplete. Open and save it in our modeler, then validate again.")
        report.stage("lint", False, "规则检查未完成", "the rules did not finish")
        return report
    report.stage("lint", True)
    _drop_repeated_engine_findings(report)
    return report


# Lint findings that say better what an engine error says too (same element): keep only the lint one.
_ENGINE_REPEATS = frozenset({"handler_missing", "flow_condition"})


def _drop_repeated_engine_findings(report: Report) -> None:
    said = {(f.file, f.element_id) for f in report.findings if f.code in _ENGINE_REPEATS}
    report.findings = [f for f in report.findings if not (f.code == "engine" and (f.file, f.element_id) in said)]


# File-level problems: the later stages need every file readable.
FILE_CODES = frozenset({"unsafe_xml", "not_well_formed", "too_large", "unknown_kind", "bad_path", "encoding",
                        "not_bpmn", "not_dmn", "too_many_files", "empty"})


def _decoded(report: Report, name: str, data: str | bytes) -> bytes | None:
    """The file as UTF-8 bytes whose declaration says UTF-8 (XML decoded by its declaration), or None
    with an `encoding` finding when it cannot be read without guessing."""
    if not name.lower().endswith((".bpmn", ".dmn")):
        return data.encode("utf-8") if isinstance(data, str) else data
    try:
        return decode_xml(data, name).encode("utf-8")
    except EncodingError as exc:
        declared = exc.declared or "UTF-8"
        if exc.line is None:
            report.error("encoding", name, None, f"无法读取文件:XML 声明的编码 {declared} 不存在。请用 UTF-8 另存。",
                         f"The file cannot be read: its XML declaration names the encoding {declared}, which does "
                         "not exist. Save it as UTF-8.")
            return None
        report.error("encoding", name, None,
                     f"无法读取文件:第 {exc.line} 行有不属于 {declared} 编码的字节"
                     + ("(文件没有声明编码,因此必须是 UTF-8)" if not exc.declared else "")
                     + "。请用 UTF-8 另存,或在第一行声明正确的编码,例如 <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>。",
                     f"The file cannot be read: line {exc.line} has bytes that are not {declared}"
                     + (" (the file declares no encoding, so it must be UTF-8)" if not exc.declared else "")
                     + '. Save it as UTF-8, or declare its encoding on the first line, for example '
                     '<?xml version="1.0" encoding="ISO-8859-1"?>.', line=exc.line)
        return None


def _handler_names() -> list[str]:
    from processes.engine.handlers import handler_names

    return handler_names()


# -- files ---------------------------------------------------------------------


def _check_file(report: Report, name: str, data: bytes, bpmn_trees, dmn_trees, forms) -> None:
    if ".." in name.split("/") or name.startswith("/") or "\\" in name:
        report.error("bad_path", name, None, "文件名不允许包含路径跳转。",
                     "File names may not climb out of the definition folder.")
        return
    if len(data) > MAX_FILE_BYTES:
        report.error("too_large", name, None, f"文件过大(最多 {MAX_FILE_BYTES // (1024 * 1024)} MB)。",
                     f"The file is too large (at most {MAX_FILE_BYTES // (1024 * 1024)} MB).")
        return
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".json":
        _check_form(report, name, data, forms)
        return
    if suffix not in (".bpmn", ".dmn"):
        report.error("unknown_kind", name, None, "只接受 .bpmn、.dmn 和 .json(表单)文件。",
                     "Only .bpmn, .dmn and .json (form) files are accepted.")
        return
    try:
        root = parse_xml(data, name)
    except UnsafeXmlError as exc:
        hostile = "DOCTYPE" in str(exc) or "entity" in str(exc)
        report.error("unsafe_xml" if hostile else "not_well_formed", name, None,
                     ("文件被拒绝:包含 DOCTYPE 或实体声明(可能是 XXE 或“十亿笑声”攻击)。" if hostile
                      else f"文件被拒绝:XML 格式不正确或超出限制。{exc}"),
                     f"File refused: {exc}")
        return
    except etree.XMLSyntaxError as exc:
        report.error("not_well_formed", name, None, f"XML 格式不正确:{exc}", f"Not well-formed XML: {exc}",
                     line=exc.lineno)
        return
    if suffix == ".bpmn":
        if root.tag != f"{{{BPMN_NS}}}definitions":
            report.error("not_bpmn", name, None, "这不是 BPMN 2.0 文件(根元素应为 bpmn:definitions)。",
                         "This is not a BPMN 2.0 file (the root must be bpmn:definitions).")
            return
        bpmn_trees[name] = root
    else:
        if etree.QName(root).namespace not in DMN_NAMESPACES or etree.QName(root).localname != "definitions":
            report.error("not_dmn", name, None, "这不是 DMN 文件(根元素应为 DMN definitions)。",
                         "This is not a DMN file (the root must be DMN definitions).")
            return
        dmn_trees[name] = root


@lru_cache(maxsize=1)
def bpmn_schema() -> etree.XMLSchema:
    """The BPMN 2.0 XSD (with DI, DC and Semantic) that SpiffWorkflow ships: local files, no network."""
    import SpiffWorkflow.bpmn.parser as spiff_parser

    path = os.path.join(os.path.dirname(spiff_parser.__file__), "schema", "BPMN20.xsd")
    return etree.XMLSchema(etree.parse(path, etree.XMLParser(no_network=True, resolve_entities=False)))


def _check_schema(report: Report, name: str, root: etree._Element) -> None:
    """Schema errors in the process model are errors; in the diagram interchange, warnings (the engine
    never reads it: vendor data in <di:extension> and the like); about xml:lang, nothing (the schema
    SpiffWorkflow ships lacks xml.xsd, while xml:lang is allowed everywhere in XML)."""
    schema = bpmn_schema()
    if schema.validate(root):
        return
    counted = 0
    for entry in schema.error_log:
        if f"{{{XML_NS}}}" in entry.message:
            continue
        if counted == MAX_SCHEMA_ERRORS:
            break
        counted += 1
        element = _element_at(root, entry.line, entry.message)
        element_id = _nearest_id(element) if element is not None else _element_id_at(root, entry.line)
        if element is not None and _in_diagram(element):
            report.warning("schema_diagram", name, element_id,
                           f"图形信息(BPMNDI)不符合 BPMN 2.0 规范(第 {entry.line} 行):{entry.message}"
                           "流程引擎不读取图形信息,流程照常运行;在本系统的建模器中打开并保存即可去掉这些数据。",
                           f"The diagram interchange (BPMNDI) is not valid BPMN 2.0 (line {entry.line}): "
                           f"{entry.message} The engine never reads it, so the process runs as drawn; opening "
                           "and saving the file in our modeler drops this data.", line=entry.line)
        else:
            report.error("schema", name, element_id, f"不符合 BPMN 2.0 规范(第 {entry.line} 行):"
                         f"{entry.message}", f"Not valid BPMN 2.0 (line {entry.line}): {entry.message}",
                         line=entry.line)


_DIAGRAM_NAMESPACES = (BPMNDI_NS, "http://www.omg.org/spec/DD/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC")


def _element_at(root: etree._Element, line: int, message: str):
    """The element a schema message is about: the one on its line with the tag the message names."""
    match = re.match(r"Element '(\{[^}]*\}[^']+|[^']+)'", message)
    candidates = [el for el in root.iter() if isinstance(el.tag, str) and el.sourceline == line]
    if match:
        named = [el for el in candidates if el.tag == match.group(1)]
        candidates = named or candidates
    return candidates[0] if candidates else None


def _in_diagram(element) -> bool:
    return any(isinstance(el.tag, str) and etree.QName(el).namespace in _DIAGRAM_NAMESPACES
               for el in [element, *element.iterancestors()])


def _nearest_id(element) -> str | None:
    for el in [element, *element.iterancestors()]:
        if el.get("id"):
            return el.get("id")
    return None


def _element_id_at(root: etree._Element, line: int) -> str | None:
    for element in root.iter():
        if element.sourceline == line and element.get("id"):
            return element.get("id")
    return None


def _check_form(report: Report, name: str, data: bytes, forms: dict) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        report.error("form_json", name, None, f"无法读取表单:第 {line} 行有不属于 UTF-8 编码的字节。JSON 表单必须是 UTF-8,请用 UTF-8 另存。",
                     f"The form cannot be read: line {line} has bytes that are not UTF-8. JSON forms must be "
                     "UTF-8; save it as UTF-8.", line=line)
        return
    schema, problem = parse_schema(text)  # also NaN, huge numbers, deep nesting, remote $ref
    if problem:
        report.error("form_json", name, None, f"表单不被接受:{problem}", f"The form is refused: {problem}")
        return
    if not isinstance(schema, dict):
        report.error("form_json", name, None, "表单必须是 JSON 对象(JSON Schema)。",
                     "A form must be a JSON object (a JSON Schema).")
        return
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        report.error("form_schema", name, None, f"表单不是有效的 JSON Schema:{exc.message}",
                     f"The form is not a valid JSON Schema: {exc.message}")
        return
    if schema.get("type") not in (None, "object"):
        report.error("form_schema", name, None, "表单的顶层类型必须是 object。", "A form's top-level type must be object.")
        return
    forms[name] = schema
    # The task page must be able to draw every field, or the task can never be completed there.
    for prop, (zh, en) in presentation_problems(schema).items():
        report.error("form_control", name, prop, f"字段 {prop} 无法在任务页面上填写:{zh}",
                     f"Field {prop} cannot be filled in on the task page: {en}")
    for prop, spec in (schema.get("properties") or {}).items():
        label = ((spec or {}).get("x-ui") or {}).get("label") if isinstance(spec, dict) else None
        if not isinstance(label, dict) or not label.get("zh-CN") or not label.get("en"):
            report.warning("form_label", name, prop, f"字段 {prop} 缺少中英文标签(x-ui.label)。",
                           f"Field {prop} lacks a zh-CN and en label (x-ui.label).")


# -- the engine ----------------------------------------------------------------


def executable(process) -> bool:
    """As the engine decides (SpiffWorkflow's ProcessParser): executable unless isExecutable is not "true"."""
    return process.get("isExecutable", "true") == "true"


def _check_engine(report: Report, raw: dict[str, bytes], roots: dict[str, etree._Element]) -> None:
    # Whether anything is executable is read from the files themselves, so an engine error cannot hide it.
    if not any(executable(p) for root in roots.values() for p in root.iter(f"{{{BPMN_NS}}}process")):
        report.error("no_executable", None, None,
                     "没有可执行的流程:每个流程都标了 isExecutable=\"false\"。请把要运行的流程的 isExecutable 设为 true(或删去该属性)。",
                     'There is no executable process: every process says isExecutable="false". Set isExecutable '
                     "to true (or remove the attribute) on the process that should run.")
    try:
        report.process_ids = top_level_process_ids(raw)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a finding, never a crash
        _engine_error(report, exc, None, roots)
        return
    for process_id in report.process_ids:
        try:
            parse_definition(raw, process_id)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a finding, never a crash
            _engine_error(report, exc, process_id, roots)


def _engine_error(report: Report, exc: Exception, process_id: str | None, roots: dict) -> None:
    problem = engine_errors.describe(exc, process_id, roots)
    report.error("engine", problem.file, problem.element_id, problem.zh, problem.en, line=problem.line)


# -- lint rules ----------------------------------------------------------------


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _props(element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}


def _label(element) -> str:
    return element.get("name") or element.get("id") or "?"


class _Lint:
    def __init__(self, report: Report, bpmn_trees: dict, dmn_trees: dict, forms: dict, handlers: set[str]):
        self.report, self.bpmn, self.dmn, self.forms, self.handlers = report, bpmn_trees, dmn_trees, forms, handlers

    def run(self) -> None:
        for name, root in self.bpmn.items():
            self._file_checks(name, root)
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                if not executable(process):
                    continue
                lanes = self._lanes(process)
                for container in [process, *process.iter(f"{{{BPMN_NS}}}subProcess",
                                                           f"{{{BPMN_NS}}}transaction")]:
                    self._flow_checks(name, container)
                self._task_checks(name, process, lanes)
                self._payout_checks(name, process, lanes)
                self._script_checks(name, process)
        for name, root in self.dmn.items():
            self._dmn_checks(name, root)

    # files as a whole

    def _file_checks(self, name: str, root) -> None:
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id") in RESERVED_IDS:
                self.report.error("reserved_id", name, element.get("id"),
                                  f"元素 id “{element.get('id')}” 是流程引擎的保留名称,请改名(例如 StartEvent_Receive、EndEvent_Closed)。",
                                  f"The id {element.get('id')!r} is reserved by the engine; rename it "
                                  "(for example StartEvent_Receive or EndEvent_Closed).", line=element.sourceline)
        if root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is None:
            self.report.warning("no_diagram", name, None, "文件没有图形信息(BPMNDI),建模器无法显示流程图。",
                                "The file has no diagram interchange (BPMNDI); the modeler cannot draw it.")
        self._vendor_checks(name, root)

    def _vendor_checks(self, name: str, root) -> None:
        """Other modelers' extensions: a warning per element whose extensions act in their own engine."""
        found = vendors.survey(root)
        for use in found.uses:
            names = ", ".join(use.names)
            self.report.warning(
                "vendor_extension", name, use.element_id,
                f"“{use.label}”带有 {use.vendor[0]} 的扩展({names}):它们在 {use.vendor[0]} 中会改变流程行为,"
                f"但本系统不读取。{';'.join(a[0] for a in use.advice)}。",
                f"{use.label!r} carries {use.vendor[1]} extensions ({names}) that change behaviour in "
                f"{use.vendor[1]} but are not read here: {'; '.join(a[1] for a in use.advice)}.", line=use.line)
        for namespace, owners in sorted(found.unknown.items()):
            shown = ", ".join(dict.fromkeys(owners[:5]))
            self.report.warning(
                "vendor_unknown", name, owners[0],
                f"元素 {shown} 带有未知建模工具的扩展({namespace}),流程引擎忽略它们;若其中有任务分配、表单或服务调用,"
                "请用本系统的属性面板重新设置。",
                f"Elements {shown} carry extensions of a modeler this system does not know ({namespace}); the engine "
                "ignores them. If they hold assignments, forms or service calls, set those in our properties panel.")
        for namespace, (zh, en) in sorted(found.ignored.items(), key=lambda item: str(item[0])):
            self.report.ignored.append({"file": name, "namespace": namespace, "what": {"zh-CN": zh, "en": en}})

    def _lanes(self, process) -> dict[str, str | None]:
        """flow node id -> the department its lane names (None: a lane that names none)."""
        lanes: dict[str, str | None] = {}
        for lane in process.iter(f"{{{BPMN_NS}}}lane"):
            department = lane_department(lane.get("id"), lane.get("name"))
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                if ref.text:
                    lanes[ref.text.strip()] = department
        return lanes

    # tasks

    def _task_checks(self, name: str, process, lanes: dict) -> None:
        boundary_timers = {b.get("attachedToRef") for b in process.iter(f"{{{BPMN_NS}}}boundaryEvent")
                           if b.find("bpmn:timerEventDefinition", NS) is not None}
        for task in process.iter(*(f"{{{BPMN_NS}}}{t}" for t in USER_TASKS)):
            task_id, label = task.get("id"), _label(task)
            if task_id not in lanes:
                self.report.error("lane_missing", name, task_id, f"用户任务“{label}”不在任何泳道中。",
                                  f"User task {label!r} is in no lane.", line=task.sourceline)
            elif lanes[task_id] is None:
                self.report.error("lane_unknown", name, task_id,
                                  f"用户任务“{label}”所在泳道不是已知部门(泳道 id 应为 {', '.join(DEPARTMENTS)} 之一)。",
                                  f"User task {label!r} is in a lane that names no known department "
                                  f"(lane ids: {', '.join(DEPARTMENTS)}).", line=task.sourceline)
            props = _props(task)
            form = props.get("formJsonSchemaFilename")
            if form and form not in self.forms and f"forms/{form}" not in self.forms:
                self.report.error("form_missing", name, task_id, f"用户任务“{label}”引用的表单 {form} 不存在。",
                                  f"User task {label!r} refers to form {form}, which is not in the definition.",
                                  line=task.sourceline)
            # Every task a person works has a deadline: a timer attached to it or an SLA stage.
            stage = props.get(STAGE_PROPERTY)
            if stage is not None and stage not in SLA_STAGES:
                self.report.error("sla_stage_unknown", name, task_id,
                                  f"用户任务“{label}”的 SLA 阶段 {stage} 未知(应为 {', '.join(SLA_STAGES)} 之一)。",
                                  f"User task {label!r} names SLA stage {stage!r}, which is unknown "
                                  f"(stages: {', '.join(SLA_STAGES)}).", line=task.sourceline)
            elif stage is None and task_id not in boundary_timers:
                self.report.error("sla_missing", name, task_id,
                                  f"用户任务“{label}”没有时限:请设置 SLA 阶段({STAGE_PROPERTY})或边界定时器。",
                                  f"User task {label!r} has no deadline: give it an SLA stage ({STAGE_PROPERTY}) "
                                  "or a boundary timer event.", line=task.sourceline)
        for task in process.iter(f"{{{BPMN_NS}}}serviceTask"):
            operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
            label = _label(task)
            if operator is None:
                self.report.error("handler_missing", name, task.get("id"), f"服务任务“{label}”没有指定处理程序。",
                                  f"Service task {label!r} names no handler.", line=task.sourceline)
            elif operator.get("id") not in self.handlers:
                self.report.error("handler_unknown", name, task.get("id"),
                                  f"服务任务“{label}”的处理程序 {operator.get('id')} 不存在。",
                                  f"Service task {label!r} uses handler {operator.get('id')!r}, which does not exist.",
                                  line=task.sourceline)

    # flows: gateways, ends, reachability

    def _flow_checks(self, name: str, container) -> None:
        nodes = {el.get("id"): el for el in container if isinstance(el.tag, str) and el.get("id")
                 and _local(el) in FLOW_NODES}
        flows = [el for el in container if isinstance(el.tag, str) and _local(el) == "sequenceFlow"]
        successors: dict[str, set[str]] = {node_id: set() for node_id in nodes}
        outgoing: dict[str, list] = {node_id: [] for node_id in nodes}
        for flow in flows:
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source in successors:
                successors[source].add(target)
                outgoing[source].append(flow)
        for node_id, node in nodes.items():
            if _local(node) == "boundaryEvent" and node.get("attachedToRef") in successors:
                successors[node.get("attachedToRef")].add(node_id)
        links = {}
        for node in nodes.values():
            link = node.find("bpmn:linkEventDefinition", NS)
            if link is not None and _local(node) == "intermediateCatchEvent":
                links[link.get("name")] = node.get("id")
        for node_id, node in nodes.items():
            link = node.find("bpmn:linkEventDefinition", NS)
            if link is not None and _local(node) == "intermediateThrowEvent" and link.get("name") in links:
                successors[node_id].add(links[link.get("name")])
        self._gateway_checks(name, nodes, outgoing)
        compensation = {node_id for node_id, node in nodes.items() if node.get("isForCompensation") == "true"}
        ends = {node_id for node_id, node in nodes.items() if _local(node) == "endEvent"}
        for node_id, node in nodes.items():
            kind = _local(node)
            if node_id in compensation or kind == "endEvent":
                continue
            link = node.find("bpmn:linkEventDefinition", NS)
            if not outgoing[node_id] and not (link is not None and link.get("name") in links) \
                    and not (kind == "boundaryEvent" and node.find(
                    "bpmn:compensateEventDefinition", NS) is not None):
                self.report.error("dead_end", name, node_id, f"“{_label(node)}”之后没有连线,这条路径没有结束事件。",
                                  f"{_label(node)!r} has no outgoing flow: this path does not end in an end event.",
                                  line=node.sourceline)
        reaches_end = _backwards(ends, successors)
        for node_id, node in nodes.items():
            if node_id in compensation or node_id in reaches_end or not successors[node_id]:
                continue
            self.report.error("no_end", name, node_id, f"从“{_label(node)}”出发无法到达任何结束事件(死循环)。",
                              f"No path from {_label(node)!r} reaches an end event (an endless loop).",
                              line=node.sourceline)
        starts = {node_id for node_id, node in nodes.items() if _local(node) == "startEvent"}
        starts |= {node_id for node_id, node in nodes.items() if _local(node) == "boundaryEvent"}
        starts |= {node_id for node_id, node in nodes.items()
                   if _local(node) == "subProcess" and node.get("triggeredByEvent") == "true"}
        starts |= set(links.values())
        reachable = _forwards(starts, successors) if starts else set(nodes)
        for node_id, node in nodes.items():
            if node_id not in reachable and node_id not in compensation:
                self.report.warning("unreachable", name, node_id, f"“{_label(node)}”从开始事件无法到达。",
                                    f"{_label(node)!r} cannot be reached from a start event.", line=node.sourceline)

    def _gateway_checks(self, name: str, nodes: dict, outgoing: dict) -> None:
        for node_id, node in nodes.items():
            if _local(node) not in ("exclusiveGateway", "inclusiveGateway") or len(outgoing[node_id]) < 2:
                continue
            default = node.get("default")
            conditions = []
            for flow in outgoing[node_id]:
                condition = flow.find("bpmn:conditionExpression", NS)
                text = (condition.text or "").strip() if condition is not None else ""
                if flow.get("id") == default:
                    continue
                if not text:
                    self.report.error("flow_condition", name, flow.get("id"),
                                      f"网关“{_label(node)}”的连线 {flow.get('id')} 既无条件也不是默认连线。",
                                      f"Flow {flow.get('id')} of gateway {_label(node)!r} has no condition and "
                                      "is not the default flow.", line=flow.sourceline)
                conditions.append(text)
            if default is None and _local(node) == "exclusiveGateway" and not _exhaustive(conditions):
                self.report.warning("gateway_default", name, node_id,
                                    f"网关“{_label(node)}”没有默认连线,且条件不一定覆盖所有情况;"
                                    "无条件成立时流程会出错停止。",
                                    f"Gateway {_label(node)!r} has no default flow and its conditions may not cover "
                                    "every case; the instance stops with an error when none holds.",
                                    line=node.sourceline)

    # compensation above the threshold must pass an approval

    def _payout_checks(self, name: str, process, lanes: dict) -> None:
        payouts = [t for t in process.iter(f"{{{BPMN_NS}}}serviceTask")
                   if (op := t.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)) is not None
                   and op.get("id") in PAYOUT_HANDLERS]
        if not payouts:
            return
        container = payouts[0].getparent()
        successors: dict[str, set[str]] = {}
        flows = {}
        for flow in container.iterfind("bpmn:sequenceFlow", NS):
            successors.setdefault(flow.get("sourceRef"), set()).add(flow.get("targetRef"))
            flows[flow.get("id")] = flow
        starts = {el.get("id") for el in container.iterfind("bpmn:startEvent", NS)}
        # An approval: a management task, or a second person's check of the answer (four eyes).
        approvals = {t.get("id") for t in container.iter(*(f"{{{BPMN_NS}}}{u}" for u in USER_TASKS))
                     if lanes.get(t.get("id")) == "management" or _props(t).get("fourEyesAgainst")}
        checks = [flow for flow in flows.values()
                  if re.search(r"threshold|compensation_amount\s*>", _condition(flow) or "")]
        checked: dict[str, object] = {}  # the threshold checks in front of the payouts, each warned about once
        for payout in payouts:
            pid, label = payout.get("id"), _label(payout)
            approval_routes = [f for f in checks if f.get("targetRef") in approvals or
                               (_forwards({f.get("targetRef")}, successors) & approvals)]
            if not approval_routes:
                self.report.error("payout_unapproved", self.name_of(name), pid,
                                  f"“{label}”发放补偿前,没有“超过阈值则须审批”的网关条件。",
                                  f"{label!r} pays compensation, but no gateway sends amounts above the approval "
                                  "threshold to an approval (management, or a four-eyes check) first.",
                                  line=payout.sourceline)
                continue
            # Every way from the start to the payout passes one of the threshold checks ...
            if pid in _forwards(starts, successors, avoid={r.get("sourceRef") for r in approval_routes}):
                self.report.error("payout_bypass", name, pid,
                                  f"有一条路径绕过审批检查直接到达“{label}”。",
                                  f"A path reaches {label!r} without passing the approval check.",
                                  line=payout.sourceline)
            for route in approval_routes:
                # ... and each "above the threshold" branch reaches an approval before the payout.
                if pid in _forwards({route.get("targetRef")}, successors, avoid=approvals):
                    self.report.error("payout_bypass", name, route.get("id"),
                                      f"超过阈值的分支不经审批即可到达“{label}”。",
                                      f"The above-threshold branch reaches {label!r} without an approval.",
                                      line=route.sourceline)
                checked.setdefault(route.get("id"), route)
        for route in checked.values():
            condition = _condition(route) or ""
            # Other comparisons beside the threshold setting (a level, "more than 0") are not thresholds.
            if "threshold" not in condition and re.search(r">=?\s*\d", condition):
                self.report.warning("threshold_literal", name, route.get("id"),
                                    "审批阈值写成了固定数字;建议使用 settings[\"compensation_approval_threshold\"] 或决策表。",
                                    "The approval threshold is a literal number; prefer "
                                    'settings["compensation_approval_threshold"] or a decision table.',
                                    line=route.sourceline)

    @staticmethod
    def name_of(name: str) -> str:
        return name

    # scripts and expressions run in the sandbox

    def _script_checks(self, name: str, process) -> None:
        default_language = declared_language_of_definitions(process)

        def check(element, source: str | None, mode: str, what_zh: str, what_en: str, element_id=None) -> None:
            if source is None or not source.strip():
                return
            problems = check_script(source, mode)
            owner = element_id or _owner_id(element)
            if problems and mode == "eval" and self._foreign_expression(name, element, source, owner,
                                                                         default_language):
                return
            for problem in problems:
                self.report.error("script", name, owner, f"{what_zh}不被允许或有语法错误:{problem}",
                                  f"{what_en} is not allowed or has a syntax error: {problem}",
                                  line=element.sourceline)

        for script in process.iter(f"{{{BPMN_NS}}}script"):
            check(script, script.text, "exec", "脚本", "The script")
        for tag in ("preScript", "postScript"):
            for script in process.iter(f"{{{SPIFF_NS}}}{tag}"):
                check(script, script.text, "exec", "前置/后置脚本", "The pre/post script")
        for tag in ("conditionExpression", "loopCondition", "completionCondition", "loopCardinality"):
            for expression in process.iter(f"{{{BPMN_NS}}}{tag}"):
                check(expression, expression.text, "eval", "表达式", "The expression")
        for expression in process.iter(*(f"{{{BPMN_NS}}}{kind}" for kind in TIMER_KINDS)):
            if not self._timer_check(name, expression):
                check(expression, expression.text, "eval", "定时器表达式", "The timer expression")
        for parameter in process.iter(f"{{{SPIFF_NS}}}parameter"):
            check(parameter, parameter.get("value"), "eval", f"参数 {parameter.get('id')} 的值",
                  f"The value of parameter {parameter.get('id')}")

    def _timer_check(self, name: str, expression) -> bool:
        """A timer value as the engine will evaluate it; True when a finding was made."""
        event = next((a for a in expression.iterancestors() if _local(a).endswith("Event")), None)
        label = _label(event) if event is not None else "?"
        problem = check_timer(_local(expression), expression.text, label, _known_settings())
        if problem is None:
            return False
        self.report.error(problem.code, name, event.get("id") if event is not None else _owner_id(expression),
                          problem.zh, problem.en, line=expression.sourceline, fix=problem.fix)
        return True

    def _foreign_expression(self, name: str, element, source: str, owner: str | None,
                            default_language: str | None) -> bool:
        """An expression written in FEEL, JUEL or XPath, named as such; True when a finding was made."""
        foreign = foreign_language(source, declared_language(element) or default_language)
        if foreign is None:
            return False
        lang_zh, lang_en = foreign.names
        noun_zh, noun_en = ("这个条件", "This condition") if _local(element) == "conditionExpression" \
            else ("这个表达式", "This expression")
        if foreign.python:
            zh = f"{noun_zh}是 {lang_zh},而流程引擎只计算 Python 表达式。请用 Python 写:{foreign.python}"
            en = f"{noun_en} is {lang_en}, and the engine evaluates Python only; write it in Python: {foreign.python}"
        else:
            zh = f"{noun_zh}是 {lang_zh}({source.strip()}),而流程引擎只计算 Python 表达式。请用 Python 重写,例如 amount > 100 and not approved。"
            en = (f"{noun_en} is {lang_en} ({source.strip()}), and the engine evaluates Python only; rewrite it in "
                  "Python, for example amount > 100 and not approved.")
        self.report.error("expression_language", name, owner, zh, en, line=element.sourceline,
                          fix={"replace": source.strip(), "with": foreign.python} if foreign.python else None)
        return True

    def _dmn_checks(self, name: str, root) -> None:
        for text in root.iter("{*}text"):
            parent = text.getparent()
            kind = _local(parent)
            source = (text.text or "").strip()
            if not source or source == "-":
                continue
            if kind == "inputEntry":
                source = _unary_test(source)
            elif kind not in ("outputEntry", "inputExpression", "literalExpression"):
                continue
            problems = check_script(source, "eval")
            rule = next((a for a in parent.iterancestors() if _local(a) == "rule"), None)
            element_id = parent.get("id") or (rule.get("id") if rule is not None else None)
            if problems and self._foreign_expression(name, text, text.text, element_id, None):
                continue
            for problem in problems:
                self.report.error("dmn_expression", name, element_id,
                                  f"决策表单元格“{text.text.strip()}”不被允许或有语法错误:{problem}",
                                  f"Decision table cell {text.text.strip()!r} is not allowed or has a syntax "
                                  f"error: {problem}", line=text.sourceline)


def declared_language_of_definitions(element) -> str | None:
    """The expression language the file declares for all expressions (definitions/@expressionLanguage)."""
    root = element.getroottree().getroot()
    return declared_language(etree.Element("x", language=root.get("expressionLanguage") or ""))


@lru_cache(maxsize=1)
def _known_settings() -> dict:
    """The settings' default values, so that a timer `settings["key"]` is checked through its value."""
    from processes.complaints.settings import default_settings

    return default_settings()


def _owner_id(element) -> str | None:
    for ancestor in [element, *element.iterancestors()]:
        if ancestor.get("id") and _local(ancestor) not in ("conditionExpression", "parameter", "timeDuration",
                                                           "timeDate", "timeCycle"):
            return ancestor.get("id")
    return None


def _condition(flow) -> str | None:
    condition = flow.find("bpmn:conditionExpression", NS)
    return (condition.text or "").strip() if condition is not None else None


def _unary_test(source: str) -> str:
    """A DMN input cell as a Python expression, the way SpiffWorkflow's DMN engine reads it."""
    if source.startswith(("<", ">", "==", "!=")):
        return "cell_value " + source
    return source.replace("?", "cell_value")


_COMPLEMENTS = {"==": "!=", "!=": "==", ">": "<=", "<=": ">", "<": ">=", ">=": "<"}


def _exhaustive(conditions: list[str]) -> bool:
    """Conditions that provably cover every case: one is `True`, or two are each other's negation."""
    normal = [re.sub(r"\s+", " ", c).strip() for c in conditions if c]
    if any(c == "True" for c in normal):
        return True
    for first in normal:
        for second in normal:
            if second in (f"not {first}", f"not ({first})"):
                return True
            match = re.fullmatch(r"(\w+) (==|!=|<=|>=|<|>) (.+)", first)
            if match and second == f"{match[1]} {_COMPLEMENTS[match[2]]} {match[3]}":
                return True
    return False


def _forwards(starts: set[str], successors: dict[str, set[str]], avoid: set[str] | frozenset = frozenset()) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in starts if s not in avoid]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in successors.get(node, ()) if n not in seen and n not in avoid)
    return seen


def _backwards(ends: set[str], successors: dict[str, set[str]]) -> set[str]:
    predecessors: dict[str, set[str]] = {}
    for source, targets in successors.items():
        for target in targets:
            predecessors.setdefault(target, set()).add(source)
    return _forwards(ends, predecessors)
