"""Other modelers' extensions, named for what they are.

The engine reads BPMN and its own `spiffworkflow:` extensions only. Colours, languages, layout
and modeler bookkeeping change nothing anywhere and are just listed as ignored. Camunda, Zeebe,
Activiti, Flowable and Signavio attributes do change behaviour in their own engines (a form, an
assignee, a Java class), so a file relying on them would run differently here: each element that
carries one gets a warning saying what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
OURS = {None, BPMN_NS, "http://spiffworkflow.org/bpmn/schema/1.0/core",
        "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/XML/1998/namespace"}
DIAGRAM = ("http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DI",
           "http://www.omg.org/spec/DD/20100524/DC")

# namespace -> (zh, en) what it is; these change behaviour in the vendor's own engine.
BEHAVIOURAL = {
    "http://camunda.org/schema/1.0/bpmn": ("Camunda 7", "Camunda 7"),
    "http://camunda.org/schema/zeebe/1.0": ("Camunda 8(Zeebe)", "Camunda 8 (Zeebe)"),
    "http://activiti.org/bpmn": ("Activiti", "Activiti"),
    "http://flowable.org/bpmn": ("Flowable", "Flowable"),
    "http://www.signavio.com": ("Signavio", "Signavio"),
}
# namespace -> (zh, en) what it is; no engine acts on these.
HARMLESS = {
    "http://www.omg.org/spec/BPMN/non-normative/color/1.0": ("BPMN-in-Color 颜色", "BPMN in Color colours"),
    "http://bpmn.io/schema/bpmn/biocolor/1.0": ("bpmn.io 颜色", "bpmn.io colours"),
    "http://camunda.org/schema/modeler/1.0": ("Camunda Modeler 的目标平台说明", "Camunda Modeler's target-platform note"),
    "http://www.bizagi.com/bpmn20": ("Bizagi Modeler 显示属性", "Bizagi Modeler display properties"),
}
# Signavio metadata that is only about how the shape looks.
SIGNAVIO_LOOKS = {"bgcolor", "bordercolor", "fontcolor", "revisionid", "userstory", "linktype"}

# What the vendor's name means, and what does it here: (zh, en) advice by attribute/element name.
_FORM = ("请在属性面板中为任务指定本系统的 JSON 表单(formJsonSchemaFilename)",
         "give the task one of our JSON forms in the properties panel (formJsonSchemaFilename)")
_ASSIGN = ("请把任务放进负责部门的泳道(泳道 id 即部门);时限用边界定时器",
           ("put the task in the lane of the department that does it (the lane id names the department); "
           "time limits are boundary timers"))
_SERVICE = ("请在属性面板中为服务任务选择一个处理程序(spiffworkflow:serviceTaskOperator)",
            "choose a handler for the service task in the properties panel (spiffworkflow:serviceTaskOperator)")
_LISTENER = ("监听器在这里不会运行;请改用脚本任务或前置/后置脚本",
             "listeners do not run here; use a script task or a pre/post script")
_MAPPING = ("数据映射在这里不会运行;请用前置/后置脚本设置变量",
            "data mappings do not run here; set the variables in a pre/post script")
_OTHER = ("它在这里不起作用;若流程依赖它,请用本系统的属性面板建模",
          "it has no effect here; if the process relies on it, model it with our properties panel")
_SIGNAVIO = ("Signavio 属性在这里只是说明;若它应影响流程,请用表单或脚本把它设为流程变量",
             ("Signavio attributes are documentation here; if it should steer the process, make it a process "
             "variable set by a form or a script"))
ADVICE = {
    **dict.fromkeys(("formKey", "formRef", "formRefBinding", "formRefVersion", "formData", "formField",
                     "formProperty", "formDefinition", "userTaskForm"), _FORM),
    **dict.fromkeys(("assignee", "candidateGroups", "candidateUsers", "assignmentDefinition", "dueDate",
                     "followUpDate", "priority", "taskSchedule"), _ASSIGN),
    **dict.fromkeys(("class", "delegateExpression", "expression", "type", "topic", "taskDefinition",
                     "resultVariable", "connector", "field", "taskHeaders", "script"), _SERVICE),
    **dict.fromkeys(("taskListener", "executionListener", "eventListener", "listener"), _LISTENER),
    **dict.fromkeys(("inputOutput", "ioMapping", "in", "out", "inputParameter", "outputParameter", "input",
                     "output"), _MAPPING),
}
_ENGINE_SETTINGS = {"asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority", "taskPriority",
                    "historyTimeToLive", "versionTag", "isStartableInTasklist", "failedJobRetryTimeCycle",
                    "retries", "candidateStarterGroups", "candidateStarterUsers", "properties", "property",
                    "modelerTemplate", "modelerTemplateVersion", "jobWorkerProperties"}


@dataclass
class VendorUse:
    """One element's behaviour-changing vendor extensions."""

    element_id: str | None
    label: str
    vendor: tuple[str, str]
    names: list[str]
    advice: list[tuple[str, str]]
    line: int | None


