"""A semantic diff of two process definitions, for the compliance reviewer.

Elements are compared by id across all BPMN files: tasks, gateways, events and
flows added, removed or changed (name, lane, condition, script, timer, form,
handler and its parameters, default flow, where a flow goes). Decision tables are
compared rule by rule and cell by cell; forms field by field. Files are read
with the hardened parser; a file that does not parse is reported as changed
text only (the raw XML diff still shows it).
"""

from __future__ import annotations

import difflib
import json
import os
from typing import Any

from lxml import etree

from processes.engine.xmlsafe import UnsafeXmlError, parse_xml
from processes.governance.validation import BPMN_NS, FLOW_NODES, NS, SPIFF_NS

KIND_GROUPS = {"task": ("task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask",
                        "sendTask", "receiveTask", "callActivity", "subProcess", "transaction"),
               "gateway": ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
                           "complexGateway"),
               "event": ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                         "boundaryEvent"),
               "flow": ("sequenceFlow", "messageFlow")}


def group_of(kind: str) -> str:
    return next((group for group, kinds in KIND_GROUPS.items() if kind in kinds), "other")


def diff_definitions(old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    """The semantic diff of `new` against `old` (each {path: text}) as a JSON-ready dict."""
    old_elements, new_elements = bpmn_elements(old), bpmn_elements(new)
    elements = {"added": [], "removed": [], "changed": []}
    for element_id in sorted(new_elements.keys() - old_elements.keys()):
        elements["added"].append(_summary(new_elements[element_id]))
    for element_id in sorted(old_elements.keys() - new_elements.keys()):
        elements["removed"].append(_summary(old_elements[element_id]))
    for element_id in sorted(old_elements.keys() & new_elements.keys()):
        # Settings-like maps (properties, handler parameters) compare key by key: "parameters.window_days".
        before, after = _spread(old_elements[element_id]), _spread(new_elements[element_id])
        changes = {key: {"old": before.get(key), "new": after.get(key)}
                   for key in sorted(set(before) | set(after))
                   if key not in ("file", "line") and before.get(key) != after.get(key)}
        if changes:
            elements["changed"].append({**_summary(after), "changes": changes})
    decisions = _diff_decisions(old, new)
    forms = _diff_forms(old, new)
    files = {"added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()),
             "changed": sorted(name for name in old.keys() & new.keys() if old[name] != new[name])}
    summary = {f"{group}_{what}": sum(1 for e in elements[what] if e["group"] == group)
               for group in KIND_GROUPS for what in ("added", "removed", "changed")}
    summary["rules_changed"] = sum(len(d["added"]) + len(d["removed"]) + len(d["changed"]) for d in decisions)
    summary["form_fields_changed"] = sum(len(f["added"]) + len(f["removed"]) + len(f["changed"])
                                         for f in forms["changed"]) + len(forms["added"]) + len(forms["removed"])
    return {
        "elements": elements,
        "decisions": decisions,
        "forms": forms,
        "files": files,
        "summary": summary,
        "highlight": {"added": [e["id"] for e in elements["added"]],
                      "removed": [e["id"] for e in elements["removed"]],
                      "changed": [e["id"] for e in elements["changed"]]},
        "empty": not (elements["added"] or elements["removed"] or elements["changed"] or decisions
                      or forms["added"] or forms["removed"] or forms["changed"] or files["added"]
                      or files["removed"] or files["changed"]),
    }


def _readable_json(text: str) -> str:
    """JSON with its characters as characters ("说明", not "\\u8bf4\\u660e"), one property a line."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n" if text else text
    except json.JSONDecodeError:
        return text


def _spread(element: dict) -> dict:
    spread = {}
    for key, value in element.items():
        if isinstance(value, dict) and key in ("properties", "parameters"):
            spread.update({f"{key}.{name}": item for name, item in value.items()})
        else:
            spread[key] = value
    return spread


def raw_diff(old: dict[str, str], new: dict[str, str], context: int = 3) -> dict[str, str]:
    """A unified text diff per changed file: the fallback when the semantic diff is not enough."""
    result = {}
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, ""), new.get(name, "")
        if before != after:
            if name.endswith(".json"):
                before, after = _readable_json(before), _readable_json(after)
            result[name] = "".join(difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True),
                fromfile=f"a/{name}", tofile=f"b/{name}", n=context))
    return result


# -- BPMN ----------------------------------------------------------------------


def _summary(element: dict) -> dict:
    return {"id": element["id"], "kind": element["kind"], "group": group_of(element["kind"]),
            "name": element.get("name"), "process": element.get("process"), "file": element.get("file")}


def _parse(name: str, text: str):
    try:
        return parse_xml(text, name)
    except (UnsafeXmlError, etree.XMLSyntaxError):
        return None


def bpmn_elements(files: dict[str, str]) -> dict[str, dict]:
    """Every flow node, flow and lane of the BPMN files: id -> the attributes our runtime cares about."""
    elements: dict[str, dict] = {}
    for name in sorted(files):
        if not name.endswith(".bpmn"):
            continue
        root = _parse(name, files[name])
        if root is None:
            continue
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            lanes = {}
            for lane in process.iter(f"{{{BPMN_NS}}}lane"):
                elements[lane.get("id")] = {"id": lane.get("id"), "kind": "lane", "name": lane.get("name"),
                                            "process": process.get("id"), "file": name}
                for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                    lanes[(ref.text or "").strip()] = lane.get("id")
            for element in process.iter():
                if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
                    continue
                kind = etree.QName(element).localname
                if kind not in FLOW_NODES and kind != "sequenceFlow":
                    continue
                elements[element.get("id")] = _describe(element, kind, process.get("id"), name, lanes)
        for flow in root.iter(f"{{{BPMN_NS}}}messageFlow"):
            elements[flow.get("id")] = {"id": flow.get("id"), "kind": "messageFlow", "name": flow.get("name"),
                                        "file": name, "source": flow.get("sourceRef"),
                                        "target": flow.get("targetRef"), "message": flow.get("messageRef")}
    return elements


def _text(element, path: str) -> str | None:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None and found.text else None


def _describe(element, kind: str, process_id: str, filename: str, lanes: dict) -> dict:
    props = {p.get("name"): p.get("value") for p in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}
    info: dict[str, Any] = {"id": element.get("id"), "kind": kind, "name": element.get("name"),
                            "name_en": props.pop("name_en", None), "process": process_id, "file": filename}
    if element.get("id") in lanes:
        info["lane"] = lanes[element.get("id")]
    if props.get("formJsonSchemaFilename"):
        info["form"] = props.pop("formJsonSchemaFilename")
    if props:
        info["properties"] = props
    operator = element.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is not None:
        info["handler"] = operator.get("id")
        info["result_variable"] = operator.get("resultVariable")
        info["parameters"] = {p.get("id"): p.get("value") for p in operator.iter(f"{{{SPIFF_NS}}}parameter")}
    for tag, key in (("bpmn:script", "script"), ("spiffworkflow:preScript", "pre_script"),
                     ("spiffworkflow:postScript", "post_script"),
                     ("bpmn:extensionElements/spiffworkflow:preScript", "pre_script"),
                     ("bpmn:extensionElements/spiffworkflow:postScript", "post_script"),
                     ("bpmn:extensionElements/spiffworkflow:calledDecisionId", "decision"),
                     ("bpmn:conditionExpression", "condition")):
        value = _text(element, tag)
        if value is not None:
            info[key] = value
    timer = element.find("bpmn:timerEventDefinition", NS)
    if timer is not None:
        for child in timer:
            if isinstance(child.tag, str):
                info["timer"] = f"{etree.QName(child).localname}: {(child.text or '').strip()}"
    variable = element.find("bpmn:messageEventDefinition//spiffworkflow:messageVariable", NS)
    if variable is not None:  # where the customer's answer lands: scripts and gateways read it
        info["message_variable"] = (variable.text or "").strip()
    for definition in ("message", "signal", "error", "escalation", "link"):
        found = element.find(f"bpmn:{definition}EventDefinition", NS)
        if found is not None:
            info["trigger"] = definition + (f": {found.get('messageRef') or found.get('signalRef') or found.get('name') or ''}"
                                            ).rstrip(": ")
    for attribute in ("default", "attachedToRef", "cancelActivity", "calledElement", "sourceRef", "targetRef"):
        if element.get(attribute) is not None:
            info[{"attachedToRef": "attached_to", "sourceRef": "source", "targetRef": "target",
                  "calledElement": "called_process", "cancelActivity": "interrupting"}.get(attribute, attribute)] = \
                element.get(attribute)
    loop = element.find("bpmn:standardLoopCharacteristics/bpmn:loopCondition", NS)
    if loop is not None:
        info["loop_condition"] = (loop.text or "").strip()
    return info


# -- DMN -----------------------------------------------------------------------


def dmn_tables(files: dict[str, str]) -> dict[str, dict]:
    """decision id -> {"file", "name", "hit_policy", "inputs", "outputs", "rules": [{id, inputs, outputs, description}]}."""
    tables = {}
    for name in sorted(files):
        if not name.endswith(".dmn"):
            continue
        root = _parse(name, files[name])
        if root is None:
            continue
        for decision in root.iter("{*}decision"):
            table = decision.find("{*}decisionTable")
            if table is None:
                continue
            inputs = [(i.get("label") or (i.findtext("{*}inputExpression/{*}text") or "").strip())
                      for i in table.iterfind("{*}input")]
            outputs = [o.get("label") or o.get("name") or "" for o in table.iterfind("{*}output")]
            rules = []
            for index, rule in enumerate(table.iterfind("{*}rule"), start=1):
                rules.append({
                    "id": rule.get("id") or f"row {index}", "index": index,
                    "description": (rule.findtext("{*}description") or "").strip(),
                    "inputs": [(e.findtext("{*}text") or "").strip() for e in rule.iterfind("{*}inputEntry")],
                    "outputs": [(e.findtext("{*}text") or "").strip() for e in rule.iterfind("{*}outputEntry")],
                })
            tables[decision.get("id")] = {"file": name, "name": decision.get("name"),
                                          "hit_policy": table.get("hitPolicy", "UNIQUE"),
                                          "inputs": inputs, "outputs": outputs, "rules": rules}
    return tables


def _diff_decisions(old: dict[str, str], new: dict[str, str]) -> list[dict]:
    before, after = dmn_tables(old), dmn_tables(new)
    result = []
    for decision_id in sorted(set(before) | set(after)):
        a, b = before.get(decision_id), after.get(decision_id)
        entry = {"decision_id": decision_id, "name": (b or a)["name"], "file": (b or a)["file"],
                 "table": "added" if a is None else "removed" if b is None else "changed",
                 "added": [], "removed": [], "changed": [], "columns": {}}
        a_rules = {r["id"]: r for r in (a or {}).get("rules", [])}
        b_rules = {r["id"]: r for r in (b or {}).get("rules", [])}
        columns = (b or a)["inputs"] + (b or a)["outputs"]
        entry["added"] = [b_rules[r] for r in b_rules if r not in a_rules]
        entry["removed"] = [a_rules[r] for r in a_rules if r not in b_rules]
        for rule_id in (r for r in a_rules if r in b_rules):
            r1, r2 = a_rules[rule_id], b_rules[rule_id]
            cells = [{"column": columns[i] if i < len(columns) else f"#{i + 1}", "old": x, "new": y}
                     for i, (x, y) in enumerate(_pad(r1["inputs"] + r1["outputs"], r2["inputs"] + r2["outputs"]))
                     if x != y]
            if r1["description"] != r2["description"]:
                cells.append({"column": "description", "old": r1["description"], "new": r2["description"]})
            if r1["index"] != r2["index"]:
                cells.append({"column": "row", "old": r1["index"], "new": r2["index"]})
            if cells:
                entry["changed"].append({"id": rule_id, "index": r2["index"], "cells": cells,
                                         "inputs": r2["inputs"], "outputs": r2["outputs"]})
        if a and b:
            for key in ("inputs", "outputs", "hit_policy"):
                if a[key] != b[key]:
                    entry["columns"][key] = {"old": a[key], "new": b[key]}
        if entry["table"] != "changed" or entry["added"] or entry["removed"] or entry["changed"] or entry["columns"]:
            entry["column_names"] = columns
            result.append(entry)
    return result


def _pad(first: list, second: list) -> list[tuple]:
    size = max(len(first), len(second))
    return list(zip(first + [None] * (size - len(first)), second + [None] * (size - len(second))))


# -- forms ---------------------------------------------------------------------


def _form_fields(text: str) -> dict[str, dict] | None:
    """Field -> its properties flattened to dotted paths ("x-ui.label.zh-CN": "说明"), so that a change
    reads as one property old → new rather than as two blobs of JSON."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(schema, dict):
        return None
    required = set(schema.get("required") or [])
    fields = {}
    for name, prop in (schema.get("properties") or {}).items():
        flat = _flatten(prop) if isinstance(prop, dict) else {"schema": prop}
        flat["required"] = name in required
        fields[name] = flat
    return fields


def _flatten(value: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, f"{path}."))
        else:
            flat[path] = item
    return flat


