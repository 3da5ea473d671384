"""A supervisor's overview: open work per department, recent complaints, compensation against budget.

Each figure is one grouped query over an index: open tasks read ix_human_open_department
(it holds status, department, assignee and due_at), recent complaints ix_complaint_received,
the ledger ix_ledger_department_month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Blueprint, render_template
from sqlalchemy import case, func, select

from processes.complaints.records import CompensationEntry, Complaint, DepartmentBudget
from processes.engine.models import HumanTask
from web.auth import roles_required
from web.context import database, runtime

bp = Blueprint("dashboard", __name__)
url_prefix = "/dashboard"
VIEWERS = ("supervisor", "manager", "admin", "compliance_reviewer")
DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")


def open_work(session, now: datetime) -> list[dict]:
    rows = session.execute(
        select(HumanTask.department, func.count(),
               func.sum(case((HumanTask.assignee.is_(None), 1), else_=0)),
               func.sum(case((HumanTask.due_at < now, 1), else_=0)))
        .where(HumanTask.status == "open").group_by(HumanTask.department)
    ).all()
    found = {dept: {"department": dept, "open": n, "unassigned": int(u or 0), "breached": int(b or 0)}
             for dept, n, u, b in rows}
    return [found.get(d, {"department": d, "open": 0, "unassigned": 0, "breached": 0}) for d in DEPARTMENTS] + [
        v for k, v in found.items() if k not in DEPARTMENTS]


def recent_complaints(session, since: datetime) -> dict[str, list[tuple[str, int]]]:
    recent = select(Complaint).where(Complaint.received_at >= since).subquery()
    figures = {}
    for name in ("category", "channel", "status"):
        column = recent.c[name]
        figures[name] = [(value, count) for value, count in session.execute(
            select(column, func.count()).group_by(column).order_by(func.count().desc()))]
    return figures


def compensation(session, month: str) -> list[dict]:
    spent = dict(session.execute(
        select(CompensationEntry.department, func.sum(CompensationEntry.amount))
        .where(CompensationEntry.month == month).group_by(CompensationEntry.department)).all())
    budgets = dict(session.execute(
        select(DepartmentBudget.department, DepartmentBudget.amount).where(DepartmentBudget.month == month)).all())
    default = Decimal(str(runtime().settings.get("default_monthly_budget", 0) or 0))
    rows = []
    for dept in DEPARTMENTS:
        budget = Decimal(budgets.get(dept, default) or 0)
        used = Decimal(spent.get(dept) or 0)
        rows.append({"department": dept, "spent": used, "budget": budget,
                     "share": int(used * 100 / budget) if budget else None})
    return rows


@bp.get("/")
@roles_required(*VIEWERS)
def overview():
    now = datetime.now(UTC)
    with database().session() as s:
        work = open_work(s, now)
        recent = recent_complaints(s, now - timedelta(days=30))
        money = compensation(s, now.strftime("%Y-%m"))
    return render_template("dashboard.html", work=work, recent=recent, money=money, month=now.strftime("%Y-%m"))
