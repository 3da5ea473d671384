"""Compensation budgets per department and month: management sets them, the history shows every
change. The rules live in processes/complaints/budgets.py."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from processes.complaints import budgets
from processes.engine.actors import DEPARTMENTS
from processes.engine.models import utcnow
from web.auth import roles_required
from web.context import actor, database, runtime

bp = Blueprint("budgets", __name__)
url_prefix = "/admin/budgets"
FIELDS = ("department", "month", "amount", "note")


def _default(session) -> Decimal:
    return Decimal(str(runtime().settings_in_force(session)[1].get("default_monthly_budget") or 0))


def _page(month: str, values: dict | None = None, errors: dict | None = None, status: int = 200):
    with database().session() as s:
        default = _default(s)
        rows = budgets.month_budgets(s, actor(), month, default)
        changes = budgets.history(s, actor())
    return render_template("admin/budgets.html", month=month, rows=rows, changes=changes, default=default,
                           values=values or {"month": month}, errors=errors or {}, departments=DEPARTMENTS,
                           may_set=actor().role in budgets.SETTERS), status


@bp.get("/")
@roles_required(*budgets.VIEWERS)
def index():
    month = budgets.check_month(request.args.get("month")) or utcnow().strftime("%Y-%m")
    return _page(month)


@bp.post("/")
@roles_required(*budgets.VIEWERS)
def set_budget():
    values = {name: (request.form.get(name) or "").strip()[:2000] for name in FIELDS}
    shown = budgets.check_month(values["month"]) or utcnow().strftime("%Y-%m")
    try:
        with database().write_session.begin() as s:
            budgets.set_budget(s, actor(), values["department"], values["month"], values["amount"], values["note"])
    except budgets.BudgetRefused as exc:
        errors = {field: _(template, **params) for field, (template, params) in exc.problems.items()}
        return _page(shown, values, errors, 422)
    flash(_("The budget is set."), "success")
    return redirect(url_for("budgets.index", month=values["month"]))