def _field_label(*fields: dict) -> dict[str, str]:
    """A field's label in both languages (from x-ui.label, else its title), newest version first."""
    for field in fields:
        zh, en = field.get("x-ui.label.zh-CN"), field.get("x-ui.label.en")
        if zh or en or field.get("title"):
            return {"zh-CN": zh or en or field.get("title"), "en": en or field.get("title") or zh}
    return {}


def _diff_forms(old: dict[str, str], new: dict[str, str]) -> dict:
    forms = lambda files: {n: t for n, t in files.items() if os.path.splitext(n)[1] == ".json"}
    before, after = forms(old), forms(new)
    result = {"added": sorted(after.keys() - before.keys()), "removed": sorted(before.keys() - after.keys()),
              "changed": []}
    for name in sorted(before.keys() & after.keys()):
        if before[name] == after[name]:
            continue
        a, b = _form_fields(before[name]), _form_fields(after[name])
        if a is None or b is None:
            result["changed"].append({"file": name, "added": [], "removed": [], "changed": [],
                                      "unreadable": True})
            continue
        changed = []
        for field in sorted(a.keys() & b.keys()):
            changes = {key: {"old": a[field].get(key), "new": b[field].get(key)}
                       for key in sorted(set(a[field]) | set(b[field])) if a[field].get(key) != b[field].get(key)}
            if changes:
                changed.append({"field": field, "label": _field_label(b[field], a[field]), "changes": changes})
        result["changed"].append({
            "file": name, "changed": changed,
            "added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()),
            "labels": {f: _field_label(b.get(f) or {}, a.get(f) or {}) for f in sorted(a.keys() ^ b.keys())}})
    return result
