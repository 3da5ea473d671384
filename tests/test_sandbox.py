"""The script sandbox: escapes are refused, legitimate scripts run through SpiffWorkflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from processes.engine import script_helpers
from processes.engine.sandbox import ForbiddenScriptError, SandboxEnvironment, check_script
from processes.engine.script_helpers import HELPERS, register_helper


@pytest.fixture
def env():
    return SandboxEnvironment(HELPERS)


# --- (a) escapes ----------------------------------------------------------------

ESCAPE_EXPRESSIONS = [
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "getattr(x, '__class__')",
    "getattr(x, '__class__', None)",  # a default must not swallow the refusal
    "[].__class__",
    "type(x).__subclasses__",
    "type(x)",
    "eval('1')",
    "exec('x=1')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "locals()",
    "vars()",
    "dir(x)",
    "'{0.__class__}'.format(1)",
    "'{0.__class__}'.format_map({})",
    "str.format('{0.__class__}', 1)",
    "getattr('{0.__class__}', 'format')(1)",
    "f'{x.__class__}'",
    "(y for y in []).gi_frame",
    "getattr((y for y in []), 'gi_frame')",
    "(y for y in []).gi_code",
    "now_iso.__globals__",
    "getattr(now_iso, '__globals__')",
    "__builtins__",
    "_getattr_",
]

ESCAPE_SCRIPTS = [
    "import os",
    "from os import path",
    "import subprocess as s",
    "class A:\n    pass",
    "setattr(x, '__class__', int)",
    "delattr(x, 'real')",
    "x.real = 2",
    "f = open('/etc/passwd')\ndata = f.read()",
    "def f():\n    return (yield)\ng = f()\nframe = g.gi_frame",
    "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__",
    "d = {}\nd.__class__ = list",
]


# Refused only when run: which attribute getattr() reads, or whether `.format` belongs
# to a str, is not known before the script runs.
RUNTIME_ONLY = {
    "getattr(x, '__class__')",
    "getattr(x, '__class__', None)",
    "'{0.__class__}'.format(1)",
    "'{0.__class__}'.format_map({})",
    "str.format('{0.__class__}', 1)",
    "getattr('{0.__class__}', 'format')(1)",
    "getattr((y for y in []), 'gi_frame')",
    "getattr(now_iso, '__globals__')",
}


@pytest.mark.parametrize("expression", ESCAPE_EXPRESSIONS)
def test_escape_expressions_fail(env, expression):
    data = {"x": 1}
    with pytest.raises(ForbiddenScriptError):
        env.evaluate(expression, data)
    assert data == {"x": 1}


@pytest.mark.parametrize("script", ESCAPE_SCRIPTS)
def test_escape_scripts_fail(env, script):
    data = {"x": 1}
    with pytest.raises(ForbiddenScriptError):
        env.execute(script, data)
    # Nothing of the sandbox is left behind in the task data.
    assert not [k for k in data if k.startswith("_") or k in HELPERS]


@pytest.mark.parametrize("expression", ESCAPE_EXPRESSIONS)
def test_check_script_reports_static_escapes(expression):
    problems = check_script(expression, "eval")
    if expression in RUNTIME_ONLY:
        assert problems == []
    else:
        assert problems and all(p.startswith("Line 1: ") for p in problems)


def test_error_messages_name_the_forbidden_construct(env):
    with pytest.raises(ForbiddenScriptError, match="import statements are not allowed"):
        env.execute("import os", {})
    with pytest.raises(ForbiddenScriptError, match=r"open\(\) is not allowed.*no file access"):
        env.evaluate("open('/etc/passwd')", {})
    with pytest.raises(ForbiddenScriptError, match="'__class__' is not allowed"):
        env.evaluate("getattr(x, '__class__')", {"x": 1})
    with pytest.raises(ForbiddenScriptError, match="format"):
        env.evaluate("'{0.__class__}'.format(1)", {})
    with pytest.raises(ForbiddenScriptError, match="only modify dicts and lists"):
        env.execute("when.year = 2000", {"when": datetime.now(UTC)})


def test_check_script():
    assert check_script("x = 1\ny = [i * 2 for i in range(x)]", "exec") == []
    assert check_script("amount > 100 and channel in ('web', 'phone')", "eval") == []
    assert check_script("x = = 1", "exec")[0].startswith("Line 1: syntax error")
    problems = check_script("import os\nopen('x')\ny = x.__class__", "exec")
    assert len(problems) == 3
    assert problems[0].startswith("Line 1:") and "import" in problems[0]
    assert problems[1].startswith("Line 2:") and "open()" in problems[1]
    assert problems[2].startswith("Line 3:") and "__class__" in problems[2]
    # A statement is not an expression.
    assert check_script("x = 1", "eval")
    with pytest.raises(ValueError):
        check_script("1", "single")


# --- data semantics (same as SpiffWorkflow's TaskDataEnvironment) -------------------------


def test_execute_assigns_into_task_data_and_strips_helpers(env):
    data = {"claim": {"amount": 99.999, "tags": ["late", "damaged"]}, "received": "2024-01-31"}
    script = (
        "total = round_money(claim['amount'])\n"
        "claim['seen'] = True\n"
        "labels = []\n"
        "for i, tag in enumerate(claim['tags']):\n"
        "    labels.append(f'{i}:{tag}')\n"
        "count = 0\n"
        "for n in range(3):\n"
        "    count += n\n"
        "(a, b), c = (1, 2), 3\n"
        "squares = {n: n * n for n in range(3) if n}\n"
        "unique = sorted(set(labels + labels))\n"
        "pairs = list(zip(labels, [1, 2]))\n"
        "due = add_days(received, 1)\n"
        "year = parse_datetime(received).year\n"
        "double = lambda v: v * 2\n"
        "doubled = double(2)\n"
        "print(total)\n"
    )
    assert env.execute(script, data) is True
    assert data["total"] == 100.0
    assert data["claim"]["seen"] is True
    assert data["labels"] == ["0:late", "1:damaged"]
    assert data["count"] == 3
    assert (data["a"], data["b"], data["c"]) == (1, 2, 3)
    assert data["squares"] == {1: 1, 2: 4}
    assert data["unique"] == ["0:late", "1:damaged"]
    assert data["pairs"] == [("0:late", 1), ("1:damaged", 2)]
    assert data["due"] == "2024-02-01"
    assert data["year"] == 2024
    assert data["doubled"] == 4
    # Helpers, builtins, guards and functions never stay in the task data.
    assert "double" not in data
    assert not set(HELPERS) & set(data)
    assert not [k for k in data if k.startswith("_")]


def test_datetime_formatting_works_in_scripts(env):
    # strftime imports `time` through the script's builtins; the sandbox allows just that.
    data = {"received": "2024-01-02T10:00:00Z"}
    env.execute("when = parse_datetime(received)\nlabel = f'{when:%d/%m/%Y} ' + when.strftime('%A')", data)
    assert data["label"] == "02/01/2024 Tuesday"


def test_helpers_are_removed_even_when_script_fails(env):
    data = {"x": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("y = 2\nz = x / 0", data)
    assert data == {"x": 1, "y": 2}


def test_variable_shadowing_a_helper_is_a_clear_error(env):
    with pytest.raises(ValueError, match="today"):
        env.execute("x = 1", {"today": "2024-01-01"})


def test_evaluate_does_not_touch_task_data(env):
    data = {"amount": 150, "channel": "web", "when": datetime(2024, 1, 2, tzinfo=UTC)}
    assert env.evaluate("amount > 100 and channel in ('web', 'phone')", data) is True
    assert env.evaluate("  when.year == 2024  ", data) is True  # whitespace from XML, datetime attribute
    assert env.evaluate("clamp(amount, 0, 100)", data) == 100
    assert env.evaluate("dmninputexpr > 1", data, external_context={"dmninputexpr": 2}) is True
    assert env.evaluate("getattr(when, 'month')", data) == 1
    assert data == {"amount": 150, "channel": "web", "when": datetime(2024, 1, 2, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[len(xs), min(xs), max(xs), sum(xs)]", [3, 1, 3, 6]),
        ("[round(2.5), round(1.256, 2), abs(-1)]", [2, 1.26, 1]),
        ("[int('3'), float('1.5'), str(1), bool(0)]", [3, 1.5, "1", False]),
        ("[list((1,)), dict(a=1), set(xs) == {1, 2, 3}, tuple(xs)]", [[1], {"a": 1}, True, (3, 1, 2)]),
        ("[sorted(xs), sorted(xs, reverse=True)[0], any(xs), all([])]", [[1, 2, 3], 3, True, True]),
        (
            "[list(range(2)), list(enumerate('ab')), list(zip(xs, 'ab'))]",
            [[0, 1], [(0, "a"), (1, "b")], [(3, "a"), (1, "b")]],
        ),
        ("[isinstance(xs, list), None, True, False]", [True, None, True, False]),
        ("[x * 2 for x in xs if x > 1]", [6, 4]),
        ("{k: v for k, v in pairs}", {"a": 1}),
        ("xs[1:] + [xs[-1]]", [1, 2, 2]),
        ("'yes' if 2 in xs else 'no'", "yes"),
        ("f'{len(xs)} items'", "3 items"),
    ],
)
def test_safe_builtins_and_constructs(env, expression, expected):
    assert env.evaluate(expression, {"xs": [3, 1, 2], "pairs": [("a", 1)]}) == expected


def test_compiled_code_is_cached(env):
    from processes.engine.sandbox import _compiled

    _compiled.cache_clear()
    for value in range(5):
        env.evaluate("value + 1", {"value": value})
    assert _compiled.cache_info().misses == 1
    assert _compiled.cache_info().hits == 4


# --- (b) a real BPMN process through SpiffWorkflow ----------------------------------------

BPMN_NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'targetNamespace="http://bpmn.io/schema/bpmn"'
)

TRIAGE_BPMN = f"""<bpmn:definitions {BPMN_NS} id="Definitions_triage">
  <bpmn:process id="triage" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute" />
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>amount = round_money(claim["amount"] * 1.1)
tags = []
for tag in claim["tags"]:
    tags.append(tag.upper())
