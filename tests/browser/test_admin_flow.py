"""An administrator gives a new colleague an account and later takes it away, in Chromium:
the temporary password must be changed first, the person works a task, and deactivation ends
their open browser session and their API token at once."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from processes.complaints.registration import register
from processes.engine.actors import Actor
from processes.engine.models import HumanTask
from processes.engine.users import create_token
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser
COMPLAINT = {"channel": "web", "customer": {"name": "赵敏", "phone": "13600136001"}, "subject": "洗衣机漏水",
             "description": "新买的洗衣机第一次用就漏水。", "remedy_sought": "换货", "category": "product_quality",
             "severity": "medium"}
OWN_PASSWORD = "zhou-own-pass-8821"


def _waiting_in_product(live_server) -> str:
    """A complaint classified by customer service, now in the product department's queue."""
    runtime = live_server.runtime
    reference = register(runtime, COMPLAINT)
    with live_server.app.extensions["redress.db"].session() as s:
        classify = s.scalars(select(HumanTask).where(HumanTask.business_key == reference,
                                                     HumanTask.bpmn_id == "Task_Classify")).one()
    runtime.complete(classify.id, Actor("agent", "customer_service", "agent"),
                     {"category": "product_quality", "severity": "medium", "legitimacy": "justified",
                      "safety_issue": False})
    return reference


def _api_status(live_server, token: str) -> int:
    request = urllib.request.Request(live_server.url("/api/v1/tasks"), headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_admin_creates_an_account_and_deactivation_ends_its_session_and_token(live_server, new_page):
    reference = _waiting_in_product(live_server)

    admin = new_page("zh-CN")
    login(admin, live_server, "admin")
    admin.click("nav >> text=系统管理")
    admin.click("text=员工账号")
    admin.click("text=新建账号")
    admin.fill("#username", "product")  # taken: said next to the field, nothing typed lost
    admin.fill("#display_name", "周工")
    admin.select_option("#department", "product")
    admin.select_option("#role", "department_staff")
    admin.click("main form button[type=submit]")
    assert "已存在" in admin.locator("#username-error").inner_text()
    assert admin.input_value("#display_name") == "周工"
    admin.fill("#username", "zhou.product")
    admin.fill("#email", "zhou@example.com")
    screenshot(admin, "admin-01-new-account")
    admin.click("main form button[type=submit]")
    temporary = admin.locator("#temporary-password").inner_text()
    screenshot(admin, "admin-02-temporary-password")

    # The new colleague logs in with the temporary password and must choose their own first.
    person = new_page("zh-CN")
    login(person, live_server, "zhou.product", temporary)
    assert person.url.endswith("/account/")
    person.goto(live_server.url("/?scope=group"))
    assert person.url.endswith("/account/")  # nothing else opens until the password is changed
    person.fill("#current_password", temporary)
    person.fill("#new_password", "zhou.product1234")
    person.fill("#new_password_again", "zhou.product1234")
    person.click("form[action$='/account/password'] button")
    assert "用户名" in person.locator("#new_password-error").inner_text()  # the policy, next to the field
    person.fill("#current_password", temporary)
    person.fill("#new_password", OWN_PASSWORD)
    person.fill("#new_password_again", OWN_PASSWORD)
    screenshot(person, "admin-03-change-password")
    person.click("form[action$='/account/password'] button")
    person.wait_for_url(lambda url: "/account" not in url)

    # ... and works a task of the product department.
    person.goto(live_server.url("/?scope=group"))
    person.locator("tbody tr", has_text=reference).locator("form button").click()
    person.wait_for_selector("form.task-form")
    person.fill("#f-findings", "进水阀密封圈缺失")
    person.fill("#f-root_cause", "装配漏装")
    person.fill("#f-order_value", "2599")
    person.check("input[name=responsibility][value=company]")
    person.select_option("#f-warranty_status", "in_warranty")
    person.click("form.task-form button[value=complete]")
    person.wait_for_selector("#task-done")
    with live_server.app.extensions["redress.db"].write_session.begin() as s:
        token = create_token(s, "zhou.product", "crm")
    assert _api_status(live_server, token) == 200

    # The administrator deactivates the account: the open session and the token stop at once.
    admin.goto(live_server.url("/admin/users?q=zhou"))
    admin.click("text=zhou.product")
    admin.click("form[action$='/deactivate'] button")
    assert "已停用" in admin.locator(".alert-success").inner_text()
    screenshot(admin, "admin-04-deactivated")
    person.goto(live_server.url("/"))
    assert "/login" in person.url
    assert _api_status(live_server, token) == 401
    person.fill("#username", "zhou.product")
    person.fill("#password", OWN_PASSWORD)
    person.click("main form button[type=submit]")
    assert re.search("用户名或密码错误", person.locator(".alert-danger").inner_text())
