"""The staff workspace used as people use it: Chromium, clicks, typed text, several departments."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from processes.engine.models import HumanTask
from tests.browser.conftest import login, logout, screenshot

pytestmark = pytest.mark.browser
WEB_COMPLAINTS = [
    {"channel": "web", "customer": {"name": "李娜", "phone": "13900139002"}, "subject": "快递延误一周",
     "description": "下单后一周仍未发货。", "remedy_sought": "尽快发货", "category": "logistics_delivery",
     "severity": "medium"},
    {"channel": "web", "customer": {"name": "王芳", "phone": "13700137003"}, "subject": "赠品未收到",
     "description": "销售顾问承诺赠送滤芯,收货后没有。", "remedy_sought": "补发赠品",
     "category": "sales_misrepresentation", "severity": "low"},
]


def complete_task(page) -> None:
    page.click("form.task-form button[value=complete]")
    page.wait_for_selector("#task-done")


def open_task_from_group_inbox(page, base: str, reference: str) -> None:
    """Find the complaint in the department's unassigned tasks and claim it with one click."""
    page.goto(base.url("/?scope=group"))
    row = page.locator("tbody tr", has_text=reference)
    row.locator("form button").click()  # a plain POST form: claiming needs no JavaScript
    page.wait_for_selector("form.task-form")


