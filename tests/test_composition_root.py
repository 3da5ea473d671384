"""The composition root builds a runtime that has everything the shipped process needs, in a
fresh interpreter (as `redress worker` starts): handlers, script helpers, observers, mailer."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from processes.app import build_runtime
from processes.config import Settings
from processes.engine.handlers import handler_names
from processes.engine.script_helpers import HELPERS
runtime = build_runtime(Settings(database_url="sqlite://"))
assert {"sla_deadline", "sla_state"} <= set(HELPERS), sorted(HELPERS)
assert {"acknowledge", "archive", "check_duplicates"} <= set(handler_names()), handler_names()
from processes.complaints.analytics_rollup import observe
assert runtime.mailer in runtime.observers and observe in runtime.observers and len(runtime.observers) >= 3
assert runtime.settings["compensation_approval_threshold"] > 0
print("ok")
"""


def test_build_runtime_alone_registers_handlers_helpers_and_observers():
    done = subprocess.run([sys.executable, "-c", CHECK], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