claim["checked"] = True
priority = "high" if amount &gt; 100 else "normal"
due = add_days(received, 2)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gateway" />
    <bpmn:exclusiveGateway id="gateway" default="to_normal">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_escalate</bpmn:outgoing><bpmn:outgoing>to_normal</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="to_escalate" sourceRef="gateway" targetRef="escalate">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">priority == "high" and "URGENT" not in tags</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_normal" sourceRef="gateway" targetRef="normal" />
    <bpmn:scriptTask id="escalate" name="Escalate">
      <bpmn:incoming>to_escalate</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>path = "escalate"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="normal" name="Normal">
      <bpmn:incoming>to_normal</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>path = "normal"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="escalate" targetRef="end_escalated" />
    <bpmn:sequenceFlow id="f4" sourceRef="normal" targetRef="end_normal" />
    <bpmn:endEvent id="end_escalated"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_normal"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _script_process(script: str) -> str:
    return f"""<bpmn:definitions {BPMN_NS} id="Definitions_one">
  <bpmn:process id="one" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="run" />
    <bpmn:scriptTask id="run"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="run" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=SandboxEnvironment(HELPERS))


def _run(bpmn: str, process_id: str, data: dict, dmn: str | None = None) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(bpmn.encode(), f"{process_id}.bpmn")
    if dmn is not None:
        parser.add_dmn_str(dmn.encode(), f"{process_id}.dmn")
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=_engine())
    # Seed the process variables on the start task; they flow to later tasks.
    workflow.get_next_task(state=TaskState.READY).set_data(**data)
    workflow.do_engine_steps()
    return workflow


def _completed(workflow: BpmnWorkflow) -> set[str]:
    return {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)}


@pytest.mark.parametrize(
    ("amount", "tags", "expected_path", "expected_priority"),
    [
        (200, ["late"], "escalate", "high"),
        (200, ["urgent"], "normal", "high"),  # second half of the condition is false
        (50, ["late"], "normal", "normal"),
    ],
)
def test_bpmn_script_task_and_gateway(amount, tags, expected_path, expected_priority):
    workflow = _run(
        TRIAGE_BPMN, "triage", {"claim": {"amount": amount, "tags": tags}, "received": "2024-02-28"}
    )
    assert workflow.is_completed()
    data = workflow.data
    assert data["amount"] == round(amount * 1.1, 2)
    assert data["tags"] == [t.upper() for t in tags]
    assert data["claim"]["checked"] is True
    assert data["priority"] == expected_priority
    assert data["due"] == "2024-03-01"
    assert data["path"] == expected_path
    other = "normal" if expected_path == "escalate" else "escalate"
    assert expected_path in _completed(workflow)
    assert other not in _completed(workflow)
    assert not set(HELPERS) & set(data)


def test_bpmn_forbidden_script_fails_with_designer_message():
    with pytest.raises(WorkflowTaskException) as info:
        _run(_script_process("x = 1\nimport os"), "one", {})
    assert "import statements are not allowed" in str(info.value)


def test_bpmn_runtime_refusal_reports_line():
    with pytest.raises(WorkflowTaskException) as info:
        _run(_script_process("x = 1\ny = getattr(x, '__class__')"), "one", {})
    assert "'__class__' is not allowed" in str(info.value)
    assert info.value.line_number == 2


def _expression_error(info) -> str:
    # PythonScriptEngine.evaluate wraps expression errors in a WorkflowTaskException that
    # keeps only the error type; the sandbox's message is on the chained exception.
    assert info.value.error_type == "ForbiddenScriptError"
    return str(info.value.__context__)


def test_bpmn_forbidden_gateway_condition_fails():
    bpmn = TRIAGE_BPMN.replace('priority == "high" and', "().__class__ and")
    with pytest.raises(WorkflowTaskException) as info:
        _run(bpmn, "triage", {"claim": {"amount": 1, "tags": []}, "received": "2024-01-01"})
    assert '"__class__" is an invalid attribute name' in _expression_error(info)


def test_bpmn_timer_expression_uses_helpers():
    bpmn = f"""<bpmn:definitions {BPMN_NS} id="Definitions_timer">
  <bpmn:process id="timer" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">add_seconds(now_iso(), offset)</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
    waiting = _run(bpmn, "timer", {"offset": 3600})
    waiting.refresh_timers()
    assert not waiting.is_completed()

    due = _run(bpmn, "timer", {"offset": -1})
    due.refresh_timers()
    due.do_engine_steps()
    assert due.is_completed()


