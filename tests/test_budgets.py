"""Compensation budgets per department and month (issue 15): management sets them through the page,
every change is kept with who, from what, to what and why, and the process's budget check reads them."""

from __future__ import annotations

from types import SimpleNamespace

import lxml.html
import pytest
from sqlalchemy import select

from handlers.complaint import check_budget
from processes.complaints.records import BudgetChange, DepartmentBudget
from processes.engine.models import AuditEntry, utcnow
from tests.test_operations import PW, login


def form_of(page):
    return lxml.html.fromstring(page.get_data(as_text=True))


def test_management_sets_a_budget_and_the_history_and_the_budget_check_show_it(app, make_user):
    make_user("boss", "management", "manager", PW)
    month = utcnow().strftime("%Y-%m")
    boss = login(app, "boss")
    page = form_of(boss.get("/admin/budgets/"))
    row = page.xpath('//tr[@data-department="after_sales"]')[0]
    assert "20,000.00" in row.text_content() and "default" in row.text_content()
    assert page.xpath('//input[@id="month"]')[0].get("value") == month  # the form offers this month
    boss.post("/admin/budgets/", data={"department": "after_sales", "month": month, "amount": "8000",
                                       "note": "Fewer repairs expected"})
    boss.post("/admin/budgets/", data={"department": "after_sales", "month": month, "amount": "6500.50",
                                       "note": "Cut after review"})
    page = form_of(boss.get(f"/admin/budgets/?month={month}"))
    assert "6,500.50" in page.xpath('//tr[@data-department="after_sales"]')[0].text_content()
    history = [[c.text_content().strip() for c in r][1:] for r in page.xpath('//table[@id="budget-history"]/tbody/tr')]
    assert history == [["boss", "After-sales", month, "8,000.00", "6,500.50", "Cut after review"],
                       ["boss", "After-sales", month, "default", "8,000.00", "Fewer repairs expected"]]
    with app.extensions["redress.db"].session() as s:
        ctx = SimpleNamespace(session=s, params={"department": "after_sales", "amount": 7000, "default_budget": 20000},
                              data={}, business_key="C-1")
        result = check_budget(ctx)  # the process's lookup, unchanged, reads the new amount
        assert (result["budget_limit"], result["over_budget"]) == (6500.5, True)
        assert [e.detail["new"] for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "budget_set"))] == [
            "8000", "6500.50"]


@pytest.mark.parametrize(("field", "form", "message"), [
    ("amount", {"amount": "-100"}, "0 or more"),
    ("amount", {"amount": "lots"}, "Enter an amount"),
    ("amount", {"amount": "1.005"}, "at most two decimals"),
    ("month", {"month": "2026-13"}, "YYYY-MM"),
    ("department", {"department": "moon"}, "Choose a department"),
])
def test_bad_budget_input_is_said_next_to_the_field_and_nothing_changes(app, make_user, field, form, message):
    make_user("boss", "management", "manager", PW)
    boss = login(app, "boss")
    data = {"department": "sales", "month": "2026-03", "amount": "100", "note": "", **form}
    response = boss.post("/admin/budgets/", data=data)
    assert response.status_code == 422
    doc = form_of(response)
    assert message in doc.xpath(f'//*[@id="{field}-error"]')[0].text_content()
    if field == "amount":
        assert doc.xpath('//input[@id="amount"]')[0].get("value") == form["amount"]  # kept as typed
    with app.extensions["redress.db"].session() as s:
        assert s.scalar(select(DepartmentBudget)) is None and s.scalar(select(BudgetChange)) is None


def test_only_management_sets_budgets(app, make_user):
    make_user("root", "management", "admin", PW)
    make_user("cs1", "customer_service", "agent", PW)
    assert login(app, "cs1").get("/admin/budgets/").status_code == 403
    root = login(app, "root")
    assert root.get("/admin/budgets/").status_code == 200
    assert 'id="budget-form"' not in root.get("/admin/budgets/").get_data(as_text=True)
    refused = root.post("/admin/budgets/", data={"department": "sales", "month": "2026-03", "amount": "100"})
    assert refused.status_code == 403
    with app.extensions["redress.db"].session() as s:
        assert s.scalar(select(DepartmentBudget)) is None
