"""Compensation given on the escalation ladder, as the people who work it see it on the pages.

The complaint of `test_complaint_paths.ladder_with_compensation` goes up the ladder with money at the
senior specialist's level and at management's, every task done through its page by a person of its lane.
Then quality control's approval page, the complaint file's case summary and management's budget page
must show what was booked: in Chinese (¥) and in English (CNY), two decimals.
"""

from __future__ import annotations

import lxml.html
import pytest

import tests.test_complaint_pages as pages
import tests.test_complaint_paths as paths
from tests.test_complaint_pages import log_in, person_for

# The page walk's fixtures: the scenarios' harness on a web app, each task done through its page.
web_app, dbsession, run = pages.web_app, pages.dbsession, pages.run

LANGUAGES = {"zh-CN": "¥", "en": "CNY "}


def page(client, url: str, language: str):
    response = client.get(url, headers={"Accept-Language": language})
    assert response.status_code == 200, url
    return lxml.html.fromstring(response.get_data(as_text=True))


def text_of(doc, css_class: str) -> str:
    found = doc.xpath(f'//*[contains(concat(" ", @class, " "), " {css_class} ")]')
    assert found, f"the page has no {css_class}"
    return " ".join(" ".join(e.text_content().split()) for e in found)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_ladders_compensation_shows_on_the_approval_the_case_summary_and_the_budget(run, dbsession, language):
    money = LANGUAGES[language]
    h = run(customer_tier="vip", order_value=3000)
    seen = {}

    def approval_page(h):
        # Quality control checks management's 1,200 with the budget as it stands without this complaint.
        row = h._row("Task_Quality_Check")
        log_in(h.app, h.client, *person_for(row))
        doc = page(h.client, f"/tasks/{row.id}", language)
        seen["amount"] = text_of(doc, "approval-amount")
        seen["budget"] = text_of(doc, "approval-budget")
        seen["left"] = text_of(doc, "budget-left")
        # The file, before the answer is sent: 1,200 proposed, nothing booked or paid yet.
        doc = page(h.client, f"/complaints/{paths.REF}", language)
        seen["proposed_before"] = text_of(doc, "summary-compensation")
        seen["paid_before"] = text_of(doc, "summary-paid")

    paths.ladder_with_compensation(h, dbsession, check_before_sending=approval_page)
    assert f"{money}1,200.00" in seen["amount"]
    assert f"{money}500.00" in seen["budget"] and f"{money}2,000.00" in seen["budget"]  # used 500 of 2,000
    assert f"{money}300.00" in seen["left"]  # left after this: 2,000 - 500 - 1,200
    assert f"{money}1,200.00" in seen["proposed_before"]
    assert f"{money}" not in seen["paid_before"]

    # Accepted: the case summary shows what was proposed, approved, booked and paid.
    log_in(h.app, h.client, "supervisor1", "customer_service", "supervisor")
    doc = page(h.client, f"/complaints/{paths.REF}", language)
    approved, booked, paid = (text_of(doc, c) for c in ("summary-approved", "summary-booked", "summary-paid"))
    assert f"{money}1,200.00" in approved
    assert ("质检" if language == "zh-CN" else "quality control") in approved
    assert f"{money}1,200.00" in booked and "2025-03" in booked
    assert ("管理层已批准" if language == "zh-CN" else "approved by management") in booked
    assert paid == f"{money}1,200.00"
    # The file's compensation table writes the amount as the summary does, not "1200.00 CNY".
    table = " ".join(doc.xpath('//section[@aria-labelledby="money-heading"]')[0].text_content().split())
    assert f"{money}1,200.00" in table and "CNY" not in table.replace("CNY 1,200.00", "")

    # Management's budget page: 500 of the other complaint and this one's 1,200, counted once.
    log_in(h.app, h.client, "boss", "management", "manager")
    doc = page(h.client, "/admin/budgets/?month=2025-03", language)
    product = " ".join(doc.xpath('//tr[@data-department="product"]')[0].text_content().split())
    assert "2,000.00 1,700.00 300.00" in product, product