# --- (c) DMN through the sandbox ------------------------------------------------------------

ROUTING_BPMN = f"""<bpmn:definitions {BPMN_NS} id="Definitions_route">
  <bpmn:process id="route" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
    <bpmn:businessRuleTask id="decide" name="Route complaint">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>route_complaint</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _dmn(sla_expression: str = "clamp(amount // 100, 3, 10)") -> str:
    def rule(n, amount, channel, department, sla):
        return f"""      <rule id="rule_{n}">
        <inputEntry id="in_amount_{n}"><text>{amount}</text></inputEntry>
        <inputEntry id="in_channel_{n}"><text>{channel}</text></inputEntry>
        <outputEntry id="out_department_{n}"><text>{department}</text></outputEntry>
        <outputEntry id="out_sla_{n}"><text>{sla}</text></outputEntry>
      </rule>
"""

    return f"""<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_dmn"
    name="DRD" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="route_complaint" name="Route complaint">
    <decisionTable id="table_1">
      <input id="input_amount" label="Amount">
        <inputExpression id="expr_amount" typeRef="number"><text>amount</text></inputExpression>
      </input>
      <input id="input_channel" label="Channel">
        <inputExpression id="expr_channel" typeRef="string"><text>channel.lower()</text></inputExpression>
      </input>
      <output id="output_department" label="Department" name="department" typeRef="string" />
      <output id="output_sla" label="SLA days" name="sla_days" typeRef="number" />
{rule(1, "&gt; 1000", "", '"management"', "1")}\
{rule(2, "100 &lt; ? &lt;= 1000", '"phone"', '"customer_service"', "2")}\
{rule(3, "-", 'in ("web", "email")', '"after_sales"', sla_expression)}\
{rule(4, "", "", '"customer_service"', "5")}\
    </decisionTable>
  </decision>