@dataclass
class Survey:
    uses: list[VendorUse] = field(default_factory=list)
    ignored: dict[str, tuple[str, str]] = field(default_factory=dict)  # namespace -> what it is
    unknown: dict[str, list[str]] = field(default_factory=dict)  # namespace -> element ids carrying it


def survey(root) -> Survey:
    """What of other modelers this BPMN file carries, element by element."""
    result = Survey()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        namespace = etree.QName(element).namespace
        if namespace in DIAGRAM or _inside_diagram(element):
            _diagram(result, element)
            continue
        if namespace not in OURS:
            continue  # vendor elements are read through their owner's extensionElements below
        found: dict[str, list[str]] = {}
        for attribute in element.attrib:
            ns = etree.QName(attribute).namespace
            if ns not in OURS:
                found.setdefault(ns, []).append(etree.QName(attribute).localname)
        if etree.QName(element).localname == "extensionElements":
            continue
        for extensions in element.iterfind(f"{{{BPMN_NS}}}extensionElements"):
            for child in extensions:
                if isinstance(child.tag, str) and etree.QName(child).namespace not in OURS:
                    found.setdefault(etree.QName(child).namespace, []).extend(_vendor_names(child))
        for ns, names in found.items():
            _classify(result, element, ns, names)
    return result


def _inside_diagram(element) -> bool:
    return any(etree.QName(a).namespace in DIAGRAM for a in element.iterancestors())


def _diagram(result: Survey, element) -> None:
    namespace = etree.QName(element).namespace
    if namespace not in DIAGRAM:
        result.ignored.setdefault(namespace, ("其他建模工具的图形数据", "another modeler's diagram data"))
    for attribute in element.attrib:
        ns = etree.QName(attribute).namespace
        if ns not in OURS:
            result.ignored.setdefault(ns, HARMLESS.get(ns, ("其他建模工具的图形数据", "another modeler's diagram data")))


def _vendor_names(child) -> list[str]:
    """The name of a vendor extension element; Signavio's generic metadata by its key."""
    name = etree.QName(child).localname
    if name in ("signavioMetaData", "signavioDiagramMetaData"):
        key = (child.get("metaKey") or "").lower()
        return [] if key in SIGNAVIO_LOOKS else [f"metaKey={child.get('metaKey')}"]
    return [name, *(etree.QName(g).localname for g in child.iter() if g is not child and isinstance(g.tag, str)
                    and etree.QName(g).localname in ADVICE)]


def _classify(result: Survey, element, namespace: str, names: list[str]) -> None:
    if namespace in HARMLESS:
        result.ignored.setdefault(namespace, HARMLESS[namespace])
        return
    if namespace not in BEHAVIOURAL:
        result.unknown.setdefault(namespace, []).append(element.get("id") or etree.QName(element).localname)
        return
    acting = [n for n in dict.fromkeys(names) if n not in _ENGINE_SETTINGS]
    if not acting:
        result.ignored.setdefault(namespace, (f"{BEHAVIOURAL[namespace][0]} 的引擎设置",
                                              f"{BEHAVIOURAL[namespace][1]} engine settings"))
        return
    if namespace == "http://www.signavio.com":
        advice = [_SIGNAVIO]
    else:
        advice = list(dict.fromkeys(ADVICE.get(n, _OTHER) for n in acting))
    result.uses.append(VendorUse(element.get("id"), element.get("name") or element.get("id") or
                                 etree.QName(element).localname, BEHAVIOURAL[namespace], acting, advice,
                                 element.sourceline))
