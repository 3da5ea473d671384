"""Static checks of bpmn/*.bpmn, bpmn/*.dmn and forms/*.json.

They run on every file in those folders, so a designer's new file is checked too:
parses in SpiffWorkflow and validates against the BPMN/DMN schemas, the diagram
interchange draws every element, lane and flow without overlapping shapes, user
tasks sit in department lanes and name existing forms, service tasks name
registered handlers, forms are valid JSON Schema with zh-CN and en labels.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR as BPMN_VALIDATOR

from processes.engine.actors import DEPARTMENTS
from processes.engine.handlers import handler_names
from processes.engine.sandbox import check_script
from processes.engine.spiff import RedressParser, parse_definition

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = ROOT / "bpmn"
FORMS_DIR = ROOT / "forms"
BPMN_FILES = sorted(BPMN_DIR.glob("*.bpmn"))
DMN_FILES = sorted(BPMN_DIR.glob("*.dmn"))
FORM_FILES = sorted(FORMS_DIR.glob("*.json"))

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODE_TAGS = {
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
CUSTOMER_MESSAGES = {"customer_details", "customer_response", "survey_answer"}
WIDGETS = {
    "text",
    "textarea",
    "number",
    "money",
    "date",
    "select",
    "radio",
    "checkbox",
    "multiselect",
    "file",
}
# What bpmn.io names elements it creates; ours must say what they are.
GENERATED_ID = re.compile(r"^(Activity|Event|Gateway|Flow|Lane|Participant|StartEvent|EndEvent)_[0-9a-z]{7}$")

# The data contract of issue 3: names and values other parts of the product rely on.
CONTRACT_ENUMS = {
    "category": {
        "product_quality",
        "service_attitude",
        "logistics_delivery",
        "sales_misrepresentation",
        "price_billing",
        "technical_fault",
        "after_sales_repair",
        "other",
    },
    "severity": {"low", "medium", "high", "critical"},
    "legitimacy": {"justified", "unjustified", "shared"},
    "responsibility": {"company", "customer", "unclear"},
    "strategy": {"rule_based", "compensation", "fuzzy_mediation"},
    "compensation_kind": {"points", "coupon", "refund", "cash"},
}


def local(el) -> str:
    return etree.QName(el).localname


def parse(path: Path):
    return etree.fromstring(path.read_bytes())


def ids(paths):
    return [p.name for p in paths]


def all_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in BPMN_FILES + DMN_FILES}


def flow_nodes(root):
    return [el for el in root.iter() if isinstance(el.tag, str) and local(el) in FLOW_NODE_TAGS]


def properties(el) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in el.xpath(
            "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS
        )
    }


def bounds(shape) -> tuple[float, float, float, float]:
    b = shape.find("dc:Bounds", NS)
    return float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))


def overlaps(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def inside(inner, outer) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def test_the_expected_files_exist():
    names = {p.name for p in BPMN_FILES + DMN_FILES}
    assert {
        "complaint.bpmn",
        "strategy_rule_based.bpmn",
        "strategy_compensation.bpmn",
        "strategy_fuzzy_mediation.bpmn",
        "improvement_action.bpmn",
        "classify_routing.dmn",
        "rule_policy.dmn",
        "compensation_policy.dmn",
    } <= names


# ------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_bpmn_validates_against_the_bpmn_and_spiff_schemas(path):
    BPMN_VALIDATOR.validate(parse(path), path.name)


@pytest.mark.parametrize("path", DMN_FILES, ids=ids(DMN_FILES))
def test_dmn_validates_against_the_dmn_schema(path):
    root = parse(path)
    schema = DMN_SCHEMAS[root.nsmap[None]]
    BpmnValidator(schema).validate(root, path.name)
    decisions = root.findall(f"{{{root.nsmap[None]}}}decision")
    assert [d.get("id") for d in decisions] == [path.stem], "one decision per file, named like the file"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_every_executable_process_parses_with_its_called_processes_and_decisions(path):
    parser = RedressParser()
    parser.add_bpmn_bytes(path.read_bytes(), path.name)
    for process_id in parser.get_process_ids():
        spec, subprocess_specs = parse_definition(all_files(), process_id)
        assert spec.name == process_id
        called = {el.get("calledElement") for el in parse(path).iter(f"{{{NS['bpmn']}}}callActivity")}
        assert called <= set(subprocess_specs)


def test_the_complaint_process_calls_the_three_strategies():
    _spec, subprocess_specs = parse_definition(all_files(), "complaint_handling")
    assert {"strategy_rule_based", "strategy_compensation", "strategy_fuzzy_mediation"} <= set(
        subprocess_specs
    )


# ------------------------------------------------------------------------- diagram interchange


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_diagram_draws_every_element_lane_participant_and_flow(path):
    root = parse(path)
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    element_ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}

    missing_shapes = [n.get("id") for n in flow_nodes(root) if n.get("id") not in shapes]
    missing_shapes += [
        lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS) if lane.get("id") not in shapes
    ]
    missing_shapes += [
        p.get("id") for p in root.iterfind(".//bpmn:participant", NS) if p.get("id") not in shapes
    ]
    assert not missing_shapes, f"not drawn: {missing_shapes}"

    flows = list(root.iterfind(".//bpmn:sequenceFlow", NS)) + list(root.iterfind(".//bpmn:messageFlow", NS))
    missing_edges = [f.get("id") for f in flows if f.get("id") not in edges]
    assert not missing_edges, f"flows not drawn: {missing_edges}"
    for edge in edges.values():
        assert len(edge.findall("di:waypoint", NS)) >= 2, edge.get("id")
    dangling = [ref for ref in list(shapes) + list(edges) if ref not in element_ids]
    assert not dangling, f"diagram refers to unknown elements: {dangling}"
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    collaboration = root.find("bpmn:collaboration", NS)
    assert collaboration is not None and plane.get("bpmnElement") == collaboration.get("id")


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_no_two_shapes_overlap(path):
    root = parse(path)
    shapes = {s.get("bpmnElement"): bounds(s) for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    attached = {b.get("id"): b.get("attachedToRef") for b in root.iterfind(".//bpmn:boundaryEvent", NS)}
    nodes = [n.get("id") for n in flow_nodes(root)]
    problems = []
    for a, b in itertools.combinations(nodes, 2):
        if attached.get(a) == b or attached.get(b) == a:
            continue  # a boundary event sits on its task's border
        if overlaps(shapes[a], shapes[b]):
            problems.append((a, b))
    lanes = [lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS)]
    problems += [(a, b) for a, b in itertools.combinations(lanes, 2) if overlaps(shapes[a], shapes[b])]
    pools = [p.get("id") for p in root.iterfind(".//bpmn:participant", NS)]
    problems += [(a, b) for a, b in itertools.combinations(pools, 2) if overlaps(shapes[a], shapes[b])]
    assert not problems, f"overlapping shapes: {problems}"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_lanes_lie_in_their_pool_and_elements_in_their_lane(path):
    root = parse(path)
    shapes = {s.get("bpmnElement"): bounds(s) for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    for participant in root.iterfind(".//bpmn:participant", NS):
        process = root.find(f"bpmn:process[@id='{participant.get('processRef')}']", NS)
        if process is None:
            continue  # the customer: a black-box pool
        for lane in process.iterfind(".//bpmn:lane", NS):
            assert inside(shapes[lane.get("id")], shapes[participant.get("id")]), lane.get("id")
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                assert inside(shapes[ref.text], shapes[lane.get("id")]), (
                    f"{ref.text} outside lane {lane.get('id')}"
                )
        in_lanes = {ref.text for ref in process.iterfind(".//bpmn:flowNodeRef", NS)}
        assert {n.get("id") for n in flow_nodes(process)} == in_lanes, (
            "every element belongs to exactly a lane"
        )


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_lanes_are_departments_with_chinese_names(path):
    root = parse(path)
    lanes = list(root.iterfind(".//bpmn:lane", NS))
    assert lanes, "every process is drawn in department lanes"
    for lane in lanes:
        assert lane.get("id") in DEPARTMENTS
        assert re.search(r"[\u4e00-\u9fff]", lane.get("name") or ""), lane.get("id")


# ------------------------------------------------------------------------- semantics


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_ids_are_meaningful_and_named_elements_have_an_english_name(path):
    root = parse(path)
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.get("id"):
            continue
        assert not GENERATED_ID.match(el.get("id")), f"generated id {el.get('id')}"
    for node in flow_nodes(root):
        if node.get("name"):
            assert re.search(r"[\u4e00-\u9fff]", node.get("name")), f"{node.get('id')} needs a Chinese name"
            assert properties(node).get("name_en"), f"{node.get('id')} needs a name_en property"
        elif local(node) not in ("exclusiveGateway", "parallelGateway"):
            raise AssertionError(f"{node.get('id')} has no name")


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_user_tasks_sit_in_department_lanes_and_reference_existing_forms(path):
    parser = RedressParser()
    parser.add_bpmn_bytes(path.read_bytes(), path.name)
    forms = {p.name for p in FORM_FILES}
    for process_id in parser.get_process_ids():
        spec, _ = parse_definition(all_files(), process_id)
        for task_spec in spec.task_specs.values():
            if type(task_spec).__name__ != "UserTask":
                continue
            assert task_spec.lane in DEPARTMENTS, f"{task_spec.bpmn_id} is in no department lane"
            form = task_spec.extensions.get("properties", {}).get("formJsonSchemaFilename")
            assert form in forms, f"{task_spec.bpmn_id} names form {form!r}, not in forms/"


def test_every_form_is_used_by_a_user_task():
    used = set()
    for path in BPMN_FILES:
        for task in parse(path).iterfind(".//bpmn:userTask", NS):
            used.add(properties(task).get("formJsonSchemaFilename"))
    assert {p.name for p in FORM_FILES} == used


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_service_tasks_name_registered_handlers(path):
    registered = set(handler_names())
    for task in parse(path).iterfind(".//bpmn:serviceTask", NS):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        assert operator is not None, task.get("id")
        assert operator.get("id") in registered, f"{task.get('id')}: no handler {operator.get('id')!r}"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_business_rule_tasks_call_decisions_in_the_dmn_files(path):
    decisions = {p.stem for p in DMN_FILES}
    for task in parse(path).iterfind(".//bpmn:businessRuleTask", NS):
        called = task.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS)
        assert called in decisions, task.get("id")


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_customer_messages_are_the_contract_and_land_in_a_variable_of_their_name(path):
    root = parse(path)
    messages = {m.get("id"): m.get("name") for m in root.iterfind("bpmn:message", NS)}
    for definition in root.iterfind(".//bpmn:intermediateCatchEvent/bpmn:messageEventDefinition", NS):
        name = messages[definition.get("messageRef")]
        assert name in CUSTOMER_MESSAGES
        variable = definition.findtext("bpmn:extensionElements/spiffworkflow:messageVariable", namespaces=NS)
        assert variable == name


def test_message_flows_connect_the_company_and_the_customer():
    root = parse(BPMN_DIR / "complaint.bpmn")
    participants = {p.get("id"): p.get("processRef") for p in root.iterfind(".//bpmn:participant", NS)}
    customer = [pid for pid, ref in participants.items() if ref is None]
    assert len(customer) == 1 and "Customer" in root.find(
        f".//bpmn:participant[@id='{customer[0]}']", NS
    ).get("name")
    flows = list(root.iterfind(".//bpmn:messageFlow", NS))
    assert {f.get("sourceRef") for f in flows} & set(customer)
    assert {f.get("targetRef") for f in flows} & set(customer)
    catch_ids = {e.getparent().get("id") for e in root.iterfind(".//bpmn:messageEventDefinition", NS)}
    assert catch_ids <= {f.get("targetRef") for f in flows}, "every message catch is fed by a message flow"


def test_complaint_process_has_one_investigation_task_per_department_lane():
    spec, _ = parse_definition(all_files(), "complaint_handling")
    investigations = {ts.lane for name, ts in spec.task_specs.items() if name.startswith("Task_Investigate_")}
    assert investigations == {"customer_service", "sales", "product", "technical", "after_sales"}


# ------------------------------------------------------------------------- forms


@pytest.mark.parametrize("path", FORM_FILES, ids=ids(FORM_FILES))
def test_form_is_a_valid_json_schema_with_bilingual_ui_hints(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    ui = schema["x-ui"]
    assert ui["title"]["zh-CN"] and ui["title"]["en"]
    props = schema["properties"]
    assert sorted(ui["order"]) == sorted(props)
    assert set(schema.get("required", [])) <= set(props)
    for name, prop in props.items():
        hints = prop["x-ui"]
        assert hints["widget"] in WIDGETS, f"{name}: widget {hints['widget']}"
        assert hints["label"]["zh-CN"] and hints["label"]["en"], name
        if "help" in hints:
            assert hints["help"]["zh-CN"] and hints["help"]["en"], name
        if "enum" in prop:
            labels = hints["enum_labels"]
            assert set(labels) == set(prop["enum"]), name
            assert all(v["zh-CN"] and v["en"] for v in labels.values()), name
        if name in CONTRACT_ENUMS:
            assert set(prop["enum"]) == CONTRACT_ENUMS[name], f"{name} values differ from the data contract"


# ------------------------------------------------------------------------- scripts and expressions


def _expressions(root):
    """(where, source, mode) of every script and expression the engine will run."""
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        for cond in flow.iterfind("bpmn:conditionExpression", NS):
            yield flow.get("id"), cond.text, "eval"
    for task in root.iterfind(".//bpmn:scriptTask", NS):
        yield task.get("id"), task.findtext("bpmn:script", namespaces=NS), "exec"
    for tag in ("preScript", "postScript"):
        for script in root.iterfind(f".//spiffworkflow:{tag}", NS):
            yield script.getparent().getparent().get("id"), script.text, "exec"
    for timer in root.iterfind(".//bpmn:timerEventDefinition/*", NS):
        yield timer.getparent().getparent().get("id"), timer.text, "eval"
    for param in root.iterfind(".//spiffworkflow:parameter", NS):
        yield param.get("id"), param.get("value"), "eval"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_scripts_and_expressions_compile_in_the_sandbox(path):
    problems = {}
    for where, source, mode in _expressions(parse(path)):
        assert source and source.strip(), f"{where}: empty {mode} expression"
        errors = check_script(source, mode)
        if errors:
            problems[where] = errors
    assert not problems


@pytest.mark.parametrize("path", DMN_FILES, ids=ids(DMN_FILES))
def test_dmn_cells_compile_in_the_sandbox(path):
    root = parse(path)
    dmn = {"dmn": root.nsmap[None]}
    for text in root.iterfind(".//dmn:inputExpression/dmn:text", dmn):
        assert not check_script(text.text, "eval"), text.text
    for text in root.iterfind(".//dmn:outputEntry/dmn:text", dmn):
        assert not check_script(text.text, "eval"), text.text
    for text in root.iterfind(".//dmn:inputEntry/dmn:text", dmn):
        cell = text.text.strip()
        if cell != "-":
            probe = (
                cell.replace("?", "dmninputexpr")
                if "?" in cell
                else f"x {cell}"
                if cell[0] in "<>=!"
                else cell
            )
            assert not check_script(probe, "eval"), cell


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_exclusive_gateways_route_every_case(path):
    root = parse(path)
    flows = {f.get("id"): f for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    for gateway in root.iterfind(".//bpmn:exclusiveGateway", NS):
        outgoing = [flows[o.text] for o in gateway.iterfind("bpmn:outgoing", NS)]
        if len(outgoing) < 2:
            continue
        conditioned = [f for f in outgoing if f.find("bpmn:conditionExpression", NS) is not None]
        default = gateway.get("default")
        if default:
            assert default in {f.get("id") for f in outgoing}, gateway.get("id")
            assert flows[default].find("bpmn:conditionExpression", NS) is None, gateway.get("id")
            assert len(conditioned) == len(outgoing) - 1, gateway.get("id")
        else:
            assert len(conditioned) == len(outgoing), (
                f"{gateway.get('id')}: a flow without condition or default"
            )
