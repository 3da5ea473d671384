"""Deadline and priority of every human task of a complaint: the task decorator the composition
root installs on the runtime (``Runtime.task_decorators``).

The deadline is the sooner of the task's stage limit (the ``slaStage`` property of the user task,
counted from the task's arrival) and the time left on the complaint's overall limit (``resolve``,
or ``mediation`` for mediation work, counted from receipt), on the business calendar of the SLA
policy of the complaint's own settings (its ``sla_profile``); a timer attached to the task (a legal limit from receipt) caps it too. The priority is 1
(most urgent) to 5, from severity, safety, customer tier, repeat complaints and escalation level.
"""

from __future__ import annotations

from datetime import UTC, datetime

from processes.complaints.sla import SEVERITIES, STAGES, SlaPolicy, policy_for

STAGE_PROPERTY = "slaStage"
# A survey call comes after the complaint is resolved: only its own limit counts.
NO_OVERALL_LIMIT = frozenset({"survey"})

_SEVERITY_POINTS = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_TIER_POINTS = {"vip": 2, "gold": 1}
SAFETY_POINTS = 3


def sla_class(data: dict) -> str:
    """The severity the SLA limits are read for: a safety issue is always critical."""
    if data.get("safety_issue"):
        return "critical"
    severity = data.get("severity")
    return severity if severity in SEVERITIES else "medium"


def priority(data: dict) -> int:
    """1 (most urgent) .. 5: severity, then +3 for safety, +2 VIP / +1 gold, +1 repeat complaint,
    +1 per escalation level above the first; 4 points or more is priority 1."""
    points = _SEVERITY_POINTS.get(sla_class(data), 1)
    if data.get("safety_issue"):
        points += SAFETY_POINTS
    points += _TIER_POINTS.get(str(data.get("customer_tier") or ""), 0)
    if data.get("duplicate_of") or data.get("duplicate_candidates"):
        points += 1
    try:
        points += max(0, int(data.get("escalation_level") or 1) - 1)
    except (TypeError, ValueError):
        pass
    return 5 - min(points, 4)


def deadline(stage: str | None, data: dict, arrived: datetime, attached: datetime | None = None,
             policy: SlaPolicy | None = None) -> datetime | None:
    """When a task of ``stage`` that arrived at ``arrived`` must be done (UTC), or None when
    neither a stage nor an attached timer gives it one."""
    candidates = [attached] if attached is not None else []
    if stage in STAGES:
        policy = policy or policy_for(data.get("settings"))  # the profile the complaint started with
        severity = sla_class(data)
        candidates.append(policy.deadline(stage, severity, arrived))
        received = _received(data)
        if received is not None and stage not in NO_OVERALL_LIMIT:
            overall = "mediation" if stage == "mediation" else "resolve"
            candidates.append(policy.deadline(overall, severity, received))
    return min(candidates) if candidates else None


def _received(data: dict) -> datetime | None:
    value = data.get("received_at")
    if not value:
        return None
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ComplaintTaskDecorator:
    """Sets ``due_at`` and ``priority`` on a human-task row as the engine writes it."""

    watches = frozenset({"severity", "safety_issue", "customer_tier", "escalation_level", "duplicate_of"})

    def __call__(self, values: dict, properties: dict, data: dict) -> None:
        values["due_at"] = deadline(properties.get(STAGE_PROPERTY), data, values["created_at"], values.get("due_at"))
        values["priority"] = priority(data)
        values["escalation_level"] = escalation_level(data)
        # A repeat complainant's customer-service work goes to a senior agent: first the feelings,
        # then the problem (先处理情绪,后处理问题).
        if (data.get("repeat_complainant") and values.get("department") == "customer_service"
                and values.get("candidate_group") is None):
            values["candidate_group"] = "senior"


def escalation_level(data: dict) -> int:
    try:
        return min(max(int(data.get("escalation_level") or 1), 1), 9)
    except (TypeError, ValueError):
        return 1


DECORATOR = ComplaintTaskDecorator()


def install(runtime) -> None:
    if DECORATOR not in runtime.task_decorators:
        runtime.task_decorators.append(DECORATOR)