def test_an_answer_deemed_accepted_counts_its_compensation_as_paid(run):
    """No answer in time: the offer is deemed accepted, and the case summary says it is paid."""
    from datetime import timedelta

    h = run(customer_tier="standard")
    paths.classify(h, "logistics_delivery", "medium")
    paths.investigate(h, "after_sales", "company", warranty="not_applicable")
    paths.confirm_strategy(h, "compensation")
    paths.choose_compensation(h, ("coupon", 50))
    paths.write_offer(h, "李娜您好:给您送上优惠券 ¥50.00,再次致歉。")
    log_in(h.app, h.client, "supervisor1", "customer_service", "supervisor")
    before = page(h.client, f"/complaints/{paths.REF}", "zh-CN")
    assert "¥" not in text_of(before, "summary-paid") and "¥50.00" in text_of(before, "summary-booked")
    h.advance_time(timedelta(days=7, minutes=1))
    assert h.data["deemed_accepted"] is True
    log_in(h.app, h.client, "supervisor1", "customer_service", "supervisor")  # a week later: a new session
    after = page(h.client, f"/complaints/{paths.REF}", "zh-CN")
    assert text_of(after, "summary-paid") == "¥50.00"


def test_the_customers_page_counts_as_paid_only_what_the_customer_accepted(run):
    """Two complaints of one customer: one offer accepted, one still waiting for the answer. The
    customer's page counts only the accepted one as paid and shows the other as offered."""
    accepted = run(customer_tier="standard")
    paths.classify(accepted, "logistics_delivery", "medium")
    paths.investigate(accepted, "after_sales", "company", warranty="not_applicable")
    paths.confirm_strategy(accepted, "compensation")
    paths.choose_compensation(accepted, ("coupon", 50))
    paths.write_offer(accepted, "李娜您好:给您送上优惠券 ¥50.00,再次致歉。")
    paths.answer(accepted, "accept")
    waiting = run(reference="C-2025-0002", customer_tier="standard")
    paths.classify(waiting, "logistics_delivery", "medium")
    waiting.complete("Task_Review_Duplicate", {"is_duplicate": False})  # same order: not the same complaint
    paths.investigate(waiting, "after_sales", "company", warranty="not_applicable")
    paths.confirm_strategy(waiting, "compensation")
    paths.choose_compensation(waiting, ("coupon", 50), amount=30)
    paths.write_offer(waiting, "李娜您好:给您送上优惠券 ¥30.00。")
    for language, money, offered in (("zh-CN", "¥", "已提供 ¥30.00,客户未接受"),
                                     ("en", "CNY ", "offered CNY 30.00, not accepted")):
        log_in(accepted.app, accepted.client, "supervisor1", "customer_service", "supervisor")
        doc = page(accepted.client, f"/complaints/{paths.REF}/customer", language)
        rows = {" ".join(r.text_content().split()).split(" ")[0]: r
                for r in doc.xpath('//table[contains(@class, "customer-complaints")]/tbody/tr')}
        paid = {ref: " ".join(r.xpath('.//td[contains(@class, "customer-paid")]')[0].text_content().split())
                for ref, r in rows.items()}
        assert paid[paths.REF] == f"{money}50.00"
        assert paid["C-2025-0002"] == f"—{offered}"  # nothing paid, the offer beside it


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_settlements_amount_shows_on_managements_approval_and_is_paid_once_agreed(run, language):
    """A mediation proposal of 800 waits for management, which sees the amount, the proposal and the
    budget; once the customer accepts, the case summary shows the settlement booked and paid."""
    money = LANGUAGES[language]
    h = run()
    paths.classify(h, "sales_misrepresentation", "medium")
    paths.investigate(h, "sales", "unclear", warranty="not_applicable")
    paths.confirm_strategy(h, "fuzzy_mediation")
    h.complete("Task_Mediate", {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款",
                                "proposal": "退还全部服务费", "proposal_amount": 800})
    row = h._row("Task_Approve_Settlement")
    log_in(h.app, h.client, *person_for(row))
    doc = page(h.client, f"/tasks/{row.id}", language)
    assert f"{money}800.00" in text_of(doc, "approval-amount")
    assert "退还全部服务费" in text_of(doc, "approval-proposal")
    assert f"{money}20,000.00" in text_of(doc, "approval-budget")  # the default monthly budget
    assert f"{money}19,200.00" in text_of(doc, "budget-left")
    h.complete("Task_Approve_Settlement", {"approval_decision": "approve"})
    paths.answer(h, "accept")
    log_in(h.app, h.client, "supervisor1", "customer_service", "supervisor")
    doc = page(h.client, f"/complaints/{paths.REF}", language)
    assert f"{money}800.00" in text_of(doc, "summary-booked")
    assert ("管理层已批准" if language == "zh-CN" else "approved by management") in text_of(doc, "summary-booked")
    assert text_of(doc, "summary-paid") == f"{money}800.00"
