"""Shared test data for the complaint process: the start data the runtime gives it, a fixed
clock to start from, and a recording stand-in for the services handlers use.

The scenarios drive the process through the runtime facade (tests/runtime_harness.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from processes.complaints.settings import default_settings

DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning


@dataclass
class RecordingServices:
    """Stand-in for the runtime services handlers use: records processes started."""

    started: list[tuple[str, str, dict]] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def start_process(self, process_key: str, business_key: str, data: dict) -> int:
        self.started.append((process_key, business_key, data))
        return len(self.started)

    def handling_history(self, business_key: str) -> list[dict]:
        return list(self.history)


class HarnessError(AssertionError):
    pass


def complaint_start_data(reference: str = "C-2025-0001", **overrides: Any) -> dict:
    """Start data as the runtime gives it: the complaint record's fields, the reference, and settings."""
    data = {
        "business_key": reference,
        "reference": reference,
        "channel": "web",
        "received_at": DEFAULT_START.isoformat(),
        "customer_name": "王芳",
        "customer_phone": "13800138000",
        "customer_email": "wang.fang@example.cn",
        "customer_address": "上海市浦东新区",
        "customer_tier": "standard",
        "subject": "电水壶底座漏电",
        "description": "新买的电水壶用了三天底座开始漏水。",
        "remedy_sought": "换货",
        "product": "电水壶 K-200",
        "order_number": "SO-88001",
        "order_value": 299.0,
        "category": None,
        "severity": None,
        "safety_issue": False,
        "settings": default_settings(),
    }
    settings = overrides.pop("settings", None)
    data.update(overrides)
    if settings:
        data["settings"] = {**data["settings"], **settings}
    return data
