"""Scripts and expressions are bounded: wall time, and the size of what they build.

Issue 11, failures 1 and 2: `while True: pass` spun a web thread forever (and held the
database's write lock), `10**10**7` froze the whole server for 17 s in one bytecode, a
2 GB list was accepted. Each hostile script now fails within its limit, and the server
keeps answering meanwhile."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import select

from processes.engine.actors import SYSTEM
from processes.engine.models import AuditEntry, ProcessInstance, User
from processes.engine.runtime import Runtime
from processes.engine.sandbox import ForbiddenScriptError, SandboxEnvironment, check_script
from processes.engine.script_helpers import HELPERS
from processes.engine.script_limits import ScriptLimitError

LIMIT = 0.5

RUNAWAY = [  # (script, what the error says)
    ("while True: pass", "ran longer"),
    ("x = 10**10**7", "number"),
    ("x = pow(10, 10**8)", "number"),
    ("x = 1 << 10**9", "number"),
    ("x = 'a' * 10**9", "sequence"),
    ("x = [0] * 10**9", "sequence"),
    ("x = list(range(10**9))", "range"),
    ("x = '%1000000000d' % 1", "formatted field"),
    ("w = 10**9\nx = f'{1:>{w}}'", "formatted field"),
    ("x = 'a'.ljust(10**9)", "string"),
    # Size or time, whichever comes first: each round copies a string of hundreds of MB, slow on a busy machine.
    ("x = 'ab'\nfor i in range(60):\n    x = x.replace('a', 'aa')", "Script stopped"),
    ("x = ','.join(['a'] * 1000) * 1\ny = ('x' * 10**6).join(['a'] * 10**6)", "string"),
    ("x = sum([[0] * 1000] * 1000, [])", "sequence"),
    ("x = [1]\nwhile True:\n    x.extend(x)", "Script stopped"),  # memory or time, whichever first
    ("x = [i for i in range(10**6) for j in range(10**6)]", "ran longer"),
    ("def f():\n    f()\n    f()\ntry:\n    f()\nexcept Exception:\n    pass\nwhile True:\n    pass", "ran longer"),
    ("try:\n    while True:\n        pass\nexcept Exception:\n    caught = True", "ran longer"),
    (("f = lambda n: f(n) + f(n) if n < 10**9 else 0\ntry:\n    f(0)\nexcept Exception:\n    pass\n"
      "g = lambda n: [g(n + 1) for _ in range(2)] if n < 40 else 0\ng(0)"), "ran longer"),
]


@pytest.fixture
def env():
    return SandboxEnvironment(HELPERS, time_limit=LIMIT)


def _answers_meanwhile(work) -> float:
    """Run `work` in a thread; the slowest of a few small evaluations made meanwhile, in seconds."""
    other = SandboxEnvironment(HELPERS, time_limit=LIMIT)
    thread = threading.Thread(target=work, daemon=True)  # a runaway must not keep pytest alive
    thread.start()
    slowest, give_up = 0.0, time.monotonic() + LIMIT + 5
    time.sleep(0.05)
    while thread.is_alive() and time.monotonic() < give_up:
        began = time.perf_counter()
        assert other.evaluate("a + 1", {"a": 1}) == 2
        slowest = max(slowest, time.perf_counter() - began)
        time.sleep(0.02)
    assert not thread.is_alive(), "the script is still running past its limit"
    return slowest


@pytest.mark.parametrize(("script", "reason"), RUNAWAY)
def test_a_runaway_script_stops_within_its_limit_and_others_keep_running(env, script, reason):
    caught = []

    def work():
        try:
            env.execute(script, {})
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            caught.append(exc)

    began = time.perf_counter()
    slowest = _answers_meanwhile(work)
    took = time.perf_counter() - began
    assert caught and isinstance(caught[0], ScriptLimitError), caught
    assert reason in str(caught[0])
    # Stopped near its limit, and nobody else waited on it: slack grows with the machine's load (shared CI
    # machines run at several times their core count), the guarantee does not.
    crowding = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert took < LIMIT + 2.0 * crowding
    assert slowest < 1.0 * crowding


def test_expressions_are_bounded_too(env):
    for expression in ("10**10**7", "[x for x in range(10**6) for y in range(10**6)]", "'a' * 10**10"):
        with pytest.raises(ScriptLimitError):
            env.evaluate(expression, {})


def test_ordinary_scripts_are_untouched(env):
    data = {"amount": 12.5, "items": [1, 2, 3]}
    env.execute("total = sum(items) * 2\nlabel = f'{amount:>8.2f}' + '%05d' % 7\n"
                "big = 2 ** 100\nline = '-' * 40\nsquares = [i * i for i in range(10)]\n"
                "mask = 1 << 10\npad = 'ab'.ljust(5, '.')\nwords = ', '.join(['a', 'b'])\n"
                "n = 0\nwhile n < 5:\n    n += 1\nacc = [0]\nacc *= 3\nf = lambda v: v + 1\nnext_n = f(n)",
                data)
    assert data["total"] == 12 and data["label"] == "   12.5000007" and data["big"] == 2**100
    assert data["line"] == "-" * 40 and data["squares"][-1] == 81 and data["mask"] == 1024
    assert data["pad"] == "ab..." and data["words"] == "a, b" and data["n"] == 5 and data["acc"] == [0, 0, 0]
    assert data["next_n"] == 6


def test_a_bare_except_is_refused_when_the_script_is_compiled():
    assert any("bare 'except:'" in problem for problem in check_script("try:\n    x = 1\nexcept:\n    pass"))
    with pytest.raises(ForbiddenScriptError):
        SandboxEnvironment(HELPERS).execute("try:\n    x = 1\nexcept:\n    pass", {})


def _spin_process(script: str) -> dict[str, str]:
    """A service step that writes to the database, then a script (the probe of issue 11)."""
    return {"spin.bpmn": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="t">
  <bpmn:process id="spin" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Note"/>
    <bpmn:serviceTask id="Note"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="append_note">
      <spiffworkflow:parameters><spiffworkflow:parameter id="text" type="str" value="'before the script'"/>
      </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Note" targetRef="Spin"/>
    <bpmn:scriptTask id="Spin"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Spin" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""}


def test_a_spinning_script_fails_its_task_and_holds_no_lock(db, monkeypatch):
    from processes.engine import handlers

    monkeypatch.setitem(handlers._HANDLERS, "append_note", lambda ctx: {"noted": True})
    runtime = Runtime(db, settings={}, script_time_limit=LIMIT)
    runtime.deploy(_spin_process("while True:\n  pass"))
    began = time.perf_counter()
    instance_id = runtime.start("spin", "S-1", {})
    assert time.perf_counter() - began < LIMIT + 2.0
    # The unit of work ended at once: another writer (a login, here) gets in straight away.
    began = time.perf_counter()
    with db.write_session.begin() as s:
        s.add(User(username="after", department="customer_service", role="agent", password_hash="x"))
    assert time.perf_counter() - began < 1.0
    with db.session() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "error" and "ran longer than its limit of 0.5 s" in instance.error
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "instance_error")).one()
        assert entry.detail["task"] == "Spin"
    assert runtime.retry(instance_id, SYSTEM) == "error"  # retryable: the failed step is found again


def test_the_time_limit_is_a_setting():
    from processes.config import Settings

    assert Settings.from_environ({}).script_time_limit == 2.0
    assert Settings.from_environ({"REDRESS_SCRIPT_TIME_LIMIT": "0.75"}).script_time_limit == 0.75
    assert Settings.from_environ({"REDRESS_SCRIPT_TIME_LIMIT": "off"}).script_time_limit == 2.0
