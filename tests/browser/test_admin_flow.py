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
from processes.engine.models import HumanTask, ProcessInstance
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
    api = person.goto(live_server.url("/api/v1/tasks"))  # nor the API from this browser session
    assert api.status == 403 and "临时密码" in api.json()["error"]
    person.goto(live_server.url("/account/"))
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


def _critical_complaint(live_server, phone: str) -> str:
    """A safety complaint (critical: cash compensation of half the order value, here 400)."""
    return register(live_server.runtime, {**COMPLAINT, "customer": {"name": "钱进", "phone": phone},
                                          "subject": f"电暖器冒烟 {phone}", "order_value": 800, "safety_issue": True})


def approve_the_change(new_page, live_server, change_url: str, shot: str) -> list[str]:
    """A compliance reviewer opens the proposed settings change, which changes one value, and approves
    it: the first numbered version. Returns the changed row as shown (setting, in force, proposed)."""
    reviewer = new_page("zh-CN")
    login(reviewer, live_server, "reviewer")
    reviewer.goto(change_url)
    rows = reviewer.locator("#changed-values tbody tr")
    assert rows.count() == 1
    shown = [c.strip() for c in rows.first.locator("th, td").all_inner_texts()]
    screenshot(reviewer, shot)
    reviewer.click("button[formaction$='/approve']")
    assert reviewer.locator("#approved-version").inner_text() == "1"
    return shown


def test_a_designer_lowers_the_threshold_and_a_reviewer_approves_exactly_that(live_server, new_page):
    earlier = _critical_complaint(live_server, "13700137001")
    designer = new_page("zh-CN")
    login(designer, live_server, "designer")
    designer.click("nav >> text=系统管理")
    designer.click("text=流程设置")
    designer.fill("#details_timeout", "7天")  # not ISO 8601: said next to the field, nothing stored
    designer.fill("#compensation_approval_threshold", "300")
    designer.fill("#note", "大额补偿须经管理层审批")
    designer.click("#settings-form button[type=submit]")
    assert "ISO 8601" in designer.locator("#details_timeout-error").inner_text()
    assert designer.input_value("#details_timeout") == "7天"
    assert designer.input_value("#compensation_approval_threshold") == "300"  # what was typed stays
    screenshot(designer, "admin-05-settings-bad-duration")
    designer.fill("#details_timeout", "P7D")
    designer.click("#settings-form button[type=submit]")
    designer.wait_for_selector("#changed-values")
    assert "须由您以外的人审核" in designer.content()

    assert approve_the_change(new_page, live_server, designer.url, "admin-06-settings-review") == [
        "补偿审批阈值", "500", "300"]

    later = _critical_complaint(live_server, "13700137002")
    with live_server.app.extensions["redress.db"].session() as s:
        versions = dict(s.execute(select(ProcessInstance.business_key, ProcessInstance.settings_version)
                                  .where(ProcessInstance.business_key.in_([earlier, later]))).all())
    assert versions == {earlier: None, later: 1}
    designer.goto(live_server.url("/admin/settings"))
    assert "现行为第 1 版" in designer.content()


def test_an_admin_chooses_the_sla_profile_and_only_later_complaints_follow_it(live_server, new_page):
    """The SLA profile is a reviewed setting: chosen in the list, approved by someone else; the complaint
    registered before keeps the profile, and the resolve deadline, it started with."""
    from processes.complaints.analytics_models import ComplaintFact

    earlier = _critical_complaint(live_server, "13700137011")
    admin = new_page("zh-CN")
    login(admin, live_server, "admin")
    admin.goto(live_server.url("/admin/settings"))
    admin.select_option("#sla_profile", "CBIRC")
    admin.fill("#note", "银行业务适用银保监时限")
    admin.click("#settings-form button[type=submit]")
    admin.wait_for_selector("#changed-values")
    assert approve_the_change(new_page, live_server, admin.url, "admin-07-sla-profile-review") == [
        "时限规则", "default:内部目标", "CBIRC:银行业保险业(中国)"]

    later = _critical_complaint(live_server, "13700137012")
    with live_server.app.extensions["redress.db"].session() as s:
        profiles = dict(s.execute(select(ComplaintFact.reference, ComplaintFact.sla_profile)
                                  .where(ComplaintFact.reference.in_([earlier, later]))).all())
    assert profiles == {earlier: "default", later: "CBIRC"}
    admin.goto(live_server.url("/admin/settings"))
    assert admin.locator("#sla_profile").input_value() == "CBIRC"
