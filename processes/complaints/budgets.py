"""Departments' monthly compensation budgets, set by management, with the history of every change.

The process reads a month's budget through the `check_budget` handler (handlers/complaint.py), which
looks up the `department_budgets` row and falls back to the default budget setting; this module only
writes those rows, so that lookup keeps working unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from processes.complaints.records import BudgetChange, CompensationEntry, DepartmentBudget
from processes.engine import audit
from processes.engine.actors import DEPARTMENTS, Actor
from processes.engine.errors import N_, Forbidden, ValidationFailed

SETTERS = ("manager",)
VIEWERS = ("manager", "admin", "supervisor", "compliance_reviewer")
LIMIT = Decimal(100000000)
NOTE_LIMIT = 1000
_MONTH = re.compile(r"(20\d\d)-(0[1-9]|1[0-2])")


class BudgetRefused(ValidationFailed):
    """Bad input; `problems`: field -> (template, params) for the page."""

    def __init__(self, problems: dict[str, tuple[str, dict]]):
        super().__init__({k: t % p if p else t for k, (t, p) in problems.items()})
        self.problems = problems


def require(actor: Actor, roles: tuple[str, ...]) -> None:
    if actor.role not in roles:
        raise Forbidden(N_("Only management sets budgets.") if roles == SETTERS
                        else N_("Your role does not give access to budgets."))


def check_month(month: str | None) -> str | None:
    return month if isinstance(month, str) and _MONTH.fullmatch(month) else None


def set_budget(session: Session, actor: Actor, department: str, month: str, amount: str, note: str = "") -> BudgetChange:
    """Set a department's budget for a month; the old and new amounts are kept as a change."""
    require(actor, SETTERS)
    problems: dict[str, tuple[str, dict]] = {}
    if department not in DEPARTMENTS:
        problems["department"] = (N_("Choose a department from the list."), {})
    if check_month(month) is None:
        problems["month"] = (N_("Enter a month as YYYY-MM, for example 2026-03."), {})
    value = None
    try:
        value = Decimal(str(amount).strip()) if len(str(amount)) <= 20 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        problems["amount"] = (N_("Enter an amount, for example 500 or 499.50."), {})
    elif value < 0 or value >= LIMIT or value != value.quantize(Decimal("0.01")):
        problems["amount"] = (N_("A budget is 0 or more and below %(limit)s, with at most two decimals."),
                              {"limit": f"{LIMIT:,}"})
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        problems["note"] = (N_("At most %(limit)s characters."), {"limit": NOTE_LIMIT})
    if problems:
        raise BudgetRefused(problems)
    row = session.scalar(select(DepartmentBudget).where(DepartmentBudget.department == department,
                                                        DepartmentBudget.month == month).with_for_update())
    old = row.amount if row is not None else None
    if row is None:
        row = DepartmentBudget(department=department, month=month, amount=value)
        session.add(row)
    else:
        row.amount = value
    change = BudgetChange(department=department, month=month, old_amount=old, new_amount=value,
                          changed_by=actor.username, note=note)
    session.add(change)
    session.flush()
    audit.append(session, actor.username, "budget_set", business_key=f"budget:{department}:{month}",
                 detail={"department": department, "month": month, "old": None if old is None else str(old),
                         "new": str(value), "note": note})
    return change


@dataclass(frozen=True)
class MonthBudget:
    department: str
    month: str
    amount: Decimal
    own: bool  # False: the default budget applies
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.spent


def month_budgets(session: Session, actor: Actor, month: str, default: Decimal) -> list[MonthBudget]:
    """Every department's budget for the month (its own or the default) and what the ledger spent."""
    require(actor, VIEWERS)
    own = {d: a for d, a in session.execute(select(DepartmentBudget.department, DepartmentBudget.amount)
                                            .where(DepartmentBudget.month == month))}
    spent = {d: s for d, s in session.execute(
        select(CompensationEntry.department, func.coalesce(func.sum(CompensationEntry.amount), 0))
        .where(CompensationEntry.month == month).group_by(CompensationEntry.department))}
    return [MonthBudget(d, month, Decimal(own[d]) if d in own else default, d in own,
                        Decimal(str(spent.get(d, 0))).quantize(Decimal("0.01"))) for d in DEPARTMENTS]


def history(session: Session, actor: Actor, department: str | None = None, month: str | None = None,
            limit: int = 200) -> list[BudgetChange]:
    require(actor, VIEWERS)
    query = select(BudgetChange).order_by(BudgetChange.id.desc()).limit(limit)
    if department:
        query = query.where(BudgetChange.department == department)
    if month:
        query = query.where(BudgetChange.month == month)
    return list(session.scalars(query))
