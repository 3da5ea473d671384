"""Shared pieces of the portal, intake and mail tests: an app with the real complaint process,
a local SMTP server that keeps what it receives, and staff steps driven through the runtime."""

from __future__ import annotations

import socket
import time
from email import policy
from email.parser import BytesParser
from functools import cache
from pathlib import Path

import pytest

from processes.complaints.settings import default_settings
from processes.engine.actors import Actor
from processes.engine.definitions import read_files

ROOT = Path(__file__).resolve().parent.parent
# Walks every lane of the process in these tests; a supervisor oversees only their own department.
SUPERVISOR = Actor("zhao.admin", "customer_service", "admin")


@cache
def model_files() -> dict:
    return read_files(ROOT, "bpmn", "forms")


def process_settings(**overrides) -> dict:
    settings = default_settings()
    settings.update(overrides)
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the local SMTP server received: parsed messages, in order."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": message,
                              "subject": str(message["Subject"]), "body": message.get_body(("plain",)).get_content()})
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server():
    """A real SMTP server on localhost (aiosmtpd); yields (url, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


def make_app(database_url: str, tmp_path: Path, **config):
    """An app on a database that already holds the shipped model (the `shipped_url` fixture)."""
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "PROCESS_SETTINGS": process_settings(follow_up_wait="PT1S"),
                      "PUBLIC_URL": "http://portal.test/", **config})
    app.instance_path = str(tmp_path / "instance")
    return app


def task(runtime, reference: str, bpmn_id: str):
    for row in runtime.open_tasks(reference):
        if row.bpmn_id == bpmn_id:
            return row
    raise AssertionError(f"{bpmn_id} is not open for {reference}: {[t.bpmn_id for t in runtime.open_tasks(reference)]}")


def staff_to_mediation(runtime, reference: str, proposal: str = "退还一半货款,并赠送一张 50 元优惠券。",
                       amount: float = 150) -> None:
    """Classify, investigate (responsibility unclear), confirm the strategy, propose a compromise."""
    runtime.complete(task(runtime, reference, "Task_Classify").id, SUPERVISOR,
                     {"category": "product_quality", "severity": "medium", "safety_issue": False,
                      "legitimacy": "justified"})
    investigate = next(t for t in runtime.open_tasks(reference) if t.bpmn_id.startswith("Task_Investigate"))
    runtime.complete(investigate.id, SUPERVISOR,
                     {"findings": "无法确定是运输还是使用造成", "root_cause": "不明", "is_defect": False,
                      "responsibility": "unclear", "warranty_status": "in_warranty"})
    runtime.complete(task(runtime, reference, "Task_Review_Strategy").id, SUPERVISOR, {"override_strategy": False})
    runtime.complete(task(runtime, reference, "Task_Mediate").id, SUPERVISOR,
                     {"company_position": "按政策只能维修", "customer_position": "要求全额退款",
                      "proposal": proposal, "proposal_amount": amount})


def staff_to_response(runtime, reference: str, answer: str = "根据保修政策,我们为您免费更换新机。") -> None:
    """Classify, investigate (the customer's responsibility), answer by the rules."""
    runtime.complete(task(runtime, reference, "Task_Classify").id, SUPERVISOR,
                     {"category": "product_quality", "severity": "low", "safety_issue": False,
                      "legitimacy": "justified"})
    investigate = next(t for t in runtime.open_tasks(reference) if t.bpmn_id.startswith("Task_Investigate"))
    runtime.complete(investigate.id, SUPERVISOR,
                     {"findings": "使用不当", "root_cause": "跌落", "is_defect": False,
                      "responsibility": "customer", "warranty_status": "in_warranty"})
    runtime.complete(task(runtime, reference, "Task_Review_Strategy").id, SUPERVISOR, {"override_strategy": False})
    runtime.complete(task(runtime, reference, "Task_Draft_Rule_Answer").id, SUPERVISOR,
                     {"remedy": "replace", "answer": answer})


def fire_follow_up(runtime, reference: str, timeout: float = 10.0) -> None:
    """Let the follow-up wait (PT1S in tests) pass and fire it, so the survey goes out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runtime.fire_due_timers()
        instance = runtime.instance_for(reference, "complaint_handling")
        if "survey_answer" in (instance.awaiting or []):
            return
        time.sleep(0.2)
    raise AssertionError("the survey was not sent")
