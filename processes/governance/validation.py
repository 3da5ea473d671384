"""The validation report of a definition draft, made on every save.

Checks, in order: each file is of a known kind and safe XML (processes.engine.xmlsafe:
no DTD, no entities, no network, bounded size and depth); BPMN files are valid
against the BPMN 2.0 XML schema (the XSD that SpiffWorkflow ships); forms are
JSON Schemas; SpiffWorkflow parses every executable process; and our own lint
rules (lanes, forms, handlers, gateways, a deadline on every user task, ends, compensation
approval, sandboxed scripts, reserved ids). Errors block submission, warnings
do not. Nothing here raises on a bad file: every problem becomes a finding.
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

from processes.complaints.sla import STAGES
from processes.complaints.task_urgency import STAGE_PROPERTY
from processes.engine.actors import DEPARTMENTS, lane_department
from processes.engine.forms import parse_schema
from processes.engine.sandbox import check_script
from processes.engine.spiff import parse_definition, top_level_process_ids
from processes.engine.xmlsafe import UnsafeXmlError, parse_xml

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
# SpiffWorkflow names its own internal task specs like this; a BPMN element with
# the same id would be silently confused with them.
RESERVED_IDS = ("Start", "End", "Root")
# Service-task handlers that pay money out: they must be behind an approval check.
PAYOUT_HANDLERS = ("issue_compensation",)
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

    def text(self, language: str = "zh-CN") -> str:
        return self.message.get(language) or self.message["en"]


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)

    def add(self, severity: Severity, code: str, file: str | None, element_id: str | None,
            zh: str, en: str, line: int | None = None) -> None:
        self.findings.append(Finding(severity, code, file, element_id, {"zh-CN": zh, "en": en}, line))

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
                "process_ids": self.process_ids, "findings": [asdict(f) for f in self.findings]}


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
        data = files[name]
        data = data.encode("utf-8") if isinstance(data, str) else data
        raw[name] = data
        _check_file(report, name, data, bpmn_trees, dmn_trees, forms)
    if not bpmn_trees and not report.errors:
        report.error("no_bpmn", None, None, "定义中没有 BPMN 文件。", "The definition has no BPMN file.")
    if report.errors:
        return report  # the engine and the lint rules need well-formed, schema-valid files
    _check_engine(report, {n: raw[n] for n in (*bpmn_trees, *dmn_trees)})
    known_handlers = set(handlers if handlers is not None else _handler_names())
    lint = _Lint(report, bpmn_trees, dmn_trees, forms, known_handlers)
    lint.run()
    return report


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
        if _check_schema(report, name, root):
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


def _check_schema(report: Report, name: str, root: etree._Element) -> bool:
    schema = bpmn_schema()
    if schema.validate(root):
        return True
    for entry in list(schema.error_log)[:MAX_SCHEMA_ERRORS]:
        report.error("schema", name, _element_id_at(root, entry.line), f"不符合 BPMN 2.0 规范(第 {entry.line} 行):"
                     f"{entry.message}", f"Not valid BPMN 2.0 (line {entry.line}): {entry.message}", line=entry.line)
    return False


def _element_id_at(root: etree._Element, line: int) -> str | None:
    for element in root.iter():
        if element.sourceline == line and element.get("id"):
            return element.get("id")
    return None


def _check_form(report: Report, name: str, data: bytes, forms: dict) -> None:
    schema, problem = parse_schema(data)  # also NaN, huge numbers, deep nesting, remote $ref
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
    for prop, spec in (schema.get("properties") or {}).items():
        label = ((spec or {}).get("x-ui") or {}).get("label") if isinstance(spec, dict) else None
        if not isinstance(label, dict) or not label.get("zh-CN") or not label.get("en"):
            report.warning("form_label", name, prop, f"字段 {prop} 缺少中英文标签(x-ui.label)。",
                           f"Field {prop} lacks a zh-CN and en label (x-ui.label).")


# -- the engine ----------------------------------------------------------------


def _check_engine(report: Report, raw: dict[str, bytes]) -> None:
    from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

    try:
        report.process_ids = top_level_process_ids(raw)
    except (ValidationException, UnsafeXmlError) as exc:
        _engine_error(report, exc)
        return
    if not report.process_ids:
        report.error("no_executable", None, None, "没有可执行的流程(isExecutable=\"true\")。",
                     'There is no executable process (isExecutable="true").')
        return
    for process_id in report.process_ids:
        try:
            parse_definition(raw, process_id)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a finding, never a crash
            _engine_error(report, exc, process_id)


def _engine_error(report: Report, exc: Exception, process_id: str | None = None) -> None:
    message = getattr(exc, "msg", None) or str(exc)
    where = f"{process_id}: " if process_id else ""
    report.error("engine", getattr(exc, "file_name", None) or None, getattr(exc, "id", None) or None,
                 f"流程引擎无法解析:{where}{message}", f"The engine cannot parse it: {where}{message}",
                 line=getattr(exc, "line_number", None) or None)


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
                executable = process.get("isExecutable", "false").lower() == "true"
                if not executable:
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
        foreign = {etree.QName(a).namespace for el in root.iter() if isinstance(el.tag, str)
                   for a in el.attrib if etree.QName(a).namespace not in (None, BPMN_NS, SPIFF_NS,
                                                                          "http://www.w3.org/2001/XMLSchema-instance")}
        foreign |= {etree.QName(el).namespace for ext in root.iter(f"{{{BPMN_NS}}}extensionElements")
                    for el in ext if isinstance(el.tag, str) and etree.QName(el).namespace != SPIFF_NS}
        for namespace in sorted(n for n in foreign if n):
            self.report.warning("vendor_extension", name, None,
                                f"本系统忽略其他建模工具的扩展({namespace});请用本系统的属性面板设置表单、处理程序和时限。",
                                f"Extensions of other modelers ({namespace}) are ignored here; set forms, handlers "
                                "and time limits in our properties panel.")

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
            if stage is not None and stage not in STAGES:
                self.report.error("sla_stage_unknown", name, task_id,
                                  f"用户任务“{label}”的 SLA 阶段 {stage} 未知(应为 {', '.join(STAGES)} 之一)。",
                                  f"User task {label!r} names SLA stage {stage!r}, which is unknown "
                                  f"(stages: {', '.join(STAGES)}).", line=task.sourceline)
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
        approvals = {t.get("id") for t in container.iter(*(f"{{{BPMN_NS}}}{u}" for u in USER_TASKS))
                     if lanes.get(t.get("id")) == "management"}
        checks = [flow for flow in flows.values()
                  if re.search(r"threshold|compensation_amount\s*>", _condition(flow) or "")]
        for payout in payouts:
            pid, label = payout.get("id"), _label(payout)
            approval_routes = [f for f in checks if f.get("targetRef") in approvals or
                               (_forwards({f.get("targetRef")}, successors) & approvals)]
            if not approval_routes:
                self.report.error("payout_unapproved", self.name_of(name), pid,
                                  f"“{label}”发放补偿前,没有“超过阈值则由管理层审批”的网关条件。",
                                  f"{label!r} pays compensation, but no gateway sends amounts above the approval "
                                  "threshold to a management approval task first.", line=payout.sourceline)
                continue
            for route in approval_routes:
                gateway = route.get("sourceRef")
                # Every way from the start to the payout must pass the threshold check ...
                if pid in _forwards(starts, successors, avoid={gateway}):
                    self.report.error("payout_bypass", name, pid,
                                      f"有一条路径绕过审批检查直接到达“{label}”。",
                                      f"A path reaches {label!r} without passing the approval check.",
                                      line=payout.sourceline)
                # ... and the "above the threshold" branch must reach an approval before the payout.
                if pid in _forwards({route.get("targetRef")}, successors, avoid=approvals):
                    self.report.error("payout_bypass", name, route.get("id"),
                                      f"超过阈值的分支不经管理层审批即可到达“{label}”。",
                                      f"The above-threshold branch reaches {label!r} without a management approval.",
                                      line=route.sourceline)
                number = re.search(r">=?\s*\d", _condition(route) or "")
                if number:
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
        def check(element, source: str | None, mode: str, what_zh: str, what_en: str, element_id=None) -> None:
            if source is None or not source.strip():
                return
            for problem in check_script(source, mode):
                owner = element_id or _owner_id(element)
                self.report.error("script", name, owner, f"{what_zh}不被允许或有语法错误:{problem}",
                                  f"{what_en} is not allowed or has a syntax error: {problem}",
                                  line=element.sourceline)

        for script in process.iter(f"{{{BPMN_NS}}}script"):
            check(script, script.text, "exec", "脚本", "The script")
        for tag in ("preScript", "postScript"):
            for script in process.iter(f"{{{SPIFF_NS}}}{tag}"):
                check(script, script.text, "exec", "前置/后置脚本", "The pre/post script")
        for tag in ("conditionExpression", "loopCondition", "completionCondition", "loopCardinality",
                    "timeDuration", "timeDate", "timeCycle"):
            for expression in process.iter(f"{{{BPMN_NS}}}{tag}"):
                check(expression, expression.text, "eval", "表达式", "The expression")
        for parameter in process.iter(f"{{{SPIFF_NS}}}parameter"):
            check(parameter, parameter.get("value"), "eval", f"参数 {parameter.get('id')} 的值",
                  f"The value of parameter {parameter.get('id')}")

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
            for problem in check_script(source, "eval"):
                rule = next((a for a in parent.iterancestors() if _local(a) == "rule"), None)
                element_id = parent.get("id") or (rule.get("id") if rule is not None else None)
                self.report.error("dmn_expression", name, element_id,
                                  f"决策表单元格“{text.text.strip()}”不被允许或有语法错误:{problem}",
                                  f"Decision table cell {text.text.strip()!r} is not allowed or has a syntax "
                                  f"error: {problem}", line=text.sourceline)


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