def test_phone_complaint_through_two_departments_to_the_customers_reply(live_server, new_page):
    # An agent takes the call and registers it in one form; the phone number warns of nothing yet.
    agent = new_page("zh-CN")
    login(agent, live_server, "agent")
    assert agent.locator("h1").inner_text() == "待办"
    screenshot(agent, "01-inbox")
    agent.click("nav >> text=电话登记")
    agent.fill("#in-customer_name", "李雷")
    agent.fill("#in-customer_phone", "13900139000")
    agent.fill("#in-subject", "空调不制冷")
    agent.fill("#in-description", "安装后第二天就不制冷了,师傅说是压缩机问题。")
    agent.fill("#in-remedy_sought", "上门维修")
    agent.fill("#in-product", "空调 X9")
    agent.set_input_files("#in-attachments", files=[{"name": "invoice.txt", "mimeType": "text/plain",
                                                     "buffer": "发票 SO-1".encode()}])
    screenshot(agent, "02-phone-intake")
    agent.click("form.intake-form button[type=submit]")
    agent.wait_for_url(re.compile(r"/complaints/TS-"))
    reference = re.search(r"TS-\d{8}-\w{5}", agent.url).group(0)
    assert reference in agent.locator(".alert-success").inner_text()
    assert "13900139000" in agent.locator(".customer-phone").inner_text()  # customer service sees it in clear
    assert "invoice.txt" in agent.locator("#attachments-heading + ul").inner_text()
    agent.wait_for_selector("#process-diagram[data-ready=true]")
    # The intake form was the registration: the complaint is already at classification (issue 12),
    # and the agent reads the tracking code to the customer.
    assert "Task_Classify" in agent.locator("#process-diagram").get_attribute("data-current")
    assert re.search(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", agent.locator(".alert-success").inner_text())
    assert agent.locator(".rd-diagram-frame .rd-diagram-toolbar button").count() == 5  # zoom, fit, 1:1, full screen
    assert agent.locator("#process-diagram .rd-diagram-loading").count() == 0  # the loading line is gone
    screenshot(agent, "03-complaint-file")

    # A second call from the same number warns while the agent types it (htmx) ...
    agent.click("nav >> text=电话登记")
    agent.wait_for_load_state("load")  # htmx (a deferred script) listens before the agent types
    agent.fill("#in-customer_phone", "13900139000")
    agent.wait_for_selector("#duplicates .alert-warning")
    assert reference in agent.locator("#duplicates").inner_text()
    screenshot(agent, "04-duplicate-warning")

    # ... and the complaint waits in customer service for its classification.
    open_task_from_group_inbox(agent, live_server, reference)
    agent.select_option("#f-category", "product_quality")
    agent.check("input[name=severity][value=medium]")
    agent.check("input[name=legitimacy][value=justified]")
    complete_task(agent)
    done = agent.locator(".next-tasks").inner_text()
    assert "调查处理(产品部)" in done and "产品部" in done
    screenshot(agent, "05-what-happens-next")
    logout(agent)

    # Product staff find it in their department's queue, claim it, and first forget required fields.
    product = new_page("zh-CN")
    login(product, live_server, "product")
    product.goto(live_server.url("/?scope=group"))
    assert reference in product.locator("tbody").inner_text()
    screenshot(product, "06-product-inbox")
    # Outside customer service a phone number finds nothing (it could unmask one by guessing) ...
    product.goto(live_server.url("/complaints/?q=13900139000"))
    assert reference not in product.locator("main").inner_text()
    # ... while the complaint's words do, with the contact masked.
    product.goto(live_server.url("/complaints/?q=不制冷"))
    assert reference in product.locator(".search-results").inner_text()
    assert "139****9000" in product.locator(".search-results").inner_text()
    screenshot(product, "06b-search-masked")
    open_task_from_group_inbox(product, live_server, reference)
    assert "李*" in product.locator(".customer").inner_text()  # other departments see masked data
    assert "139****9000" in product.locator(".customer-phone").inner_text()
    product.fill("#f-findings", "压缩机启动电容损坏")
    product.fill("#f-order_value", "abc")
    complete_task_expecting_errors = product.click
    complete_task_expecting_errors("form.task-form button[value=complete]")
    product.wait_for_selector("#form-errors")
    assert product.input_value("#f-findings") == "压缩机启动电容损坏"  # nothing typed is lost
    assert product.locator("#f-root_cause-error").inner_text() == "此项为必填项。"
    assert product.locator("#f-order_value-error").is_visible()
    screenshot(product, "07-validation-errors")

    # Draft, then switch to English: the form labels and the task name follow.
    product.fill("#f-root_cause", "电容批次质量问题")
    product.click("form.task-form button[value=draft]")
    product.wait_for_selector(".alert-info")
    product.select_option("#locale-select", "en")
    product.click("nav form[action$='/language'] button")
    product.wait_for_selector("html[lang=en]")
    assert product.locator("h1").inner_text() == "Investigate (Product)"
    assert product.locator("label[for=f-root_cause]").inner_text().startswith("Root cause")
    assert product.input_value("#f-root_cause") == "电容批次质量问题"  # the draft came back
    product.fill("#f-order_value", "2999")
    product.check("input[name=responsibility][value=customer]")
    product.select_option("#f-warranty_status", "out_of_warranty")
    screenshot(product, "08-task-form-english")
    complete_task(product)
    assert "What happens next" in product.content()
    assert "Supervisor confirms strategy" in product.locator(".next-tasks").inner_text()
    logout(product)

    # The customer-service supervisor confirms the strategy; the agent writes the answer.
    lead = new_page("en")
    login(lead, live_server, "cs_lead")
    open_task_from_group_inbox(lead, live_server, reference)
    complete_task(lead)
    logout(lead)
    login(agent, live_server, "agent")
    open_task_from_group_inbox(agent, live_server, reference)
    agent.select_option("#f-remedy", "paid_service")
    agent.fill("#f-answer", "已过保修期,可提供付费维修,费用八折。")
    complete_task(agent)
    assert agent.locator(".next-tasks").count() == 0  # now the customer has to answer

    # The customer accepts (through the portal; here straight to the process), and the file shows it.
    live_server.runtime.correlate(reference, "customer_response", {"customer_decision": "accept", "comment": "好的"})
    agent.goto(live_server.url(f"/complaints/{reference}"))
    timeline = agent.locator(".timeline").inner_text()
    assert "客户已答复" in timeline
    assert agent.locator("h1 + .badge").inner_text() in ("跟踪回访", "Follow-up")
    screenshot(agent, "09-complaint-after-reply")
    agent.click("nav >> text=通知")
    screenshot(agent, "09b-notifications")


def test_supervisor_filters_breached_tasks(live_server, new_page):
    from processes.complaints.registration import register

    references = [register(live_server.runtime, payload) for payload in WEB_COMPLAINTS]
    late = references[0]
    with live_server.app.extensions["redress.db"].write_session.begin() as s:
        now = datetime.now(UTC)
        s.execute(update(HumanTask).where(HumanTask.business_key == late)
                  .values(created_at=now - timedelta(days=2), due_at=now - timedelta(hours=3)))
    lead = new_page("zh-CN")
    login(lead, live_server, "cs_lead")
    lead.goto(live_server.url("/?scope=all"))
    assert late in lead.locator("tbody").inner_text() and references[1] in lead.locator("tbody").inner_text()
    lead.select_option("#filter-sla", "breached")
    lead.click("form[aria-label] button[type=submit]")
    lead.wait_for_url(re.compile(r"sla=breached"))
    rows = lead.locator("tbody tr")
    assert rows.count() == 1 and late in rows.inner_text()
    assert "已超时" in rows.inner_text() and "超时" in rows.locator(".sla-breached").inner_text()
    screenshot(lead, "10-supervisor-breached-filter")
    lead.click("nav >> text=概览")
    assert lead.locator(".open-work .sla-breached").inner_text() == "1"
    screenshot(lead, "10b-overview")


def test_another_department_cannot_open_the_task(live_server, new_page):
    from processes.complaints.registration import register

    reference = register(live_server.runtime, WEB_COMPLAINTS[0])
    with live_server.app.extensions["redress.db"].session() as s:
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.business_key == reference))
    tech = new_page("zh-CN")
    login(tech, live_server, "tech")
    response = tech.goto(live_server.url(f"/tasks/{task_id}"))
    assert response.status == 403
    assert tech.locator("h1").inner_text() == "无权访问"
    assert "Traceback" not in tech.content()
    screenshot(tech, "11-forbidden")