</definitions>
"""


@pytest.mark.parametrize(
    ("amount", "channel", "department", "sla_days"),
    [
        (5000, "web", "management", 1),
        (500, "PHONE", "customer_service", 2),
        (800, "Email", "after_sales", 8),
        (20, "web", "after_sales", 3),
        (20, "phone", "customer_service", 5),
    ],
)
def test_dmn_business_rule_task(amount, channel, department, sla_days):
    workflow = _run(ROUTING_BPMN, "route", {"amount": amount, "channel": channel}, dmn=_dmn())
    assert workflow.is_completed()
    assert workflow.data["department"] == department
    assert workflow.data["sla_days"] == sla_days


def test_dmn_forbidden_expression_fails():
    dmn = _dmn(sla_expression="open('/etc/passwd').read()")
    with pytest.raises(WorkflowTaskException) as info:
        _run(ROUTING_BPMN, "route", {"amount": 20, "channel": "web"}, dmn=dmn)
    assert "open() is not allowed" in _expression_error(info)


# --- (d) helpers ----------------------------------------------------------------------


def test_every_helper_is_documented():
    expected = {
        "now_iso",
        "today",
        "add_seconds",
        "add_days",
        "days_between",
        "parse_datetime",
        "to_iso",
        "round_money",
        "clamp",
        "coalesce",
    }
    assert expected <= set(HELPERS)
    for name, func in HELPERS.items():
        assert func.__doc__ and func.__doc__.strip(), name


def test_now_and_today():
    now = datetime.fromisoformat(HELPERS["now_iso"]())
    assert now.tzinfo is not None
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert HELPERS["today"]() == datetime.now(UTC).date().isoformat()


def test_datetime_helpers():
    h = HELPERS
    assert h["parse_datetime"]("2024-01-02T03:04:05Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert h["parse_datetime"]("2024-01-02").tzinfo == UTC  # naive means UTC
    assert h["to_iso"](datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05+00:00"
    assert h["to_iso"]("2024-01-02") == "2024-01-02"
    assert h["add_seconds"]("2024-01-01T00:00:00Z", 90) == "2024-01-01T00:01:30+00:00"
    assert h["add_seconds"]("2024-01-01T00:00:00+02:00", -60) == "2023-12-31T23:59:00+02:00"
    assert h["add_days"]("2024-02-28", 2) == "2024-03-01"
    assert h["add_days"]("2024-02-28T10:00:00+00:00", 1) == "2024-02-29T10:00:00+00:00"
    assert h["days_between"]("2024-01-01", "2024-01-03T12:00:00") == 2.5
    assert h["days_between"]("2024-01-03", "2024-01-01") == -2
    with pytest.raises(ValueError):
        h["parse_datetime"]("not a date")


def test_number_helpers():
    h = HELPERS
    assert h["round_money"](2.675) == 2.68  # half-up on the written value, not the binary float
    assert h["round_money"](2.665) == 2.67
    assert h["round_money"](-1.005) == -1.01
    assert h["round_money"]("10") == 10.0
    assert isinstance(h["round_money"](1), float)
    with pytest.raises(TypeError):
        h["round_money"](None)
    assert h["clamp"](5, 0, 3) == 3
    assert h["clamp"](-1, 0, 3) == 0
    assert h["clamp"](2, 0, 3) == 2
    with pytest.raises(ValueError):
        h["clamp"](1, 3, 0)
    assert h["coalesce"](None, 0, 1) == 0
    assert h["coalesce"](None, None) is None
    assert h["coalesce"]() is None


def test_register_helper(env, monkeypatch):
    monkeypatch.setattr(script_helpers, "HELPERS", dict(HELPERS))
    registry = script_helpers.HELPERS

    @register_helper("double_it")
    def double_it(x):
        """Twice x."""
        return 2 * x

    assert registry["double_it"] is double_it
    # The environment holds the registry by reference, so later helpers are visible.
    assert SandboxEnvironment(registry).evaluate("double_it(21)", {}) == 42

    with pytest.raises(ValueError, match="already registered"):
        register_helper("double_it")(lambda x: x)
    with pytest.raises(ValueError, match="docstring"):
        register_helper("undocumented")(lambda x: x)
    with pytest.raises(ValueError):
        register_helper("_private")


@pytest.mark.parametrize("script", ["raise SystemExit()", "raise KeyboardInterrupt()", "raise GeneratorExit()",
                                    "raise BaseException('x')"])
def test_scripts_cannot_raise_process_stopping_exceptions(script):
    env = SandboxEnvironment(HELPERS)
    with pytest.raises(Exception) as caught:  # an ordinary Exception: the runtime's handlers catch it
        env.execute(script, {})
    assert not isinstance(caught.value, (SystemExit, KeyboardInterrupt, GeneratorExit))


@pytest.mark.parametrize("module", ["os", "subprocess", "importlib", "sys"])
def test_code_running_for_a_script_cannot_import_behind_its_back(module):
    # C code (strftime, strptime) imports through the script's builtins: only its two modules get through.
    from processes.engine.sandbox import SAFE_BUILTINS

    importer = SAFE_BUILTINS["__import__"]
    assert importer("time").__name__ == "time"
    with pytest.raises(ForbiddenScriptError, match=f"Importing '{module}' is not allowed"):
        importer(module)
    with pytest.raises(ForbiddenScriptError):
        importer("time", level=1)  # a relative import is not the stdlib module
