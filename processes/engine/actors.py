"""Who is acting, and what their role lets them do with a task."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = (
    "agent",
    "senior_agent",
    "department_staff",
    "supervisor",
    "manager",
    "process_designer",
    "compliance_reviewer",
    "admin",
)
# Roles that may work any task, whatever its lane.
OVERSEERS = {"supervisor", "admin"}
# Roles that belong to a candidate group beyond their department membership.
GROUP_ROLES = {
    "senior": {"senior_agent", "supervisor", "manager", "admin"},
    "supervisor": {"supervisor", "manager", "admin"},
}
WORKER_ROLES = {"agent", "senior_agent", "department_staff", "supervisor", "manager", "admin"}


@dataclass(frozen=True)
class Actor:
    username: str
    department: str | None = None
    role: str = "agent"
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_overseer(self) -> bool:
        return self.role in OVERSEERS

    def in_group(self, group: str | None) -> bool:
        return group is None or group in self.groups or self.role in GROUP_ROLES.get(group, set())


def groups_of(actor: Actor) -> frozenset[str]:
    """The candidate groups whose tasks `actor` may take: named ones and those of the role."""
    return actor.groups | {group for group, roles in GROUP_ROLES.items() if actor.role in roles}


SYSTEM = Actor("system", None, "admin")
CUSTOMER = Actor("customer", None, "customer")


# Lanes whose tasks are decisions only these roles may take, whoever the task was given to
# (an administrator runs the system; management's approvals are for managers alone).
DECIDING_ROLES = {"management": {"manager"}}
# Roles never offered when a task is given to someone: they administer, they do not handle cases.
NOT_ASSIGNABLE = {"admin", "process_designer", "compliance_reviewer"}


def may_be_given(actor: Actor, department: str | None, candidate_group: str | None,
                 not_by: str | None = None) -> bool:
    """Whether a task may be reassigned to `actor`: someone who may work it and handles cases."""
    return actor.role not in NOT_ASSIGNABLE and may_work(actor, department, candidate_group, None, not_by)


def may_work(actor: Actor, department: str | None, candidate_group: str | None, assignee: str | None,
             not_by: str | None = None) -> bool:
    """Lane membership (and the candidate group, if any), the assignment, or an overseeing role.

    Management's tasks (approvals, decisions) are for managers only; a supervisor oversees the
    tasks of their own department (and lane-less ones), not another department's. A four-eyes
    check (`not_by`) is for anyone but the person who wrote what it approves, admins included."""
    if not_by is not None and actor.username == not_by:
        return False
    deciders = DECIDING_ROLES.get(department or "")
    if deciders is not None and actor.role not in deciders:
        return False
    if actor.role == "admin" or (actor.role == "supervisor" and department in (None, actor.department)):
        return True
    if actor.role not in WORKER_ROLES:
        return False
    if assignee is not None and assignee == actor.username:
        return True
    if assignee is not None:
        return False
    return department is not None and actor.department == department and actor.in_group(candidate_group)


def may_see(actor: Actor, department: str | None, assignee: str | None) -> bool:
    """Case work is for the people who do it: designers and reviewers work on models, not cases."""
    if actor.role not in WORKER_ROLES:
        return False
    if actor.is_overseer or actor.role == "manager":
        return True
    return actor.department == department or assignee == actor.username


# The organisation's departments; a BPMN lane names one by its id (`product` or `Lane_product`).
DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")


def lane_department(lane_id: str | None, lane_name: str | None = None) -> str | None:
    """A lane names its department by its id (`product` or `Lane_product`)."""
    for candidate in (lane_id, lane_name):
        if not candidate:
            continue
        key = candidate.removeprefix("Lane_")
        if key in DEPARTMENTS:
            return key
    return None
